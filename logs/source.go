// Package logs reads a job attempt's output from where the engine sent it.
package logs

import (
	"context"
	"io"
)

// Task names one attempt of a job: the task and the container it ran in.
type Task struct {
	ID          string
	ServiceName string
	ContainerID string
	NodeID      string
	TTY         bool // the container had a TTY: its output is one raw stream
}

// Source copies one attempt's output, stdout and stderr apart, bytes unchanged.
type Source interface {
	// Copy writes the task's output to stdout and stderr. With follow it keeps
	// reading until the task's output ends (the container exited and all it
	// printed was read) or ctx is done; without, it stops at what is there now.
	Copy(ctx context.Context, t Task, follow bool, stdout, stderr io.Writer) error
	// Name says where output comes from, for messages and the run record.
	Name() string
}
