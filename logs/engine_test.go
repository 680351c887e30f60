package logs

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"jobrun/clocktest"
)

// fakeTaskLogger answers TaskLogs with its func field.
type fakeTaskLogger struct {
	taskLogs func(ctx context.Context, taskID string, o client.TaskLogsOptions) (client.TaskLogsResult, error)
}

func (f fakeTaskLogger) TaskLogs(ctx context.Context, taskID string, o client.TaskLogsOptions) (client.TaskLogsResult, error) {
	return f.taskLogs(ctx, taskID, o)
}

// stamp0 is the engine's clock when a fake task starts.
var stamp0 = time.Date(2026, 11, 26, 12, 0, 3, 0, time.UTC)

// logLine is one message of a fake task's log.
type logLine struct {
	stream stdcopy.StdType
	at     time.Duration // the engine's stamp, after stamp0
	data   string
}

func out(at time.Duration, data string) logLine { return logLine{stdcopy.Stdout, at, data} }
func errl(at time.Duration, data string) logLine {
	return logLine{stdcopy.Stderr, at, data}
}

// cut is a long line as the engine logs it: pieces of n bytes, all with the
// stamp of the first.
func cut(stream stdcopy.StdType, at time.Duration, line string, n int) []logLine {
	var ls []logLine
	for len(line) > n {
		ls = append(ls, logLine{stream, at, line[:n]})
		line = line[n:]
	}
	return append(ls, logLine{stream, at, line})
}

// taskLog is a task's log as the engine keeps it: in the order its copiers
// logged the lines, which is not always the order of their stamps.
type taskLog []logLine

func logOf(parts ...any) taskLog {
	var l taskLog
	for _, p := range parts {
		switch p := p.(type) {
		case logLine:
			l = append(l, p)
		case []logLine:
			l = append(l, p...)
		}
	}
	return l
}

// since is what an engine returns for a read's since: Engine 20.10 every
// line stamped at or after it; newer engines (fromFirst) every line logged
// after the first of those.
func (l taskLog) since(t *testing.T, since string, fromFirst bool) taskLog {
	if since == "" {
		return l
	}
	sec, nsec, err := parseSince(since)
	if err != nil {
		t.Errorf("since %q: %v", since, err)
	}
	at := time.Unix(sec, nsec)
	var got taskLog
	for i, ln := range l {
		if !stamp0.Add(ln.at).Before(at) {
			if fromFirst {
				return l[i:]
			}
			got = append(got, ln)
		}
	}
	return got
}

// encode is the log as the API sends it with timestamps=1.
func (l taskLog) encode(tty bool) []byte {
	var b bytes.Buffer
	for _, ln := range l {
		msg := stamp0.Add(ln.at).Format(stampLayout) + " " + ln.data
		if tty {
			b.WriteString(msg)
		} else {
			b.WriteString(frameOf(ln.stream, msg))
		}
	}
	return b.Bytes()
}

// transcript is what Follow must write: the lines in stamp order, ties in
// the order they were logged, a write each, "stream:data|".
func (l taskLog) transcript() string {
	sorted := slices.Clone(l)
	slices.SortStableFunc(sorted, func(a, b logLine) int { return cmp.Compare(a.at, b.at) })
	var b strings.Builder
	for _, ln := range sorted {
		fmt.Fprintf(&b, "%d:%s|", ln.stream-1, ln.data)
	}
	return b.String()
}

// liveRead is how the fake engine answers one live read: the first n lines
// the read's since selects (all if n < 0) and cutBytes of the next one's
// encoding, then perhaps the whole log again, then an end.
type liveRead struct {
	openErr  error // TaskLogs fails with this
	n        int
	cutBytes int
	// resend: the whole log again from its start, as when a worker's
	// dockerd came back; with pause, only once Follow has written
	// pauseAfter lines and the clock has moved pause on.
	resend     bool
	pause      time.Duration
	pauseAfter int
	sysErr     string // a Systemerr frame, then the end
	end        error  // the stream breaks with this (io.EOF: ends); nil: stays open
}

