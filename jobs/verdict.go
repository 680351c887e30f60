package jobs

import (
	"fmt"
	"sort"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"jobrun/logs"
)

// Outcome is where a run stands. Everything but Running is final.
type Outcome string

const (
	Running     Outcome = "running"
	Succeeded   Outcome = "succeeded"
	Failed      Outcome = "failed"
	Rejected    Outcome = "rejected"
	Pending     Outcome = "pending" // stuck: no node took the task in time
	TimedOut    Outcome = "timed-out"
	Removed     Outcome = "removed"
	Interrupted Outcome = "interrupted"
)

// ExitCode is the process exit code that reports the outcome.
func (o Outcome) ExitCode() int {
	switch o {
	case Succeeded:
		return ExitSucceeded
	case Rejected:
		return ExitRejected
	case Pending:
		return ExitPending
	case TimedOut:
		return ExitTimedOut
	case Removed:
		return ExitRemoved
	case Interrupted:
		return ExitInterrupted
	default:
		return ExitFailed
	}
}

// Policy is what jobrun enforces on top of Swarm's restart policy.
type Policy struct {
	MaxRuns        int           // Swarm's max_attempts counts restarts: runs = max_attempts + 1
	Delay          time.Duration // restart delay
	PendingTimeout time.Duration // a task pending longer than this is stuck
	FinalExitCodes ExitCodes     // a failure with one of these is the last attempt
}

// Attempt is one task of the job: one try, one container.
type Attempt struct {
	Number int    `json:"number"`
	TaskID string `json:"task_id"`
	NodeID string `json:"node_id,omitempty"`
	// Hostname is the node's, as the run's end found it: a node that has
	// left the swarm since is still named by it (NameNodes).
	Hostname    string          `json:"node_hostname,omitempty"`
	Slot        int             `json:"slot,omitempty"`
	ContainerID string          `json:"container_id,omitempty"`
	State       swarm.TaskState `json:"state"`
	ExitCode    *int            `json:"exit_code,omitempty"`
	Err         string          `json:"error,omitempty"`
	Created     time.Time       `json:"created"`
	Updated     time.Time       `json:"updated"`
	LogStream   string          `json:"log_stream,omitempty"` // CloudWatch stream of its output
	ErrorLine   string          `json:"error_line,omitempty"` // the last error line of its output
	// Order is where its unended lines go, as jobrun learned it from the
	// container: a later read of its CloudWatch stream needs it told.
	Order []logs.Hint `json:"order,omitempty"`
}

// Done reports whether the attempt has reached a state it never leaves.
func (a Attempt) Done() bool { return rank[a.State] >= rank[swarm.TaskStateComplete] }

// Started reports whether the attempt ever had a container that could print.
func (a Attempt) Started() bool {
	return a.ContainerID != "" && a.State != swarm.TaskStateRejected
}

// Ran reports whether the attempt counts as one the job used: it had a
// container, or the engine refused or failed it. A task Swarm queued for
// after the restart delay and that the run stopped before it ran does not.
func (a Attempt) Ran() bool {
	return a.ContainerID != "" || a.State == swarm.TaskStateRejected || a.State == swarm.TaskStateFailed
}

// RanAttempts is how many of the attempts Ran.
func RanAttempts(attempts []Attempt) int {
	n := 0
	for _, a := range attempts {
		if a.Ran() {
			n++
		}
	}
	return n
}

// Verdict is the judgement on a job's tasks at one moment.
type Verdict struct {
	Outcome  Outcome
	Reason   string
	Attempts []Attempt
	Surplus  string // how Swarm ran more than the job asked for, if it did
}

