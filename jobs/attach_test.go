package jobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"jobrun/logs"
)

// attacher is an engine whose container reads want from stdin, answers
// reply, and ends once it was resized (with a TTY) or at once.
type attacher struct {
	want, reply string
	mu          sync.Mutex
	opts        client.ContainerAttachOptions
	resizes     []client.ContainerResizeOptions
	failResize  int           // resizes refused first: the container is not running yet
	resized     chan struct{} // closed at the first resize that lands
	got         string        // what the container read
	read        chan struct{} // closed once it read it
}

func (a *attacher) ContainerAttach(_ context.Context, _ string, o client.ContainerAttachOptions) (client.ContainerAttachResult, error) {
	a.opts = o
	ours, theirs := net.Pipe()
	go func() {
		defer theirs.Close()
		buf := make([]byte, len(a.want))
		_, _ = io.ReadFull(theirs, buf)
		a.got = string(buf)
		close(a.read)
		if o.Stdout {
			_, _ = theirs.Write([]byte(a.reply))
			<-a.resized
		}
	}()
	return client.ContainerAttachResult{HijackedResponse: client.NewHijackedResponse(ours, "")}, nil
}

func (a *attacher) ContainerResize(_ context.Context, _ string, o client.ContainerResizeOptions) (client.ContainerResizeResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failResize > 0 {
		a.failResize--
		return client.ContainerResizeResult{}, errors.New("container is not running")
	}
	a.resizes = append(a.resizes, o)
	if len(a.resizes) == 1 {
		close(a.resized)
	}
	return client.ContainerResizeResult{}, nil
}

// source is a log source that follows until the container is done, and
// says it was asked to.
type source struct {
	followed bool
	done     <-chan struct{}
}

func (s *source) Follow(context.Context, logs.Task, <-chan struct{}, io.Writer, io.Writer) error {
	s.followed = true
	<-s.done
	return nil
}
func (s *source) Name() string              { return "engine" }
func (s *source) Location(logs.Task) string { return "" }

func now0(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func TestAttachWithTTY(t *testing.T) {
	e := &attacher{want: "echo hi\r", reply: "hi\r\n", failResize: 2, resized: make(chan struct{}), read: make(chan struct{})}
	var screen bytes.Buffer
	raw, restored := false, false
	a := &AttachSource{Source: &source{}, Engine: e, In: bytes.NewReader([]byte("echo hi\r")), After: now0, Terminal: &Terminal{
		Out:     &screen,
		Raw:     func() func() { raw = true; return func() { restored = true } },
		Size:    func() (uint, uint, bool) { return 30, 100, true },
		Resized: func(context.Context) <-chan struct{} { return nil },
	}}
	var kept bytes.Buffer
	if err := a.Follow(context.Background(), logs.Task{ContainerID: "c1"}, nil, &kept, &kept); err != nil {
		t.Fatal(err)
	}
	<-e.read
	e.mu.Lock() // a resize may still be under way
	defer e.mu.Unlock()
	o := e.opts
	switch {
	case !o.Stream || !o.Stdin || !o.Stdout || !o.Stderr || !o.Logs:
		t.Errorf("attach options %+v: want stdin, output and the output so far", o)
	case e.got != "echo hi\r":
		t.Errorf("the container read %q", e.got)
	case screen.String() != "hi\r\n" || kept.Len() != 0:
		t.Errorf("screen %q, kept %q: the output goes to the terminal only", screen.String(), kept.String())
	case !raw || !restored:
		t.Errorf("raw %t, restored %t", raw, restored)
	case len(e.resizes) == 0 || e.resizes[0] != (client.ContainerResizeOptions{Height: 30, Width: 100}):
		t.Errorf("resizes %+v, want the terminal's 30x100 once the container runs", e.resizes)
	}
}

func TestAttachStdinOnly(t *testing.T) {
	e := &attacher{want: "select 1;\n", resized: make(chan struct{}), read: make(chan struct{})}
	src := &source{done: e.read}
	a := &AttachSource{Source: src, Engine: e, In: bytes.NewReader([]byte("select 1;\n")), After: now0}
	if err := a.Follow(context.Background(), logs.Task{ContainerID: "c1"}, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if o := e.opts; !o.Stdin || o.Stdout || o.Stderr || o.Logs {
		t.Errorf("attach options %+v: want stdin alone", o)
	}
	if !src.followed {
		t.Error("the output did not come from the job's log source")
	}
	<-e.read // the container reads the input while the output is followed
	if e.got != "select 1;\n" {
		t.Errorf("the container read %q", e.got)
	}
}
