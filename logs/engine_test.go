package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// fakeTaskLogger answers TaskLogs with its func field.
type fakeTaskLogger struct {
	taskLogs func(ctx context.Context, taskID string, o container.LogsOptions) (io.ReadCloser, error)
}

func (f fakeTaskLogger) TaskLogs(ctx context.Context, taskID string, o container.LogsOptions) (io.ReadCloser, error) {
	return f.taskLogs(ctx, taskID, o)
}

type frame struct {
	stream stdcopy.StdType
	data   string
}

// testFrames mix stdout and stderr, one frame larger than StdCopy's buffer.
var testFrames = []frame{
	{stdcopy.Stdout, "starting\n"},
	{stdcopy.Stderr, "warning: low disk\n"},
	{stdcopy.Stdout, "step 1\nstep 2\n"},
	{stdcopy.Stdout, strings.Repeat("x", 40000) + "\n"},
	{stdcopy.Stderr, "partial line without newline"},
	{stdcopy.Stderr, " continued\n"},
	{stdcopy.Stdout, "done\n"},
}

// multiplex encodes frames as the engine's logs API sends them.
func multiplex(t *testing.T, frames []frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, f := range frames {
		if _, err := stdcopy.NewStdWriter(&buf, f.stream).Write([]byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// raw is what frames of one stream (or of all, for stream 0) hold.
func raw(frames []frame, stream stdcopy.StdType) string {
	var b strings.Builder
	for _, f := range frames {
		if stream == 0 || f.stream == stream {
			b.WriteString(f.data)
		}
	}
	return b.String()
}

// liveStream delivers prefix, says so on delivered, then ends with endErr,
// or if endErr is nil blocks until ctx is done, as Swarm's follow stream does.
func liveStream(ctx context.Context, prefix []byte, endErr error, delivered chan<- struct{}) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		if len(prefix) > 0 {
			pw.Write(prefix)
		}
		close(delivered)
		if endErr != nil {
			pw.CloseWithError(endErr)
			return
		}
		<-ctx.Done()
		pw.CloseWithError(ctx.Err())
	}()
	return pr
}

func TestEngineFollow(t *testing.T) {
	muxed := multiplex(t, testFrames)
	rawAll := []byte(raw(testFrames, 0))
	headerAndHalf := 8 + len(testFrames[0].data) + 8 + 5 // first frame, second header, 5 bytes of its payload
	tests := []struct {
		name    string
		tty     bool
		prefix  int   // bytes of the log the live stream delivers
		liveErr error // the live stream then ends with this error; nil: it blocks until cancelled
		openErr error // opening the live stream fails
	}{
		{name: "live delivers nothing", prefix: 0},
		{name: "live delivers three frames", prefix: len(multiplex(t, testFrames[:3]))},
		{name: "live stops mid-payload", prefix: headerAndHalf},
		{name: "live stops mid-header", prefix: len(multiplex(t, testFrames[:2])) + 3},
		{name: "live stops inside the large frame", prefix: len(multiplex(t, testFrames[:3])) + 8 + 20000},
		{name: "live delivers everything", prefix: len(muxed)},
		{name: "live breaks off early", prefix: len(multiplex(t, testFrames[:2])), liveErr: io.ErrUnexpectedEOF},
		{name: "live breaks off mid-frame", prefix: headerAndHalf, liveErr: errors.New("connection reset")},
		{name: "live cannot be opened", openErr: errors.New("manager unavailable")},
		{name: "tty: raw copy", tty: true, prefix: 100},
		{name: "tty: live breaks off", tty: true, prefix: 30, liveErr: io.ErrUnexpectedEOF},
		{name: "tty: live delivers everything", tty: true, prefix: len(rawAll)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := muxed
			if tt.tty {
				all = rawAll
			}
			delivered := make(chan struct{})
			var (
				mu      sync.Mutex
				follows []bool
			)
			fake := fakeTaskLogger{taskLogs: func(ctx context.Context, taskID string, o container.LogsOptions) (io.ReadCloser, error) {
				mu.Lock()
				follows = append(follows, o.Follow)
				mu.Unlock()
				if taskID != "task1" || !o.ShowStdout || !o.ShowStderr {
					t.Errorf("TaskLogs(%q, %+v): want task1 with stdout and stderr", taskID, o)
				}
				if !o.Follow {
					return io.NopCloser(bytes.NewReader(all)), nil
				}
				if tt.openErr != nil {
					close(delivered)
					return nil, tt.openErr
				}
				return liveStream(ctx, all[:tt.prefix], tt.liveErr, delivered), nil
			}}
			ended := make(chan struct{})
			go func() {
				<-delivered
				time.Sleep(20 * time.Millisecond) // let the live copy write what it read
				close(ended)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := Engine{Client: fake}.Follow(ctx, Task{ID: "task1", TTY: tt.tty}, ended, &stdout, &stderr)
			if err != nil {
				t.Fatalf("Follow: %v", err)
			}
			wantOut, wantErr := raw(testFrames, stdcopy.Stdout), raw(testFrames, stdcopy.Stderr)
			if tt.tty {
				wantOut, wantErr = string(rawAll), ""
			}
			if got := stdout.String(); got != wantOut {
				t.Errorf("stdout: %s", describeDiff(got, wantOut))
			}
			if got := stderr.String(); got != wantErr {
				t.Errorf("stderr: %s", describeDiff(got, wantErr))
			}
			mu.Lock()
			defer mu.Unlock()
			if len(follows) != 2 || !follows[0] || follows[1] {
				t.Errorf("TaskLogs calls with Follow = %v, want [true false]", follows)
			}
		})
	}
}

func TestEngineFollowCancelled(t *testing.T) {
	fake := fakeTaskLogger{taskLogs: func(ctx context.Context, _ string, o container.LogsOptions) (io.ReadCloser, error) {
		if !o.Follow {
			t.Error("catch-up read after the context was cancelled")
		}
		return liveStream(ctx, multiplex(t, testFrames[:1]), nil, make(chan struct{})), nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	done := make(chan error, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- Engine{Client: fake}.Follow(ctx, Task{ID: "task1"}, make(chan struct{}), &stdout, &stderr)
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Follow = %v, want nil or context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return after the context was cancelled")
	}
	if got, want := stdout.String(), testFrames[0].data; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestEngineFollowCatchUpError(t *testing.T) {
	fake := fakeTaskLogger{taskLogs: func(ctx context.Context, _ string, o container.LogsOptions) (io.ReadCloser, error) {
		if o.Follow {
			return liveStream(ctx, nil, nil, make(chan struct{})), nil
		}
		return nil, errors.New("no such task")
	}}
	ended := make(chan struct{})
	close(ended)
	err := Engine{Client: fake}.Follow(context.Background(), Task{ID: "task1"}, ended, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "read logs of task task1") || !strings.Contains(err.Error(), "no such task") {
		t.Errorf("Follow = %v, want the catch-up read's error", err)
	}
}

func TestEngineNameLocation(t *testing.T) {
	e := Engine{}
	if e.Name() != "engine" || e.Location(Task{ID: "x"}) != "" {
		t.Errorf("Name, Location = %q, %q; want \"engine\", \"\"", e.Name(), e.Location(Task{ID: "x"}))
	}
}

func TestSkipWriter(t *testing.T) {
	tests := []struct {
		name   string
		skip   int64
		writes []string
		want   string
	}{
		{"no skip", 0, []string{"abc", "def"}, "abcdef"},
		{"skip within the first write", 2, []string{"abc", "def"}, "cdef"},
		{"skip exactly the first write", 3, []string{"abc", "def"}, "def"},
		{"skip across several writes", 7, []string{"abc", "def", "ghij", "k"}, "hijk"},
		{"skip larger than a write", 10, []string{"abc"}, ""},
		{"skip larger than everything", 100, []string{"abc", "def"}, ""},
		{"empty writes", 2, []string{"", "a", "", "bcd"}, "cd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			s := &skipWriter{w: &buf, skip: tt.skip}
			for _, w := range tt.writes {
				n, err := s.Write([]byte(w))
				if n != len(w) || err != nil {
					t.Errorf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			if buf.String() != tt.want {
				t.Errorf("wrote %q, want %q", buf.String(), tt.want)
			}
			total := 0
			for _, w := range tt.writes {
				total += len(w)
			}
			if want := max(0, tt.skip-int64(total)); s.skip != want {
				t.Errorf("skip left = %d, want %d", s.skip, want)
			}
		})
	}
}

// errWriter fails after accepting n bytes.
type errWriter struct {
	n   int
	got []byte
}

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		w.got = append(w.got, p...)
		return len(p), nil
	}
	k := w.n
	w.got = append(w.got, p[:k]...)
	w.n = 0
	return k, io.ErrShortWrite
}

func TestSkipWriterError(t *testing.T) {
	ew := &errWriter{n: 0}
	s := &skipWriter{w: ew, skip: 2}
	if n, err := s.Write([]byte("ab")); n != 2 || err != nil {
		t.Errorf("skipped Write = %d, %v; want 2, nil", n, err)
	}
	if n, err := s.Write([]byte("cd")); n != 0 || !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("failing Write = %d, %v; want 0, %v", n, err, io.ErrShortWrite)
	}
}

func TestCountingWriter(t *testing.T) {
	var buf bytes.Buffer
	c := &countingWriter{w: &buf}
	for _, w := range []string{"abc", "", "defgh"} {
		if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
			t.Errorf("Write(%q) = %d, %v", w, n, err)
		}
	}
	if c.n != 8 || buf.String() != "abcdefgh" {
		t.Errorf("n = %d, wrote %q; want 8, %q", c.n, buf.String(), "abcdefgh")
	}

	// A short write counts only what got through.
	ew := &errWriter{n: 4}
	c = &countingWriter{w: ew}
	c.Write([]byte("abc"))
	if n, err := c.Write([]byte("defg")); n != 1 || !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("short Write = %d, %v; want 1, %v", n, err, io.ErrShortWrite)
	}
	if c.n != 4 || string(ew.got) != "abcd" {
		t.Errorf("n = %d, wrote %q; want 4, %q", c.n, ew.got, "abcd")
	}
}

// describeDiff says how got differs from want, briefly.
func describeDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	excerpt := func(s string) string {
		end := min(len(s), i+40)
		return s[i:end]
	}
	return fmt.Sprintf("got %d bytes, want %d; first difference at byte %d: got %q, want %q",
		len(got), len(want), i, excerpt(got), excerpt(want))
}