// rank orders task states so that "is it at least X" is one comparison.
var rank = map[swarm.TaskState]int{
	swarm.TaskStateNew:       0,
	swarm.TaskStateAllocated: 1,
	swarm.TaskStatePending:   2,
	swarm.TaskStateAssigned:  3,
	swarm.TaskStateAccepted:  4,
	swarm.TaskStatePreparing: 5,
	swarm.TaskStateReady:     6,
	swarm.TaskStateStarting:  7,
	swarm.TaskStateRunning:   8,
	swarm.TaskStateComplete:  9,
	swarm.TaskStateShutdown:  10,
	swarm.TaskStateFailed:    11,
	swarm.TaskStateRejected:  12,
	swarm.TaskStateRemove:    13,
	swarm.TaskStateOrphaned:  14,
}

// giveUpGrace is how long past the restart delay jobrun waits for Swarm to
// start the next attempt before concluding it never will (a manager failover
// can lose a pending restart); the run's stop then makes sure none starts.
const giveUpGrace = 30 * time.Second

// Judge decides a job's outcome from its tasks. It is a pure function of its
// arguments: the poll loop, the tests and `jobrun history` all share it.
// iteration, when non-nil, is the service's JobIteration: tasks of older
// iterations (from an update of the service) are not this run's.
func Judge(tasks []swarm.Task, iteration *uint64, p Policy, now time.Time) Verdict {
	attempts := Attempts(tasks, iteration)
	v := Verdict{Outcome: Running, Attempts: attempts, Surplus: Surplus(attempts, p.MaxRuns)}
	if len(attempts) == 0 {
		return v
	}
	failures := 0
	for _, a := range attempts {
		if a.State == swarm.TaskStateComplete {
			v.Outcome, v.Reason = Succeeded, fmt.Sprintf("attempt %d completed", a.Number)
			return v
		}
		if a.Done() {
			failures++ // a rejected attempt too: Swarm counts it against max_attempts
		}
	}
	if reason, ok := finalRejection(attempts); ok {
		// No such image, a bad mount: retrying cannot help, so say the
		// engine's reason now rather than after every restart delay.
		v.Outcome, v.Reason = Rejected, reason
		return v
	}
	if a, ok := finalExit(attempts, p); ok {
		// A migration that fails with "column already exists" fails the
		// same way six more times: the team said which codes mean that.
		v.Outcome, v.Reason = Failed, fmt.Sprintf("attempt %d exited %d, a final exit code (%s final-exit-codes): no further attempt", a.Number, *a.ExitCode, ExtensionKey)
		return v
	}
	last := attempts[len(attempts)-1]
	if failures >= p.MaxRuns {
		v.Outcome = Failed
		if !anyStarted(attempts) {
			v.Outcome = Rejected // the engine never ran the job: nothing of it failed
		}
		v.Reason = fmt.Sprintf("all %d attempts failed; last: %s", failures, describeEnd(last))
		return v
	}
	if last.Done() && now.Sub(last.Updated) > p.Delay+giveUpGrace {
		v.Outcome, v.Reason = Failed, fmt.Sprintf("Swarm started no new attempt after %d of %d failed; last: %s", failures, p.MaxRuns, describeEnd(last))
		return v
	}
	if last.State == swarm.TaskStatePending && p.PendingTimeout > 0 {
		since := last.Created
		if last.Number > 1 {
			since = since.Add(p.Delay)
		}
		if now.Sub(since) >= p.PendingTimeout {
			reason := last.Err
			if reason == "" {
				reason = "no node took it"
			}
			v.Outcome, v.Reason = Pending, fmt.Sprintf("attempt %d pending for %s: %s", last.Number, now.Sub(since).Round(time.Second), reason)
			return v
		}
	}
	return v
}

func anyStarted(attempts []Attempt) bool {
	for _, a := range attempts {
		if a.Started() {
			return true
		}
	}
	return false
}

