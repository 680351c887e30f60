package logs

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// TaskLogger is the one engine call the engine source makes.
type TaskLogger interface {
	TaskLogs(ctx context.Context, taskID string, options container.LogsOptions) (io.ReadCloser, error)
}

// Engine reads output through the engine's task logs API, which works from
// any manager for any log driver the engine can read back (json-file, local,
// journald).
type Engine struct{ Client TaskLogger }

func (e Engine) Name() string { return "engine" }

// Location is empty: the engine keeps a task's output only while the task exists.
func (e Engine) Location(Task) string { return "" }

// Follow streams the task's logs live. Swarm's follow stream does not end
// when the container exits, so once the task has ended the stream is closed
// and the whole log is read again without follow, skipping what the live
// stream already delivered: every byte once, none lost.
func (e Engine) Follow(ctx context.Context, t Task, ended <-chan struct{}, stdout, stderr io.Writer) error {
	out, errw := &countingWriter{w: stdout}, &countingWriter{w: stderr}
	liveCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	live := make(chan error, 1)
	go func() { live <- e.copy(liveCtx, t, true, out, errw) }()
	select {
	case <-ended:
		cancel()
		<-live
	case err := <-live: // the stream broke off early: the catch-up read below completes it
		if ctx.Err() != nil {
			return err
		}
		select {
		case <-ended:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return e.copy(ctx, t, false, &skipWriter{w: stdout, skip: out.n}, &skipWriter{w: stderr, skip: errw.n})
}

func (e Engine) copy(ctx context.Context, t Task, follow bool, stdout, stderr io.Writer) error {
	rc, err := e.Client.TaskLogs(ctx, t.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("read logs of task %s: %w", t.ID, err)
	}
	defer rc.Close()
	copyOut := func() error { _, err := stdcopy.StdCopy(stdout, stderr, rc); return err }
	if t.TTY {
		copyOut = func() error { _, err := io.Copy(stdout, rc); return err }
	}
	if err := copyOut(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read logs of task %s: %w", t.ID, err)
	}
	return nil
}
