package logs

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"time"
)

// How a task's log is put back together from one read or several.
//
// The engine stamps a line when its copier reads it, one copier a stream, so
// on one stream stamps never go back: a new line gets a later stamp, and the
// pieces of a cut line share the stamp of the first. The API may return the
// two streams in another order than their stamps, and any read may return
// again, from a since or from the start, what an earlier one returned.
//
// The merger keeps, a stream, the newest stamp it received and the hashes of
// what came with that stamp (one line, or the pieces of a cut one), so:
//   - a line stamped before its stream's newest was received already: dropped;
//   - a line with the newest stamp is matched against those hashes, in
//     order, while a read is replaying; after that it is new;
//   - a line with a later stamp is new;
//   - the first line of the newest stamp again, with no read replaying and
//     over resendGap after the stream's last line: the engine started over.
//
// It remembers no more than the hashes of one stamp a stream, and the lines
// held. It assumes the worker's wall clock does not step back while the job
// runs: a line stamped before its stream's newest is taken as sent again.
//
// New lines wait in a queue per stream and leave in stamp order (ties in
// arrival order): at once when the other stream has received a line stamped
// at or after them (nothing it sends later can go before), else once they
// have waited the window, or when the merger is flushed.
type merger struct {
	out     []io.Writer // a stream each
	window  time.Duration
	seed    maphash.Seed
	streams []streamState
	seq     uint64

	arrived     bool
	lastArrival int64 // stamp of the last line received, dropped or not
	held        int   // bytes waiting in the queues

	// order, when set, knows which unended line of one stream the job wrote
	// before a line of the other; early is what of a stream's unended line
	// was written before its line came (its next line starts with it).
	order *writeOrder
	early [][]byte
}

// streamState is what the merger knows of one stream.
type streamState struct {
	seen   bool
	last   int64    // newest stamp received
	group  []uint64 // hashes of what came with stamp last, in order
	open   bool     // the newest line kept has no newline yet: more pieces will come
	lastAt time.Time
	// replay is where in group a read that went back may continue, or -1
	// while the stream's lines are new.
	replay int
	queue  []queued
	head   int
}

type queued struct {
	entry
	seq uint64
	at  time.Time
}

const (
	// defaultWindow is how long a line waits for a line of the other stream
	// stamped before it.
	defaultWindow = 150 * time.Millisecond
	// maxHeld bounds the bytes waiting; past it the oldest line leaves.
	maxHeld = 8 << 20
	// resendGap: the same line with the same stamp again, this long after
	// the stream's newest line, is the engine sending the log again (a
	// worker's dockerd came back), not the same line twice in one tick of a
	// coarse clock.
	resendGap = time.Second
	// stampSkew covers one stream's line stamped before the other's but
	// logged after it: a read resumes this far before the newest stamp.
	stampSkew = time.Second
)

func newMerger(window time.Duration, out ...io.Writer) *merger {
	if window <= 0 {
		window = defaultWindow
	}
	m := &merger{out: out, window: window, seed: maphash.MakeSeed(), streams: make([]streamState, len(out)), early: make([][]byte, len(out))}
	for i := range m.streams {
		m.streams[i].replay = -1
	}
	return m
}

// replaying says a new read starts: what it returns first may have been
// received already.
func (m *merger) replaying() {
	for i := range m.streams {
		m.streams[i].replay = 0
	}
}

// add takes a line as it arrives. It reports whether the line was new.
func (m *merger) add(e entry, now time.Time) bool {
	m.arrived, m.lastArrival = true, e.stamp
	s := &m.streams[e.stream]
	h := maphash.Bytes(m.seed, e.data)
	switch {
	case !s.seen || e.stamp > s.last:
		s.seen, s.last, s.group, s.replay = true, e.stamp, append(s.group[:0], h), -1
	case e.stamp < s.last:
		if s.replay < 0 {
			m.replaying() // the engine went back, on every stream
		}
		s.replay = 0 // this stream's newest group comes again from its start
		return false
	case s.replay >= 0:
		if j := slices.Index(s.group[s.replay:], h); j >= 0 {
			s.replay += j + 1
			return false
		}
		s.replay = -1
		s.group = append(s.group, h)
	case h == s.group[0] && !(s.open && h == s.group[len(s.group)-1]) && now.Sub(s.lastAt) >= resendGap:
		// The first line of the stream's newest group again: the engine
		// started over from a line the other stream has no older one before.
		m.replaying()
		s.replay = 1
		return false
	default:
		s.group = append(s.group, h)
	}
	s.open = !bytes.HasSuffix(e.data, []byte{'\n'})
	s.lastAt = now
	m.seq++
	s.queue = append(s.queue, queued{entry: e, seq: m.seq, at: now})
	m.held += len(e.data)
	return true
}