// fakeEngine serves a task's log to live reads as scripted, and to final
// reads from their since, failing the first ones with finalErrs.
type fakeEngine struct {
	t         *testing.T
	log       taskLog
	tty       bool
	fromFirst bool
	live      []liveRead // the last repeats
	finalErrs []error
	clock     *clocktest.Clock
	rec       *recorder
	// delivered is closed once Follow has parsed every line of the last
	// scripted live read and asks for more (or that read failed to open):
	// the task may end then without a race.
	delivered chan struct{}

	mu     sync.Mutex
	reads  []string // "live since" or "final since", a read each
	closed sync.Once
}

func (f *fakeEngine) TaskLogs(ctx context.Context, taskID string, o client.TaskLogsOptions) (client.TaskLogsResult, error) {
	f.mu.Lock()
	kind := map[bool]string{true: "live", false: "final"}[o.Follow]
	f.reads = append(f.reads, kind+" "+o.Since)
	nLive, nFinal := 0, 0
	for _, r := range f.reads {
		if strings.HasPrefix(r, "live") {
			nLive++
		} else {
			nFinal++
		}
	}
	f.mu.Unlock()
	if taskID != "task1" || !o.ShowStdout || !o.ShowStderr || !o.Timestamps {
		f.t.Errorf("TaskLogs(%q, %+v): want task1, stdout, stderr and timestamps", taskID, o)
	}
	rest := f.log.since(f.t, o.Since, f.fromFirst)
	if !o.Follow {
		if nFinal <= len(f.finalErrs) {
			return nil, f.finalErrs[nFinal-1]
		}
		return io.NopCloser(bytes.NewReader(rest.encode(f.tty))), nil
	}
	r := f.live[min(nLive, len(f.live))-1]
	last := nLive >= len(f.live)
	if r.openErr != nil {
		if last {
			f.closed.Do(func() { close(f.delivered) })
		}
		return nil, r.openErr
	}
	if r.n < 0 || r.n > len(rest) {
		r.n = len(rest)
	}
	data := rest[:r.n].encode(f.tty)
	if r.cutBytes > 0 {
		data = append(data, rest[r.n:].encode(f.tty)[:r.cutBytes]...)
	}
	if r.sysErr != "" {
		data = append(data, []byte(frameOf(stdcopy.Systemerr, r.sysErr))...)
		r.end = io.EOF
	}
	s := newStream()
	go f.serve(ctx, s, r, data, last)
	return s, nil
}

// serve writes a live read's stream as scripted.
func (f *fakeEngine) serve(ctx context.Context, s *stream, r liveRead, data []byte, last bool) {
	s.send(ctx, data)
	if r.resend {
		if r.pause > 0 {
			f.rec.waitWrites(ctx, r.pauseAfter)
			f.clock.Advance(r.pause)
		}
		s.send(ctx, f.log.encode(f.tty))
	}
	if last {
		f.closed.Do(func() { close(f.delivered) })
	}
	if r.end != nil {
		s.pw.CloseWithError(r.end)
		return
	}
	<-ctx.Done()
	s.pw.CloseWithError(ctx.Err())
}

// stream is a live read's body. It tells its writer when the reader, having
// read all that was sent, asks for more: Follow has then parsed every line
// sent so far.
type stream struct {
	pr    *io.PipeReader
	pw    *io.PipeWriter
	mu    sync.Mutex
	read  int
	sent  int
	asked chan int // the bytes read, at each Read made with all sent bytes read
}

func newStream() *stream {
	pr, pw := io.Pipe()
	return &stream{pr: pr, pw: pw, asked: make(chan int, 8)}
}

func (s *stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	if s.read == s.sent {
		select {
		case s.asked <- s.read:
		default:
		}
	}
	s.mu.Unlock()
	n, err := s.pr.Read(p)
	s.mu.Lock()
	s.read += n
	s.mu.Unlock()
	return n, err
}

func (s *stream) Close() error { return s.pr.Close() }

