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

func (e Engine) Copy(ctx context.Context, t Task, follow bool, stdout, stderr io.Writer) error {
	rc, err := e.Client.TaskLogs(ctx, t.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
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
