package logs

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// step is one thing that happens to a merger: a line arrives at a time of a
// fake clock, or a new read starts.
type step struct {
	read   bool          // a new read starts: it may return lines again
	at     time.Duration // when the line arrives
	stream int
	stamp  int64 // the engine's stamp, in ms
	data   string
}

func o(at time.Duration, stamp int64, data string) step {
	return step{at: at, stream: stdoutStream, stamp: stamp, data: data}
}

func e(at time.Duration, stamp int64, data string) step {
	return step{at: at, stream: stderrStream, stamp: stamp, data: data}
}

var newRead = step{read: true}

// transcript records writes to several streams in the order they happen,
// one "stream:line" a write.
type transcript struct{ b strings.Builder }

func (t *transcript) stream(n int) io.Writer {
	return writeFunc(func(p []byte) (int, error) {
		fmt.Fprintf(&t.b, "%d:%s|", n, p)
		return len(p), nil
	})
}

var clock0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// play feeds the steps to a merger with a 100 ms window, emitting after each
// at its time and, between them, when a held line is due, as Follow's timer
// does; it returns what was written by the last step, and after a flush.
func play(t *testing.T, streams int, steps []step) (live, all string) {
	t.Helper()
	var tr transcript
	out := []io.Writer{tr.stream(0), tr.stream(1)}[:streams]
	m := newMerger(100*time.Millisecond, out...)
	now := clock0
	for _, s := range steps {
		if s.read {
			m.replaying()
			continue
		}
		for d, ok := m.wait(now); ok && now.Add(d).Before(clock0.Add(s.at)); d, ok = m.wait(now) {
			now = now.Add(d)
			if err := m.emit(now, emitLive); err != nil {
				t.Fatal(err)
			}
		}
		now = clock0.Add(s.at)
		m.add(entry{stream: s.stream, stamp: s.stamp * 1e6, data: []byte(s.data)}, now)
		if err := m.emit(now, emitLive); err != nil {
			t.Fatal(err)
		}
	}
	live = tr.b.String()
	if err := m.emit(now, emitAll); err != nil {
		t.Fatal(err)
	}
	return live, tr.b.String()
}

func TestMergerOrder(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		streams   int
		steps     []step
		wantLive  string // written by the last step's time
		wantFinal string // after the flush
	}{
		{"a later stamp on the other stream releases the lines before it", 2,
			[]step{e(0, 3, "E1\n"), o(ms, 1, "A1\n"), o(ms, 2, "A2\n")},
			"0:A1\n|0:A2\n|", "0:A1\n|0:A2\n|1:E1\n|"},
		{"a line waits for the other stream at most the window", 2,
			[]step{e(0, 3, "E1\n"), o(150*ms, 9, "A1\n")},
			"1:E1\n|", "1:E1\n|0:A1\n|"},
		{"a line stamped before one already written goes when it comes", 2,
			[]step{e(0, 3, "E1\n"), o(150*ms, 1, "A1\n"), o(150*ms, 4, "A2\n")},
			"1:E1\n|0:A1\n|", "1:E1\n|0:A1\n|0:A2\n|"},
		{"equal stamps keep arrival order", 2,
			[]step{o(0, 5, "A1\n"), e(0, 5, "E1\n"), e(ms, 5, "E2\n"), o(ms, 6, "A2\n"), e(ms, 7, "E3\n")},
			"0:A1\n|1:E1\n|1:E2\n|0:A2\n|", "0:A1\n|1:E1\n|1:E2\n|0:A2\n|1:E3\n|"},
		{"the pieces of a cut line stay together before the other stream's later lines", 2,
			[]step{o(0, 1, "xxx"), e(ms, 2, "E1\n"), o(2*ms, 1, "yyy"), o(3*ms, 1, "z\n"), o(4*ms, 3, "A2\n")},
			"0:xxx|0:yyy|0:z\n|1:E1\n|", "0:xxx|0:yyy|0:z\n|1:E1\n|0:A2\n|"},
		{"the flush writes what is held in stamp order", 2,
			[]step{e(0, 1, "E1\n"), o(0, 4, "A2\n"), o(0, 5, "A3\n"), e(ms, 6, "E2\n"), e(ms, 9, "E3\n"), o(2*ms, 7, "A4\n"), o(2*ms, 8, "A5\n")},
			"1:E1\n|0:A2\n|0:A3\n|1:E2\n|0:A4\n|0:A5\n|", "1:E1\n|0:A2\n|0:A3\n|1:E2\n|0:A4\n|0:A5\n|1:E3\n|"},
		{"the flush writes all in stamp order", 2,
			[]step{o(0, 4, "A2\n"), o(0, 5, "A3\n"), o(0, 7, "A4\n")},
			"", "0:A2\n|0:A3\n|0:A4\n|"},
		{"one stream (TTY) never waits", 1,
			[]step{o(0, 2, "A1\r\n"), o(0, 1, "A0\r\n"), o(0, 3, "A2\r\n")},
			"0:A1\r\n|0:A2\r\n|", "0:A1\r\n|0:A2\r\n|"},
		{"a line without newline is written as it is", 2,
			[]step{o(0, 1, "A1\n"), e(0, 2, "no newline"), o(ms, 3, "A2")},
			"0:A1\n|1:no newline|", "0:A1\n|1:no newline|0:A2|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live, all := play(t, tt.streams, tt.steps)
			if live != tt.wantLive {
				t.Errorf("written live:\n got %q\nwant %q", live, tt.wantLive)
			}
			if all != tt.wantFinal {
				t.Errorf("written in all:\n got %q\nwant %q", all, tt.wantFinal)
			}
		})
	}
}

