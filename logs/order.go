package logs

import (
	"bytes"
	"context"
	"hash/maphash"
	"io"
	"slices"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Attacher is the engine call that reads a container's output as it writes
// it, and the one that says which node the engine is.
type Attacher interface {
	ContainerAttach(ctx context.Context, container string, options client.ContainerAttachOptions) (client.ContainerAttachResult, error)
	NodeID(ctx context.Context) (string, error)
}

// maxFragment bounds the unended line kept of a stream: the engine cuts a
// line at 16 KiB itself.
const maxFragment = 16 << 10

// What of the hints is kept for later reads (Hints): the run record holds
// them, so a few lines' worth.
const (
	maxKeptHints     = 16
	maxKeptHintBytes = 16 << 10
)

// Hint says that the job wrote Before, an unended line of the other
// stream, before Line of Stream (0 stdout, 1 stderr). A read of the
// attempt's CloudWatch stream after the run has only these to put Before
// where the job wrote it.
type Hint struct {
	Stream int    `json:"stream"`
	Line   string `json:"line"`
	Before string `json:"before"`
}

// writeOrder learns, from a container's own output stream, which unended
// line of one stream the job wrote before a line of the other.
//
// The engine's log copier holds a line until its newline and stamps it
// then (moby daemon/logger/copier.go); a line that never ends — Django's
// "  Applying todo.0003_…..." of the migration that fails — is stamped
// when the stream closes, at the job's exit, after the traceback it
// caused. Attached to the container, the bytes come as written: when a
// line of one stream ends while the other holds an unended one, that
// fragment was written first.
type writeOrder struct {
	mu     sync.Mutex
	seed   maphash.Seed
	tail   [2][]byte // bytes since the stream's last newline
	hinted [2]int    // how much of tail a hint carries already
	// whole: the stream's tail starts where its line starts. The attach
	// connects while the job runs, so a stream's first tail may be the end
	// of a line only: written early, it would be said again with its line.
	whole [2]bool
	hints map[orderKey][][]byte
	kept  []Hint // the first hints, bounded, for later reads
	bytes int    // of kept
}

// orderKey is a line of a stream, by its content.
type orderKey struct {
	stream int
	line   uint64
}

func newWriteOrder() *writeOrder {
	return &writeOrder{seed: maphash.MakeSeed(), hints: map[orderKey][][]byte{}}
}

// startOrder starts learning the write order of t's container when a can
// attach to it: only the engine of the node it runs on can, and a TTY
// job's single stream keeps its order. Nil when there is no one to ask.
func startOrder(ctx context.Context, a Attacher, t Task) *writeOrder {
	if a == nil || t.ContainerID == "" || t.TTY {
		return nil
	}
	o := newWriteOrder()
	go func() {
		if node, err := a.NodeID(ctx); err == nil && node == t.NodeID {
			o.attach(ctx, a, t.ContainerID)
		}
	}()
	return o
}

// orderOf is the write order hints kept from an earlier read tell; nil if none.
func orderOf(hints []Hint) *writeOrder {
	if len(hints) == 0 {
		return nil
	}
	o := newWriteOrder()
	for _, h := range hints {
		o.hint(h.Stream, []byte(h.Line), []byte(h.Before))
	}
	return o
}

// attach reads the container's stream into o until it ends or ctx does.
// It reports nothing: without it the output is merged by the stamps alone.
func (o *writeOrder) attach(ctx context.Context, a Attacher, containerID string) {
	resp, err := a.ContainerAttach(ctx, containerID, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return
	}
	defer resp.Close()
	go func() {
		<-ctx.Done()
		resp.Close() // unblocks the read below
	}()
	_, _ = stdcopy.StdCopy(o.writer(0), o.writer(1), resp.Reader)
}

func (o *writeOrder) writer(stream int) io.Writer {
	return writeFunc(func(p []byte) (int, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.write(stream, p)
		return len(p), nil
	})
}

type writeFunc func([]byte) (int, error)

func (f writeFunc) Write(p []byte) (int, error) { return f(p) }

func (o *writeOrder) write(stream int, p []byte) {
	other := 1 - stream
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			o.tail[stream] = append(o.tail[stream], p[:min(len(p), max(maxFragment-len(o.tail[stream]), 0))]...)
			return
		}
		line := append(o.tail[stream], p[:i+1]...)
		if pending := o.tail[other][o.hinted[other]:]; len(pending) > 0 && o.whole[other] {
			o.hint(stream, line, bytes.Clone(pending))
			o.keep(stream, line, pending)
			o.hinted[other] = len(o.tail[other])
		}
		o.tail[stream], o.hinted[stream], o.whole[stream] = o.tail[stream][:0], 0, true
		p = p[i+1:]
	}
}

// hint notes that frag was written before line of stream.
func (o *writeOrder) hint(stream int, line, frag []byte) {
	key := orderKey{stream, maphash.Bytes(o.seed, line)}
	o.hints[key] = append(o.hints[key], frag)
}

// keep keeps a hint for later reads while the bounds allow: past them the
// order still holds live, and a later read writes the rest by the stamps.
func (o *writeOrder) keep(stream int, line, frag []byte) {
	size := len(line) + len(frag)
	if len(o.kept) == maxKeptHints || o.bytes+size > maxKeptHintBytes {
		return
	}
	o.kept = append(o.kept, Hint{Stream: stream, Line: string(line), Before: string(frag)})
	o.bytes += size
}

// keptHints are the hints kept so far; nil for a nil order.
func (o *writeOrder) keptHints() []Hint {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.kept)
}

// before is the fragment of the other stream the job wrote before line of
// stream, once: false when it wrote none, or when the attached stream has
// not shown the line (yet).
func (o *writeOrder) before(stream int, line []byte) ([]byte, bool) {
	if o == nil {
		return nil, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	key := orderKey{stream, maphash.Bytes(o.seed, line)}
	frags := o.hints[key]
	if len(frags) == 0 {
		return nil, false
	}
	if len(frags) == 1 {
		delete(o.hints, key)
	} else {
		o.hints[key] = frags[1:]
	}
	return frags[0], true
}

// beforeAny is before for a line whose stream is not known (a CloudWatch
// event's): the fragment, and the stream it is of.
func (o *writeOrder) beforeAny(line []byte) (frag []byte, stream int, ok bool) {
	for _, s := range [...]int{stderrStream, stdoutStream} {
		if frag, ok := o.before(s, line); ok {
			return frag, 1 - s, true
		}
	}
	return nil, 0, false
}

// stripEarly takes off line what of it was written early: rest is what is
// left to write, left what of early is still to come (line was a piece of
// a line the engine cut). ok is false when line is not the early one's.
func stripEarly(early, line []byte) (rest, left []byte, ok bool) {
	switch {
	case bytes.HasPrefix(line, early):
		return line[len(early):], nil, true
	case bytes.HasPrefix(early, line):
		return nil, early[len(line):], true
	}
	return line, early, false
}
