package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/moby/moby/client"

	"jobrun/retry"
)

// TaskLogger is the one engine call the engine source makes.
type TaskLogger interface {
	TaskLogs(ctx context.Context, taskID string, options client.TaskLogsOptions) (client.TaskLogsResult, error)
}

// ErrIncomplete means a task's log could not be read to its end: some of the
// attempt's output may be missing. The error wrapping it says why.
var ErrIncomplete = errors.New("output may be incomplete")

// Engine reads output through the engine's task logs API, which works from
// any manager for any log driver the engine can read back (json-file, local,
// journald).
type Engine struct {
	Client TaskLogger
	// Attach, when set, also reads the container of a task on the node it
	// talks to as the job writes, for what the stamps cannot tell: where an
	// unended line goes among the other stream's (writeOrder).
	Attach Attacher
	// Window is how long a line may wait for a line of the other stream
	// stamped before it; 0 means 150 ms.
	Window time.Duration
	// Backoff paces the reads that resume a broken stream; nil means from
	// 100 ms up to 2 s, for as long as the context lasts.
	Backoff func() backoff.BackOff
	// Resumed, if set, is told each time a broken live stream was opened
	// again; it runs on Follow's goroutine, so it must not block.
	Resumed func(Task, Resume)
	// Now and After are the clock of the window and of the resume backoff:
	// the run's clock, so that tests drive them; nil means the real one.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

func (e Engine) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

func (e Engine) after(d time.Duration) <-chan time.Time {
	if e.After == nil {
		return time.After(d)
	}
	return e.After(d)
}

// Resume says why and when a task's log stream broke before it was read again.
type Resume struct {
	Cause     error
	At        time.Time // when jobrun saw the stream break
	LastStamp time.Time // the engine's stamp of the newest line received before; zero if none
}

func (e Engine) Name() string { return "engine" }

// Location is empty: the engine keeps a task's output only while the task exists.
func (e Engine) Location(Task) string { return "" }

// Follow reads the task's log with the engine's stamps, live until ended is
// closed, then once more without follow for the lines the live read had not
// received yet. Lines of stdout and stderr are written in the order of their
// stamps (live: within Window), each once: a stream that breaks is read again
// from its last stamps, and what the engine sends again is dropped. It
// returns an error wrapping ErrIncomplete when the log could not be read to
// its end before ctx ended.
func (e Engine) Follow(ctx context.Context, t Task, ended <-chan struct{}, stdout, stderr io.Writer) error {
	f := &engineFollow{e: e, t: t}
	if t.TTY {
		f.m = newMerger(e.Window, stdout)
	} else {
		f.m = newMerger(e.Window, stdout, stderr)
		actx, cancel := context.WithCancel(ctx)
		defer cancel()
		f.m.order = startOrder(actx, e.Attach, t)
	}
	err := f.readOn(ctx, true, ended)
	if err == nil && ctx.Err() == nil {
		err = f.readOn(ctx, false, nil)
	}
	if werr := f.m.emit(e.now(), emitAll); err == nil && werr != nil {
		err = werr
	}
	return err
}

// engineFollow is one Follow call: the merger and how the stream fares.
type engineFollow struct {
	e Engine
	t Task
	m *merger
	// broke is the unresolved break of the live stream, nil while it reads.
	broke *Resume
}

// readOn reads the log until a read ends well: a live read (follow) when
// ended is closed, the final read at the log's end. A read that fails is
// made again, from where the merger needs it and paced by backoff, while
// that may help; a live read that will not is left to the final read.
func (f *engineFollow) readOn(ctx context.Context, live bool, ended <-chan struct{}) error {
	b := f.backoff()
	for {
		select {
		case <-ended: // never for the final read: ended is nil
			return nil
		default:
		}
		got, err := f.read(ctx, live, ended)
		var werr *writeError
		switch {
		case err == nil || errors.As(err, &werr):
			return err
		case ctx.Err() != nil:
			return f.gaveUp(live) // nil if the log read well until the caller stopped waiting
		}
		f.breakOff(err)
		if got {
			b.Reset()
		}
		d := b.NextBackOff()
		if !retry.Transient(err) && !isStreamBreak(err) || d == backoff.Stop {
			if !live {
				return f.gaveUp(false)
			}
			d = -1 // wait for ended: the final read will tell
		}
		if !f.wait(ctx, ended, d) {
			return f.gaveUp(live)
		}
	}
}

// breakOff notes that the stream broke, or broke again, with err.
func (f *engineFollow) breakOff(err error) {
	if f.broke == nil {
		f.broke = &Resume{At: f.e.now()}
		f.broke.LastStamp = f.m.newest()
	}
	f.broke.Cause = err
}

// gaveUp is the error for a break not got past: of the live stream, or of
// the final read. Nil if the log was not broken (the caller ended ctx, and
// knows it).
func (f *engineFollow) gaveUp(live bool) error {
	if f.broke == nil {
		return nil
	}
	after := ""
	if !f.broke.LastStamp.IsZero() {
		after = fmt.Sprintf(" after the line stamped %s", f.broke.LastStamp.Local().Format("15:04:05.000"))
	}
	what := "could not be read to its end after the task ended"
	if live {
		what = "could not be resumed"
	}
	return fmt.Errorf("%w: the engine's log stream broke at %s%s and %s: %w",
		ErrIncomplete, f.broke.At.Format("15:04:05.000"), after, what, f.broke.Cause)
}

// read opens the task's log from where the merger needs it and takes in its
// lines until the stream ends, ended is closed (nil error), or ctx ends. got
// says whether any line came.
func (f *engineFollow) read(ctx context.Context, live bool, ended <-chan struct{}) (got bool, err error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: live}
	if since, ok := f.m.since(); ok {
		opts.Since = fmt.Sprintf("%d.%09d", since/1e9, since%1e9)
	}
	rc, err := f.e.Client.TaskLogs(rctx, f.t.ID, opts)
	if err != nil {
		return false, fmt.Errorf("read logs of task %s: %w", f.t.ID, err)
	}
	defer rc.Close()
	f.m.replaying()
	lines, done := f.parse(rctx, rc)
	// window fires when the oldest held line has waited the window (at
	// windowAt); a later line never needs an earlier wake-up than it.
	var window <-chan time.Time
	var windowAt time.Time
	for {
		select {
		case e, ok := <-lines:
			if !ok {
				return got, f.streamEnded(<-done, live)
			}
			got = true
			f.take(e, live)
		case <-window:
			window = nil
		case <-ended:
			// Take in what has arrived already: the final read need not
			// bring it again.
			for range len(lines) {
				if e, ok := <-lines; ok {
					got = true
					f.take(e, live)
				}
			}
			return got, nil
		case <-ctx.Done():
			return got, ctx.Err()
		}
		now, how := f.e.now(), emitLive
		if !live {
			how = emitSettled // the rest in exact stamp order
		}
		if err := f.m.emit(now, how); err != nil {
			return got, err
		}
		if d, ok := f.m.wait(now); ok && live && (window == nil || now.Add(d).Before(windowAt)) {
			window, windowAt = f.e.after(d), now.Add(d)
		}
	}
}

