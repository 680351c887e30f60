package logs

import (
	"bytes"
	"context"
	"hash/maphash"
	"io"
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
}

// orderKey is a line of a stream, by its content.
type orderKey struct {
	stream int
	line   uint64
}

func newWriteOrder() *writeOrder {
	return &writeOrder{seed: maphash.MakeSeed(), hints: map[orderKey][][]byte{}}
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
			key := orderKey{stream, maphash.Bytes(o.seed, line)}
			o.hints[key] = append(o.hints[key], bytes.Clone(pending))
			o.hinted[other] = len(o.tail[other])
		}
		o.tail[stream], o.hinted[stream], o.whole[stream] = o.tail[stream][:0], 0, true
		p = p[i+1:]
	}
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
