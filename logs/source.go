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
	Slot        int  // 0 for a replicated job's task
	TTY         bool // the container had a TTY: its output is one raw stream
}

// Source copies one attempt's output, stdout and stderr apart, bytes unchanged.
type Source interface {
	// Follow copies the task's output as it is printed. It returns once ended
	// is closed (the task has ended) and all the task printed was copied, or
	// when ctx is done.
	Follow(ctx context.Context, t Task, ended <-chan struct{}, stdout, stderr io.Writer) error
	// Name says where output comes from, for messages and the run record.
	Name() string
	// Location names where the task's output is kept ("" if nowhere else).
	Location(t Task) string
}

// HintKeeper is a Source whose later reads of a task's output need told
// where its unended lines go (CloudWatch: its events carry the engine's
// late stamp of them).
type HintKeeper interface {
	Hints(t Task) []Hint
}