// take takes in a line as it arrives.
func (f *engineFollow) take(e entry, live bool) {
	f.resumed(live)
	f.m.add(e, f.e.now())
}

// streamEnded is the error for a stream that ended with err (nil: at its
// end): a live stream should not end before the task.
func (f *engineFollow) streamEnded(err error, live bool) error {
	if err == nil && live {
		err = errStreamEnded
	}
	if err != nil && !errors.Is(err, errBadLog) {
		err = brokenError{err}
	}
	if err != nil {
		err = fmt.Errorf("read logs of task %s: %w", f.t.ID, err)
	}
	return err
}

// resumed tells, once a live read that follows a break delivers a line, that
// the stream was read again. The engine answers a logs call before it knows
// whether it can follow the task (a new leader's log broker that is not
// running yet, no leader): an opened stream that only brings an error is one
// more failed try, not a resumed stream.
func (f *engineFollow) resumed(live bool) {
	if !live || f.broke == nil {
		return
	}
	if f.e.Resumed != nil {
		f.e.Resumed(f.t, *f.broke)
	}
	f.broke = nil
}

// errStreamEnded: the engine ended a live stream before the task ended
// (a manager's leader changed, or it stopped).
var errStreamEnded = errors.New("the engine ended the stream")

// parse reads the stream's lines into a channel until it ends; done then
// holds nil at its end, or why it broke.
func (f *engineFollow) parse(ctx context.Context, r io.Reader) (<-chan entry, <-chan error) {
	var er entryReader = newMuxReader(r)
	if f.t.TTY {
		er = newRawReader(r)
	}
	lines, done := make(chan entry, 64), make(chan error, 1)
	go func() {
		defer close(lines)
		for {
			e, err := er.next()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				done <- err
				return
			}
			select {
			case lines <- e:
			case <-ctx.Done():
				done <- ctx.Err()
				return
			}
		}
	}()
	return lines, done
}

// brokenError is a stream that broke while it was read (an error, an end
// before the task's): another read may get past it, whatever the cause.
type brokenError struct{ err error }

func (e brokenError) Error() string { return e.err.Error() }
func (e brokenError) Unwrap() error { return e.err }

func isStreamBreak(err error) bool { return errors.As(err, new(brokenError)) }

// backoff is a fresh pace for one run of reads. A Backoff hook's is Reset:
// an ExponentialBackOff starts from the interval it had when it was made,
// not InitialInterval (retry.Policy resets its own).
func (f *engineFollow) backoff() backoff.BackOff {
	if f.e.Backoff == nil {
		return retry.Policy(100*time.Millisecond, 2*time.Second, 0)
	}
	b := f.e.Backoff()
	b.Reset()
	return b
}

// wait waits d on the engine's clock (forever if d < 0) or until ended is
// closed: true; false if ctx ended first.
func (f *engineFollow) wait(ctx context.Context, ended <-chan struct{}, d time.Duration) bool {
	var after <-chan time.Time
	if d >= 0 {
		after = f.e.after(d)
	}
	select {
	case <-after:
		return true
	case <-ended:
		return true
	case <-ctx.Done():
		return false
	}
}
