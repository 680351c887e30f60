package jobs

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// benchTasks is a run of n attempts: n-1 failed, the last running.
func benchTasks(n int) []swarm.Task {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	tasks := make([]swarm.Task, n)
	for i := range tasks {
		state := swarm.TaskStateFailed
		if i == n-1 {
			state = swarm.TaskStateRunning
		}
		tasks[n-1-i] = swarm.Task{ // newest first, as the engine may list them
			ID:     fmt.Sprintf("task%02d", i),
			Meta:   swarm.Meta{CreatedAt: t0.Add(time.Duration(i) * time.Minute)},
			NodeID: "node1",
			Status: swarm.TaskStatus{
				State: state, Timestamp: t0.Add(time.Duration(i)*time.Minute + 30*time.Second),
				ContainerStatus: &swarm.ContainerStatus{ContainerID: fmt.Sprintf("c%02d", i), ExitCode: 1},
			},
		}
	}
	return tasks
}

// BenchmarkJudge is one poll's verdict: it runs on every poll of every run.
func BenchmarkJudge(b *testing.B) {
	for _, n := range []int{1, 7, 100} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			tasks := benchTasks(n)
			p := Policy{MaxRuns: 200, Delay: 30 * time.Second, PendingTimeout: time.Minute}
			now := tasks[0].CreatedAt.Add(time.Minute) // the newest
			b.ReportAllocs()
			for b.Loop() {
				if v := Judge(tasks, nil, p, now); v.Outcome != Running {
					b.Fatal(v.Outcome)
				}
			}
		})
	}
}

// BenchmarkOutput is job output on its way to the screen: piped (bytes as
// they are) and on a terminal (every line prefixed).
func BenchmarkOutput(b *testing.B) {
	chunk := make([]byte, 0, 32<<10)
	for i := 0; len(chunk) < 32<<10-64; i++ {
		chunk = fmt.Appendf(chunk, "  Applying todo.%04d_initial... OK\n", i)
	}
	for _, prefix := range []bool{false, true} {
		b.Run(fmt.Sprintf("prefix=%v", prefix), func(b *testing.B) {
			r := &TextReporter{Out: io.Discard, Err: io.Discard, Log: io.Discard, Prefix: prefix}
			w := r.Output("migrate", 2, false)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOutputScan: what reading every attempt's output for its error
// line and retry-when texts costs, per 32 KiB of Django's lines.
func BenchmarkOutputScan(b *testing.B) {
	chunk := make([]byte, 0, 32<<10)
	for i := 0; len(chunk) < 32<<10-64; i++ {
		chunk = fmt.Appendf(chunk, "  Applying todo.%04d_initial... OK\n", i)
	}
	s := newOutputScan(OutputRules{RetryWhen: []string{"Can't connect to server", "Unknown server host"}, ChangesWhen: []string{"Applying "}})
	w := s.writer(false)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
}