func TestMergerDedup(t *testing.T) {
	ms, s := time.Millisecond, time.Second
	tests := []struct {
		name  string
		steps []step
		want  string // after the flush
	}{
		{"a resumed read's overlap is dropped",
			[]step{o(0, 1, "A1\n"), o(0, 2, "A2\n"), e(0, 3, "E1\n"), newRead, o(s, 2, "A2\n"), e(s, 3, "E1\n"), o(s, 4, "A3\n")},
			"0:A1\n|0:A2\n|1:E1\n|0:A3\n|"},
		{"the whole log again inside one read is dropped",
			[]step{o(0, 1, "A1\n"), e(0, 2, "E1\n"), o(0, 3, "A2\n"), o(5*s, 1, "A1\n"), e(5*s, 2, "E1\n"), o(5*s, 3, "A2\n"), o(5*s, 4, "A3\n")},
			"0:A1\n|1:E1\n|0:A2\n|0:A3\n|"},
		{"the whole log again, starting with a stream's only line",
			[]step{e(0, 1, "E1\n"), o(0, 2, "A1\n"), e(5*s, 1, "E1\n"), o(5*s, 2, "A1\n"), o(5*s, 3, "A2\n")},
			"1:E1\n|0:A1\n|0:A2\n|"},
		{"the same line with the same stamp at once is two lines (a coarse clock)",
			[]step{e(0, 1, "x\n"), e(ms, 1, "x\n"), o(ms, 2, "A1\n")},
			"1:x\n|1:x\n|0:A1\n|"},
		{"a cut line replayed from its first piece, then continued",
			[]step{o(0, 1, "p1"), o(0, 1, "p2"), newRead, o(s, 1, "p1"), o(s, 1, "p2"), o(s, 1, "p3\n"), o(s, 2, "A2\n")},
			"0:p1|0:p2|0:p3\n|0:A2\n|"},
		{"a cut line replayed from a middle piece (a newer engine's since)",
			[]step{o(0, 1, "p1"), o(0, 1, "p2"), o(0, 1, "p3"), newRead, o(s, 1, "p2"), o(s, 1, "p3"), o(s, 1, "p4\n")},
			"0:p1|0:p2|0:p3|0:p4\n|"},
		{"identical pieces continue their line",
			[]step{o(0, 1, "xx"), o(2*s, 1, "xx"), o(4*s, 1, "xx"), o(4*s, 1, "\n")},
			"0:xx|0:xx|0:xx|0:\n|"},
		{"identical pieces replayed, then continued",
			[]step{o(0, 1, "xx"), o(0, 1, "xx"), newRead, o(s, 1, "xx"), o(s, 1, "xx"), o(s, 1, "xx"), o(s, 1, "\n")},
			"0:xx|0:xx|0:xx|0:\n|"},
		{"a line stamped before its stream's newest was sent before",
			[]step{o(0, 5, "A5\n"), e(0, 6, "E1\n"), o(ms, 4, "A4\n"), o(ms, 7, "A7\n")},
			"0:A5\n|1:E1\n|0:A7\n|"},
		{"a replay that ends early leaves later new lines alone",
			[]step{o(0, 1, "A1\n"), e(0, 2, "E1\n"), newRead, o(s, 3, "A3\n"), e(s, 4, "E2\n")},
			"0:A1\n|1:E1\n|0:A3\n|1:E2\n|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, all := play(t, 2, tt.steps); all != tt.want {
				t.Errorf("written:\n got %q\nwant %q", all, tt.want)
			}
		})
	}
}