// send writes data and returns once the reader has read it and asks for more.
func (s *stream) send(ctx context.Context, data []byte) {
	s.mu.Lock()
	s.sent += len(data)
	want := s.sent
	s.mu.Unlock()
	if _, err := s.pw.Write(data); err != nil {
		return // the reader went away
	}
	for {
		select {
		case n := <-s.asked:
			if n == want {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// recorder keeps what Follow wrote: each stream, and all writes in order.
type recorder struct {
	mu      sync.Mutex
	all     strings.Builder
	stream  [2]bytes.Buffer
	writes  int
	changed chan struct{} // closed and replaced at each write
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) writer(n int) io.Writer {
	return writeFunc(func(p []byte) (int, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		fmt.Fprintf(&r.all, "%d:%s|", n, p)
		r.stream[n].Write(p)
		r.writes++
		close(r.changed)
		r.changed = make(chan struct{})
		return len(p), nil
	})
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.all.String()
}

// waitWrites returns once Follow has made n writes, or ctx ended.
func (r *recorder) waitWrites(ctx context.Context, n int) {
	for {
		r.mu.Lock()
		done, changed := r.writes >= n, r.changed
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// retryWait is the resume backoff of most tests: a second each time, on
// the fake clock, and unlike the window (200 ms) easy to tell apart.
const retryWait = time.Second

func constantRetry() backoff.BackOff { return backoff.NewConstantBackOff(retryWait) }

// retries waits until Follow has asked the clock for n waits of d in all,
// moving the clock past each but the n-th: n-1 retries came, the n-th is
// pending.
func retries(ctx context.Context, clock *clocktest.Clock, d time.Duration, n int) {
	for i := 1; i <= n; i++ {
		for asked := clock.Asked(); count(asked, d) < i; {
			if _, err := clock.BlockUntilAsked(ctx, len(asked)+1); err != nil {
				return
			}
			asked = clock.Asked()
		}
		if i < n {
			clock.Advance(d)
		}
	}
}

func count(ds []time.Duration, d time.Duration) int {
	n := 0
	for _, x := range ds {
		if x == d {
			n++
		}
	}
	return n
}

// followRun is one Follow on the fake engine and the fake clock.
type followRun struct {
	engine  Engine
	clock   *clocktest.Clock
	rec     *recorder
	resumes []Resume
	// neverEnds keeps the task running; then drive ends the run (by
	// cancelling ctx), and must.
	neverEnds bool
	drive     func(ctx context.Context, clock *clocktest.Clock, cancel context.CancelFunc)
}

// newFollowRun sets f up for a run: the task ends once the last scripted
// live read was delivered. Retries come at once, the window is 200 ms.
func newFollowRun(t *testing.T, f *fakeEngine) *followRun {
	r := &followRun{clock: clocktest.New(stamp0.Add(time.Second)), rec: newRecorder()}
	f.t, f.delivered, f.clock, f.rec = t, make(chan struct{}), r.clock, r.rec
	r.engine = Engine{Client: f, Window: 200 * time.Millisecond, Backoff: func() backoff.BackOff { return &backoff.ZeroBackOff{} },
		Resumed: func(_ Task, res Resume) { r.resumes = append(r.resumes, res) },
		Now:     r.clock.Now, After: r.clock.After}
	return r
}

// run runs Follow until it returns.
func (r *followRun) run(t *testing.T, f *fakeEngine) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ended := make(chan struct{})
	if !r.neverEnds {
		go func() {
			<-f.delivered
			close(ended)
		}()
	}
	if r.drive != nil {
		go r.drive(ctx, r.clock, cancel)
	}
	return r.engine.Follow(ctx, Task{ID: "task1", TTY: f.tty}, ended, r.rec.writer(0), r.rec.writer(1))
}

func TestEngineFollow(t *testing.T) {
	ms := time.Millisecond
	// The first lines of a job running `echo A1; echo A2; echo E1 >&2;
	// sleep 0.01; echo A3; echo E2 >&2`, logged in another order than stamped.
	job := logOf(errl(3*ms, "E1\n"), out(ms, "A1\n"), out(2*ms, "A2\n"), out(13*ms, "A3\n"), errl(14*ms, "E2\n"))
	// Blocks of five lines a millisecond apart, stdout then stderr, each
	// stderr block stamped from the middle of the stdout block before it.
	var blocks taskLog
	for b := range 6 {
		s, base := stdcopy.Stdout, time.Duration(b/2)*10*ms
		if b%2 == 1 {
			s, base = stdcopy.Stderr, base+2500*time.Microsecond
		}
		for j := range 5 {
			blocks = append(blocks, logLine{s, base + time.Duration(j)*ms, fmt.Sprintf("block %d line %d\n", b, j)})
		}
	}
	long := strings.Repeat("0123456789abcdef", 3000) + "\n" // 48 KiB: three pieces and a bit
	longLog := logOf(out(ms, "A1\n"), cut(stdcopy.Stdout, 2*ms, long, minPiece), errl(3*ms, "E1\n"),
		cut(stdcopy.Stderr, 4*ms, strings.Repeat("e", 40000)+"\n", minPiece), out(5*ms, "A2\n"))
	noNewline := logOf(out(ms, "A1\n"), errl(2*ms, "progress 10%"), errl(3*ms, "\rprogress 20%"), out(4*ms, "last line without newline"))
	ttyLog := logOf(out(ms, "A1\r\n"), cut(stdcopy.Stdout, 2*ms, strings.Repeat("t", 40000)+"\r\n", minPiece), out(3*ms, "prompt> "))
	eof, reset := io.EOF, syscall.ECONNRESET

	tests := []struct {
		name      string
		log       taskLog
		tty       bool
		fromFirst bool
		live      []liveRead
		finalErrs []error
		wantReads int // TaskLogs calls, live and final
		wantSince []string
	}{
		{name: "streams logged out of order are written in stamp order", log: job, live: []liveRead{{n: -1}}, wantReads: 2},
		{name: "blocks of both streams", log: blocks, live: []liveRead{{n: -1}}, wantReads: 2},
		{name: "the final read brings what the live read had not", log: job, live: []liveRead{{n: 2}}, wantReads: 2,
			wantSince: []string{"live ", "final 1795694403.001000000"}},
		{name: "live delivers nothing", log: job, live: []liveRead{{n: 0}}, wantReads: 2, wantSince: []string{"live ", "final "}},
		{name: "live cannot be opened: the final read brings all", log: job,
			live: []liveRead{{openErr: cerrdefs.ErrNotFound.WithMessage("no such task")}}, wantReads: 2},
		{name: "a broken stream is resumed with overlap", log: blocks, live: []liveRead{{n: 12, end: reset}, {n: -1}}, wantReads: 3},
		{name: "a stream broken by any error is resumed", log: blocks,
			live: []liveRead{{n: 9, end: errors.New("rpc error: code = Unavailable desc = transport is closing")}, {n: -1}}, wantReads: 3},
		{name: "a stream ended by the engine is resumed", log: job, live: []liveRead{{n: 3, end: eof}, {n: -1}}, wantReads: 3,
			wantSince: []string{"live ", "live 1795694403.002000000", "final 1795694403.013000000"}},
		{name: "a stream broken inside a frame is resumed", log: job, live: []liveRead{{n: 1, cutBytes: 20, end: io.ErrUnexpectedEOF}, {n: -1}}, wantReads: 3},
		{name: "transport is closing", log: blocks,
			live: []liveRead{{n: 7, sysErr: "Error grabbing logs: rpc error: code = Unavailable desc = transport is closing"}, {n: -1}}, wantReads: 3},
		{name: "a stream that cannot be reopened at once", log: job,
			live: []liveRead{{n: 2, end: eof}, {openErr: syscall.ECONNREFUSED}, {openErr: syscall.ECONNREFUSED}, {n: -1}}, wantReads: 5},
		{name: "resumed on a newer engine (since: all after the first line stamped at or after)", log: blocks, fromFirst: true,
			live: []liveRead{{n: 13, end: eof}, {n: -1}}, wantReads: 3},
		{name: "the whole log sent again inside the live stream", log: blocks, live: []liveRead{{n: 13, resend: true}}, wantReads: 2},
		{name: "the whole log sent again a while later, starting with a stream's only line", log: job,
			live: []liveRead{{n: 3, resend: true, pause: resendGap, pauseAfter: 2}}, wantReads: 2},
		{name: "the whole log sent again, then broken, then resumed", log: blocks, live: []liveRead{{n: -1, resend: true, end: reset}, {n: -1}}, wantReads: 3},
		{name: "lines without newline", log: noNewline, live: []liveRead{{n: 2, end: eof}, {n: -1}}, wantReads: 3},
		{name: "very long lines", log: longLog, live: []liveRead{{n: -1}}, wantReads: 2},
		{name: "very long lines broken in the middle", log: longLog, live: []liveRead{{n: 3, cutBytes: 5000, end: reset}, {n: 2}}, wantReads: 3},
		{name: "the final read fails once", log: job, live: []liveRead{{n: 2}}, finalErrs: []error{syscall.ECONNREFUSED}, wantReads: 3},
		{name: "tty", log: ttyLog, tty: true, live: []liveRead{{n: -1}}, wantReads: 2},
		{name: "tty broken and resumed", log: ttyLog, tty: true, live: []liveRead{{n: 2, cutBytes: 100, end: reset}, {n: 1}}, wantReads: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEngine{log: tt.log, tty: tt.tty, fromFirst: tt.fromFirst, live: tt.live, finalErrs: tt.finalErrs}
			r := newFollowRun(t, f)
			if err := r.run(t, f); err != nil {
				t.Fatalf("Follow: %v", err)
			}
			if got, want := r.rec.String(), tt.log.transcript(); got != want {
				t.Errorf("written: %s", describeDiff(got, want))
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.reads) != tt.wantReads {
				t.Errorf("reads %q, want %d", f.reads, tt.wantReads)
			}
			if tt.wantSince != nil && !slices.Equal(f.reads, tt.wantSince) {
				t.Errorf("reads %q, want %q", f.reads, tt.wantSince)
			}
		})
	}
}

// TestEngineFollowLive: lines reach the writers in stamp order while the
// task runs, a line held the window and no longer.
func TestEngineFollowLive(t *testing.T) {
	ms := time.Millisecond
	f := &fakeEngine{log: logOf(errl(3*ms, "E1\n"), out(ms, "A1\n"), out(2*ms, "A2\n")), live: []liveRead{{n: -1}}}
	r := newFollowRun(t, f)
	r.engine.Window = 300 * ms
	r.neverEnds = true
	ended := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- r.engine.Follow(t.Context(), Task{ID: "task1"}, ended, r.rec.writer(0), r.rec.writer(1))
	}()
	r.rec.waitWrites(t.Context(), 2)
	if got, want := r.rec.String(), "0:A1\n|0:A2\n|"; got != want {
		t.Errorf("written at once: %q, want %q (E1 held for a stdout line stamped after it)", got, want)
	}
	if err := r.clock.BlockUntil(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(300*ms - 1) // nothing is due: nothing can be written
	if got, want := r.rec.String(), "0:A1\n|0:A2\n|"; got != want {
		t.Errorf("written before the window passed: %q, want %q", got, want)
	}
	r.clock.Advance(1)
	r.rec.waitWrites(t.Context(), 3)
	if got, want := r.rec.String(), "0:A1\n|0:A2\n|1:E1\n|"; got != want {
		t.Errorf("written once the window passed: %q, want %q", got, want)
	}
	close(ended)
	if err := <-done; err != nil {
		t.Errorf("Follow: %v", err)
	}
	if got, want := r.rec.String(), "0:A1\n|0:A2\n|1:E1\n|"; got != want {
		t.Errorf("written in all: %q, want %q", got, want)
	}
	if got := r.clock.Asked(); !slices.Equal(got, []time.Duration{300 * ms}) {
		t.Errorf("waits asked of the clock %v, want the window once", got)
	}
}

func TestEngineFollowIncomplete(t *testing.T) {
	ms := time.Millisecond
	job := logOf(out(ms, "A1\n"), errl(2*ms, "E1\n"), out(3*ms, "A2\n"))
	// cancelOnRetry ends Follow's context once it waits for its second retry.
	cancelOnRetry := func(ctx context.Context, clock *clocktest.Clock, cancel context.CancelFunc) {
		retries(ctx, clock, retryWait, 2)
		cancel()
	}
	tests := []struct {
		name      string
		live      []liveRead
		finalErrs []error
		neverEnds bool
		drive     func(context.Context, *clocktest.Clock, context.CancelFunc)
		want      []string // in the error
		written   string
		retries   int // waits of retryWait asked
	}{
		{name: "a resume that keeps failing until ctx ends", neverEnds: true, drive: cancelOnRetry,
			live: []liveRead{{n: 2, end: io.EOF}, {openErr: syscall.ECONNREFUSED}},
			want: []string{"output may be incomplete: the engine's log stream broke at ",
				" after the line stamped " + stamp0.Add(2*ms).Local().Format("15:04:05.000"), "could not be resumed", "connection refused"},
			written: "0:A1\n|1:E1\n|", retries: 2},
		{name: "a final read that fails",
			live:      []liveRead{{n: 2}},
			finalErrs: []error{cerrdefs.ErrNotFound.WithMessage("no such task")},
			want:      []string{"output may be incomplete", "could not be read to its end after the task ended", "read logs of task task1: no such task"},
			written:   "0:A1\n|1:E1\n|"},
		{name: "a final read that keeps failing until ctx ends", drive: cancelOnRetry,
			live:      []liveRead{{n: 1}},
			finalErrs: slices.Repeat([]error{syscall.ECONNREFUSED}, 100),
			want:      []string{"output may be incomplete", "could not be read to its end", "connection refused"},
			written:   "0:A1\n|", retries: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEngine{log: job, live: tt.live, finalErrs: tt.finalErrs}
			r := newFollowRun(t, f)
			r.engine.Backoff = constantRetry
			r.neverEnds, r.drive = tt.neverEnds, tt.drive
			err := r.run(t, f)
			if !errors.Is(err, ErrIncomplete) {
				t.Fatalf("Follow = %v, want ErrIncomplete", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := r.rec.String(); got != tt.written {
				t.Errorf("written %q, want %q", got, tt.written)
			}
			if got := count(r.clock.Asked(), retryWait); got != tt.retries {
				t.Errorf("asked the clock for %d retry waits, want %d (%v)", got, tt.retries, r.clock.Asked())
			}
		})
	}
}

// TestEngineFollowMalformed: a stream that is not what the API sends is
// not read again and again.
func TestEngineFollowMalformed(t *testing.T) {
	var follows []bool
	ended := make(chan struct{})
	fake := fakeTaskLogger{taskLogs: func(ctx context.Context, _ string, o client.TaskLogsOptions) (client.TaskLogsResult, error) {
		follows = append(follows, o.Follow)
		if o.Follow {
			close(ended) // the task ends: whether the live read or ended is seen first, the final read tells
		}
		return io.NopCloser(strings.NewReader(frameOf(stdcopy.Stdout, "A1 without a stamp\n"))), nil
	}}
	clock := clocktest.New(stamp0)
	e := Engine{Client: fake, Backoff: constantRetry, Now: clock.Now, After: clock.After}
	err := e.Follow(t.Context(), Task{ID: "task1"}, ended, io.Discard, io.Discard)
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "malformed log stream: a message with a bad timestamp") ||
		strings.Contains(err.Error(), "after the line stamped") {
		t.Errorf("Follow = %v, want ErrIncomplete saying the stream is malformed, and no line stamp", err)
	}
	if !slices.Equal(follows, []bool{true, false}) {
		t.Errorf("reads with follow %v, want [true false]: a malformed stream is not read again", follows)
	}
	if asked := clock.Asked(); len(asked) != 0 {
		t.Errorf("waits asked of the clock %v, want none: nothing to wait for", asked)
	}
}

// TestEngineFollowResumed: a broken stream is opened again at the
// backoff's pace, and Resumed is told once it delivers.
func TestEngineFollowResumed(t *testing.T) {
	ms := time.Millisecond
	f := &fakeEngine{log: logOf(out(ms, "A1\n"), errl(2*ms, "E1\n")), live: []liveRead{{n: 1, end: io.EOF}, {openErr: syscall.ECONNREFUSED}, {n: -1}}}
	r := newFollowRun(t, f)
	r.engine.Window = 150 * ms
	r.engine.Backoff = func() backoff.BackOff {
		return &backoff.ExponentialBackOff{InitialInterval: 100 * ms, Multiplier: 2, MaxInterval: time.Second, Clock: r.clock}
	}
	r.drive = func(ctx context.Context, clock *clocktest.Clock, _ context.CancelFunc) {
		retries(ctx, clock, 100*ms, 1)
		clock.Advance(100 * ms)
		retries(ctx, clock, 200*ms, 1)
		clock.Advance(200 * ms)
	}
	broke := r.clock.Now()
	if err := r.run(t, f); err != nil {
		t.Fatalf("Follow = %v, want nil after a resume", err)
	}
	if got, want := r.rec.String(), "0:A1\n|1:E1\n|"; got != want {
		t.Errorf("written %q, want %q", got, want)
	}
	if len(r.resumes) != 1 || !errors.Is(r.resumes[0].Cause, syscall.ECONNREFUSED) ||
		!r.resumes[0].LastStamp.Equal(stamp0.Add(ms)) || !r.resumes[0].At.Equal(broke) {
		t.Errorf("Resumed told %+v, want once, broken at %s after the line stamped 1 ms, the last cause connection refused", r.resumes, broke)
	}
	var waits []time.Duration
	for _, d := range r.clock.Asked() {
		if d != r.engine.Window {
			waits = append(waits, d)
		}
	}
	if want := []time.Duration{100 * ms, 200 * ms}; !slices.Equal(waits, want) {
		t.Errorf("resume waits asked %v, want the backoff's %v", waits, want)
	}
}

// TestEngineFollowCancelled: the caller ends Follow while a line is held:
// the line is written, and no final read is made.
func TestEngineFollowCancelled(t *testing.T) {
	var reads []bool
	fake := fakeTaskLogger{taskLogs: func(ctx context.Context, _ string, o client.TaskLogsOptions) (client.TaskLogsResult, error) {
		reads = append(reads, o.Follow)
		pr, pw := io.Pipe()
		go func() {
			pw.Write(logOf(out(time.Millisecond, "A1\n")).encode(false))
			<-ctx.Done()
			pw.CloseWithError(ctx.Err())
		}()
		return pr, nil
	}}
	clock := clocktest.New(stamp0)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		_ = clock.BlockUntil(ctx, 1) // A1 is held for a stderr line that may go before it
		cancel()
	}()
	var stdout bytes.Buffer
	err := Engine{Client: fake, Now: clock.Now, After: clock.After}.Follow(ctx, Task{ID: "task1"}, make(chan struct{}), &stdout, io.Discard)
	if err != nil {
		t.Errorf("Follow = %v, want nil: the caller ended it", err)
	}
	if got := stdout.String(); got != "A1\n" {
		t.Errorf("stdout = %q, want the line held when ctx ended", got)
	}
	if !slices.Equal(reads, []bool{true}) {
		t.Errorf("reads with follow %v, want [true]: no final read once ctx ended", reads)
	}
}

func TestEngineFollowWriteError(t *testing.T) {
	f := &fakeEngine{log: logOf(out(time.Millisecond, "A1\n")), live: []liveRead{{n: -1}}}
	r := newFollowRun(t, f)
	broken := writeFunc(func([]byte) (int, error) { return 0, io.ErrClosedPipe })
	ended := make(chan struct{})
	close(ended)
	err := r.engine.Follow(t.Context(), Task{ID: "task1"}, ended, broken, io.Discard)
	if !errors.Is(err, io.ErrClosedPipe) || errors.Is(err, ErrIncomplete) {
		t.Errorf("Follow = %v, want the write error", err)
	}
}

func TestEngineNameLocation(t *testing.T) {
	e := Engine{}
	if e.Name() != "engine" || e.Location(Task{ID: "x"}) != "" {
		t.Errorf("Name, Location = %q, %q; want \"engine\", \"\"", e.Name(), e.Location(Task{ID: "x"}))
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

// parseSince reads the "seconds.nanoseconds" since the engine source asks
// for.
func parseSince(since string) (sec, nsec int64, err error) {
	s, ns, _ := strings.Cut(since, ".")
	if sec, err = strconv.ParseInt(s, 10, 64); err != nil {
		return 0, 0, err
	}
	if ns != "" {
		nsec, err = strconv.ParseInt(ns, 10, 64)
	}
	return sec, nsec, err
}
