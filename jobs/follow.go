package jobs

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"jobrun/logs"
)

// follower copies one attempt's output while it runs.
type follower struct {
	number    int
	nodeID    string
	lostNode  string        // the attempt's node went down while it ran
	ended     chan struct{} // closed when the attempt has ended
	endedOnce sync.Once
	done      chan struct{} // closed when all its output was copied
	cancel    context.CancelFunc
	tail      *tailBuffer // what is kept with the run record
	scan      *outputScan // what the verdict reads in it
	err       error
	// incomplete: its output was not all read (drain): what it did is
	// unknown, so it may have changed things.
	incomplete bool
}

func (f *follower) end() { f.endedOnce.Do(func() { close(f.ended) }) }

// followers copy each started attempt's output to the reporter, one attempt
// after the other: an attempt's last lines may still be arriving when the
// next one starts. Output is read on a context of its own, so an interrupt
// or a timeout still lets what was printed reach the screen and the record.
type followers struct {
	ctx    context.Context
	cancel context.CancelFunc
	job    Job
	src    logs.Source
	report Reporter

	order  []*follower
	byTask map[string]*follower
	// byContainer lets the events goroutine end a follower the moment its
	// container dies: reading the last output then overlaps the poll that
	// sees the task end.
	mu          sync.Mutex
	byContainer map[string]*follower
}

func newFollowers(ctx context.Context, job Job, src logs.Source, report Reporter) *followers {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &followers{ctx: fctx, cancel: cancel, job: job, src: src, report: report,
		byTask: map[string]*follower{}, byContainer: map[string]*follower{}}
}

// update starts following each attempt that has a container, and ends the
// follower of each attempt that is done.
func (fs *followers) update(v Verdict) {
	for _, a := range v.Attempts {
		f := fs.byTask[a.TaskID]
		if f == nil && a.Started() {
			f = fs.start(a)
		}
		if f != nil && a.Done() {
			f.end()
		}
	}
}

func (fs *followers) start(a Attempt) *follower {
	ctx, cancel := context.WithCancel(fs.ctx)
	f := &follower{number: a.Number, nodeID: a.NodeID, ended: make(chan struct{}), done: make(chan struct{}), cancel: cancel, tail: &tailBuffer{max: outputTail}, scan: newOutputScan(fs.job.Output)}
	var prev <-chan struct{}
	if n := len(fs.order); n > 0 {
		prev = fs.order[n-1].done
	}
	fs.order, fs.byTask[a.TaskID] = append(fs.order, f), f
	fs.mu.Lock()
	fs.byContainer[a.ContainerID] = f
	fs.mu.Unlock()
	t := taskOf(fs.job, a)
	stdout := io.MultiWriter(fs.report.Output(fs.job.Name, a.Number, false), f.tail, f.scan.writer(false))
	stderr := io.MultiWriter(fs.report.Output(fs.job.Name, a.Number, true), f.tail, f.scan.writer(true))
	go func() {
		defer close(f.done)
		if prev != nil {
			select {
			case <-prev:
			case <-ctx.Done():
				return
			}
		}
		f.err = fs.src.Follow(ctx, t, f.ended, stdout, stderr)
	}()
	return f
}

// nodeDown notes that the node under unfinished attempts went down: what
// a job prints while its node's dockerd is away is lost (the engine's log
// files and the awslogs driver's unflushed events alike), so the output of
// those attempts may be incomplete.
func (fs *followers) nodeDown(nodeID, hostname string) {
	for _, f := range fs.order {
		select {
		case <-f.ended:
		default:
			if f.nodeID == nodeID {
				f.lostNode = hostname
			}
		}
	}
}

// containerDied ends the follower of that container, if it is the job's.
func (fs *followers) containerDied(containerID string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f := fs.byContainer[containerID]; f != nil {
		f.end()
	}
}

// drain ends every follower (the run is over), waits until timeout for
// their output to be copied, then stops reading. It returns what was kept
// of each attempt, and a note when output may be incomplete.
func (fs *followers) drain(timeout <-chan time.Time) ([]AttemptOutput, string) {
	defer fs.cancel()
	for _, f := range fs.order {
		f.end()
	}
	var outputs []AttemptOutput
	var notes []string
	for _, f := range fs.order {
		select {
		case <-f.done:
		case <-timeout:
			f.cancel()
			<-f.done
			f.incomplete = true
			notes = append(notes, fmt.Sprintf("attempt %d: output still arriving when jobrun stopped waiting; the rest was not read", f.number))
		}
		if f.err != nil {
			f.incomplete = true
			notes = append(notes, fmt.Sprintf("attempt %d: %v", f.number, f.err))
		}
		if f.lostNode != "" {
			f.incomplete = true
			notes = append(notes, fmt.Sprintf("attempt %d: its node %s went down while it ran; what it printed meanwhile may be lost", f.number, f.lostNode))
		}
		outputs = append(outputs, AttemptOutput{Number: f.number, Output: append([]byte(nil), f.tail.Bytes()...), Truncated: f.tail.truncated})
	}
	return outputs, strings.Join(notes, "; ")
}

// findings are what the scans found in each attempt's output, by attempt
// number; call it once drain has returned.
func (fs *followers) findings() map[int]scanFinding {
	out := make(map[int]scanFinding, len(fs.order))
	for _, f := range fs.order {
		found := f.scan.finding()
		found.Changed = found.Changed || f.incomplete
		out[f.number] = found
	}
	return out
}

// retryVerdict ends a running verdict when a failed attempt's output has
// none of the job's retry-when texts: Swarm would start the next attempt
// after its delay, and a migration that failed halfway at the database
// only fails differently on every retry. An attempt whose output is not
// all read yet is judged once it is; one whose output could not be read
// is left to Swarm's restart policy.
func (fs *followers) retryVerdict(v Verdict) Verdict {
	if v.Outcome != Running || len(fs.job.Output.RetryWhen) == 0 {
		return v
	}
	for _, a := range v.Attempts {
		if a.State != swarm.TaskStateFailed || !a.Exited() {
			continue // not the job's own failure: retry-when reads only what the job printed
		}
		f := fs.byTask[a.TaskID]
		if f == nil {
			return v // its output is not followed yet: the next poll judges it
		}
		select {
		case <-f.done:
		default:
			return v
		}
		if f.err == nil && !f.scan.finding().Retryable {
			v.Outcome = Failed
			v.Reason = fmt.Sprintf("attempt %d failed, and its output has none of the %s retry-when texts: no further attempt", a.Number, ExtensionKey)
			return v
		}
	}
	return v
}

// hintsOf is what a later read of where src keeps t's output needs told of
// its write order; nil for a source that needs nothing.
func hintsOf(src logs.Source, t logs.Task) []logs.Hint {
	if k, ok := src.(logs.HintKeeper); ok {
		return k.Hints(t)
	}
	return nil
}

func taskOf(job Job, a Attempt) logs.Task {
	cs := job.Spec.TaskTemplate.ContainerSpec
	return logs.Task{
		ID: a.TaskID, ServiceName: job.Spec.Name, ContainerID: a.ContainerID, NodeID: a.NodeID, Slot: a.Slot,
		TTY: cs != nil && cs.TTY,
	}
}