func TestMergerSince(t *testing.T) {
	tests := []struct {
		name   string
		steps  []step // stamps in ms
		want   int64  // ms
		wantOK bool
	}{
		{"nothing received: from the start", nil, 0, false},
		{"both streams recent: the older newest stamp", []step{o(0, 10000, "A\n"), e(0, 10500, "E\n")}, 10000, true},
		{"the other stream long quiet: a second before the newest", []step{e(0, 1000, "E\n"), o(0, 10000, "A\n")}, 9000, true},
		{"one stream never seen: a second before the newest", []step{o(0, 10000, "A\n")}, 9000, true},
		{"a line still open: its first piece's stamp", []step{o(0, 2000, "piece"), e(0, 10000, "E\n")}, 2000, true},
		{"the last line received was an old one again", []step{o(0, 10000, "A\n"), e(0, 10000, "E\n"), o(0, 3000, "A0\n")}, 3000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMerger(0, io.Discard, io.Discard)
			for _, s := range tt.steps {
				m.add(entry{stream: s.stream, stamp: s.stamp * 1e6, data: []byte(s.data)}, clock0)
			}
			got, ok := m.since()
			if ok != tt.wantOK || got != tt.want*1e6 {
				t.Errorf("since = %d ms, %v; want %d ms, %v", got/1e6, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMergerHeldCap(t *testing.T) {
	var tr transcript
	m := newMerger(time.Hour, tr.stream(0), tr.stream(1))
	big := strings.Repeat("x", maxHeld/2) + "\n"
	for i := range 3 {
		m.add(entry{stream: stdoutStream, stamp: int64(i), data: []byte(big)}, clock0)
	}
	if err := m.emit(clock0, emitLive); err != nil {
		t.Fatal(err)
	}
	if m.held > maxHeld {
		t.Errorf("%d bytes held after emit, want at most %d", m.held, maxHeld)
	}
	if got, want := tr.b.String(), "0:"+big+"|0:"+big+"|"; got != want {
		t.Errorf("written: %s; want the oldest two, until at most %d bytes are held", describeDiff(got, want), maxHeld)
	}
}

// TestMergerSettledOnly: a final read writes only what nothing can go
// before, however long it was held.
func TestMergerSettledOnly(t *testing.T) {
	var tr transcript
	m := newMerger(100*time.Millisecond, tr.stream(0), tr.stream(1))
	m.add(entry{stream: stderrStream, stamp: 3, data: []byte("E1\n")}, clock0)
	later := clock0.Add(time.Hour)
	if err := m.emit(later, emitSettled); err != nil || tr.b.String() != "" {
		t.Errorf("emit = %v, wrote %q; want nothing written yet", err, tr.b.String())
	}
	m.add(entry{stream: stdoutStream, stamp: 1, data: []byte("A1\n")}, later)
	if err := m.emit(later, emitSettled); err != nil || tr.b.String() != "0:A1\n|" {
		t.Errorf("emit = %v, wrote %q; want A1", err, tr.b.String())
	}
}

func TestMergerWait(t *testing.T) {
	m := newMerger(100*time.Millisecond, io.Discard, io.Discard)
	if _, ok := m.wait(clock0); ok {
		t.Error("wait reports a line with none held")
	}
	m.add(entry{stream: stderrStream, stamp: 1, data: []byte("E\n")}, clock0)
	if d, ok := m.wait(clock0.Add(30 * time.Millisecond)); !ok || d != 70*time.Millisecond {
		t.Errorf("wait = %s, %v; want 70ms, true", d, ok)
	}
}

func TestMergerWriteError(t *testing.T) {
	broken := writeFunc(func([]byte) (int, error) { return 0, io.ErrClosedPipe })
	m := newMerger(0, broken, io.Discard)
	m.add(entry{stream: stdoutStream, stamp: 1, data: []byte("A\n")}, clock0)
	err := m.emit(clock0, emitAll)
	var werr *writeError
	if !errors.As(err, &werr) || !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("emit = %v, want a writeError wrapping %v", err, io.ErrClosedPipe)
	}
}