// Surplus says how the attempts exceed what the job asked for: more than
// one completion, or more tasks than the runs its policy allows. A Swarm bug
// does that (moby/moby#53632: jobs re-run after a leader change), and so
// does an update of the service from elsewhere. "" when they do not.
func Surplus(attempts []Attempt, maxRuns int) string {
	completed := 0
	for _, a := range attempts {
		if a.State == swarm.TaskStateComplete {
			completed++
		}
	}
	switch {
	case completed > 1:
		return fmt.Sprintf("Swarm ran the job to completion %d times, not once (%d tasks)", completed, len(attempts))
	case len(attempts) > maxRuns:
		return fmt.Sprintf("Swarm started %d tasks for a job of at most %d runs", len(attempts), maxRuns)
	}
	return ""
}

// String is how the policy reads in progress lines.
func (p Policy) String() string {
	if p.MaxRuns == 1 {
		return "one attempt, no restart"
	}
	return fmt.Sprintf("at most %d attempts, %s apart", p.MaxRuns, p.Delay)
}

// DownNode is a node the manager reports down, and since when jobrun saw it so.
type DownNode struct {
	Hostname string
	Since    time.Time
}

// Stranded fails a running verdict whose current attempt sits on a node that
// has been down for longer than grace: Swarm may leave such a task in its
// last state for a long time, and a deploy must not wait on it.
func Stranded(v Verdict, down map[string]DownNode, grace time.Duration, now time.Time) Verdict {
	if v.Outcome != Running || len(v.Attempts) == 0 {
		return v
	}
	last := v.Attempts[len(v.Attempts)-1]
	d, ok := down[last.NodeID]
	if !ok || last.Done() || now.Sub(d.Since) < grace {
		return v
	}
	v.Outcome = Failed
	v.Reason = fmt.Sprintf("node %s (%s) is down since %s: attempt %d was lost there (Swarm still reports it %s)",
		d.Hostname, shortID(last.NodeID), FormatTime(d.Since), last.Number, last.State)
	return v
}

func describeEnd(a Attempt) string {
	if a.State == swarm.TaskStateRejected {
		return "rejected: " + a.Err
	}
	if d := describeExit(a); d != "" {
		return d
	}
	return string(a.State)
}

// Exited reports whether the attempt's command ran and exited: the engine
// says no more than its exit code. A container that failed to start also
// has one, with the engine's reason ("starting container failed: …").
func (a Attempt) Exited() bool {
	err := oneLineString(a.Err)
	return a.ExitCode != nil && (err == "" || err == fmt.Sprintf("task: non-zero exit (%d)", *a.ExitCode))
}

// describeExit is an attempt's exit code and the engine's error, each said
// once: the engine's "task: non-zero exit (3)" only repeats exit code 3.
func describeExit(a Attempt) string {
	err := oneLineString(a.Err)
	switch {
	case a.Exited():
		return fmt.Sprintf("exit code %d", *a.ExitCode)
	case a.ExitCode != nil:
		return fmt.Sprintf("exit code %d: %s", *a.ExitCode, err)
	}
	return err
}

// Attempts lists the run's tasks oldest first, numbered from 1.
func Attempts(tasks []swarm.Task, iteration *uint64) []Attempt {
	out := make([]Attempt, 0, len(tasks))
	for _, t := range tasks {
		if iteration != nil && t.JobIteration != nil && t.JobIteration.Index != *iteration {
			continue
		}
		a := Attempt{
			TaskID:  t.ID,
			NodeID:  t.NodeID,
			Slot:    t.Slot,
			State:   t.Status.State,
			Err:     oneLineString(t.Status.Err), // an engine error may span lines (Engine 29 overlay errors do)
			Created: t.CreatedAt,
			Updated: t.Status.Timestamp,
		}
		if cs := t.Status.ContainerStatus; cs != nil {
			a.ContainerID = cs.ContainerID
			if a.Done() && a.State != swarm.TaskStateRejected {
				code := cs.ExitCode
				a.ExitCode = &code
			}
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].TaskID < out[j].TaskID
	})
	for i := range out {
		out[i].Number = i + 1
	}
	return out
}