// emitMode says which held lines may leave.
type emitMode int

const (
	emitLive    emitMode = iota // settled ones, and those held the window
	emitSettled                 // settled ones only: a read that ends soon
	emitAll                     // all: nothing more will come
)

// emit writes the lines that may leave now.
func (m *merger) emit(now time.Time, how emitMode) error {
	for {
		i := m.oldest()
		if i < 0 {
			return nil
		}
		s := &m.streams[i]
		q := s.queue[s.head]
		if how != emitAll && m.held <= maxHeld && !m.settled(i, q.stamp) && (how == emitSettled || now.Sub(q.at) < m.window) {
			return nil
		}
		s.queue[s.head] = queued{}
		if s.head++; s.head == len(s.queue) {
			s.queue, s.head = s.queue[:0], 0
		}
		m.held -= len(q.data)
		if err := m.write(i, q.data); err != nil {
			return err
		}
	}
}

// write writes a line of stream i, after the other stream's unended line
// if the job wrote that first, and without what of it was written early.
func (m *merger) write(i int, line []byte) error {
	if frag, ok := m.order.before(i, line); ok && len(m.out) == 2 {
		j := 1 - i
		if _, err := m.out[j].Write(frag); err != nil {
			return &writeError{err}
		}
		m.early[j] = append(m.early[j], frag...)
	}
	if early := m.early[i]; len(early) > 0 {
		var ok bool
		if line, m.early[i], ok = stripEarly(early, line); !ok {
			m.early[i] = nil // not the line written early after all: say it whole
		}
	}
	if len(line) == 0 {
		return nil
	}
	if _, err := m.out[i].Write(line); err != nil {
		return &writeError{err}
	}
	return nil
}

// oldest is the stream whose next line leaves first, or -1.
func (m *merger) oldest() int {
	best := -1
	for i := range m.streams {
		s := &m.streams[i]
		if s.head == len(s.queue) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		q, b := s.queue[s.head], m.streams[best].queue[m.streams[best].head]
		if q.stamp < b.stamp || q.stamp == b.stamp && q.seq < b.seq {
			best = i
		}
	}
	return best
}

// settled: every other stream received a line stamped at or after stamp, so
// none of its lines still to come goes before.
func (m *merger) settled(stream int, stamp int64) bool {
	for i := range m.streams {
		if i != stream && (!m.streams[i].seen || m.streams[i].last < stamp) {
			return false
		}
	}
	return true
}

// wait is how long until the next line leaves by the window; false if none waits.
func (m *merger) wait(now time.Time) (time.Duration, bool) {
	i := m.oldest()
	if i < 0 {
		return 0, false
	}
	s := &m.streams[i]
	return max(0, m.window-now.Sub(s.queue[s.head].at)), true
}

// since is where the next read must start (in nanoseconds since the epoch)
// to return every line not received yet; false: from the start. Lines still
// to come on a stream are stamped at or after its newest stamp, or exactly at
// it for the pieces of a line still open; the engine returns lines stamped at
// or after since (Engine 20.10), or every line it logged after the first of
// those (later engines).
func (m *merger) since() (int64, bool) {
	if !m.arrived {
		return 0, false
	}
	skewed := m.lastArrival - int64(stampSkew)
	since := m.lastArrival
	for _, s := range m.streams {
		switch {
		case !s.seen:
			since = min(since, skewed)
		case s.open:
			since = min(since, s.last)
		default:
			since = min(since, max(s.last, skewed))
		}
	}
	return since, true
}

// newest is the newest stamp received on any stream; zero if none.
func (m *merger) newest() time.Time {
	var newest time.Time
	for _, s := range m.streams {
		if t := time.Unix(0, s.last).UTC(); s.seen && t.After(newest) {
			newest = t
		}
	}
	return newest
}

// writeError is a failure to write the job's output: no read fixes it.
type writeError struct{ err error }

func (e *writeError) Error() string { return fmt.Sprintf("write output: %v", e.err) }
func (e *writeError) Unwrap() error { return e.err }
