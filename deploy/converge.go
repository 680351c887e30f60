package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/docker/cli/cli/command/service/progress"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
)

// Result is how a service's rollout ended.
type Result string

const (
	Converged  Result = "converged"
	Unchanged  Result = "unchanged" // deployed again as it was, and converged already
	RolledBack Result = "rolled-back"
	Paused     Result = "paused"
	TimedOut   Result = "timed-out"
	Failed     Result = "failed" // the engine could not be asked
)

// Done says whether a result lets the release go on.
func (r Result) Done() bool { return r == Converged || r == Unchanged }

// ServiceResult is one service's verdict in a release.
type ServiceResult struct {
	Service string `json:"service"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"` // the engine's update message, or the failing tasks' errors
}

// Target is a service of the release to judge: changed or not, it must
// converge before the release goes on.
type Target struct {
	Name, ID string
	Changed  bool // created or updated by this release
}

// Waiter waits for services to converge with docker/cli's own service
// progress code (one updater per service mode) and judges each rollout.
type Waiter struct {
	Engine client.APIClient
	Out    io.Writer // progress: bars on a terminal, a line per change when piped
	Who    string    // the command its lines are jobrun's lines of: deploy, rollback
	// Terminal, with its file descriptor, draws docker service update's
	// progress bars.
	Terminal   bool
	TerminalFd uintptr
	After      func(time.Duration) <-chan time.Time // paces the polls of settle
}

// Wait waits for each service in turn, in the order given, until ctx ends,
// and returns each one's result. since is when the release updated them: a
// rollback that started before it is an earlier release's.
func (w Waiter) Wait(ctx context.Context, targets []Target, since time.Time) []ServiceResult {
	results := make([]ServiceResult, 0, len(targets))
	for _, t := range targets {
		results = append(results, w.one(ctx, t, since))
	}
	return results
}

// one waits for a service, if it must, and judges it.
func (w Waiter) one(ctx context.Context, t Target, since time.Time) ServiceResult {
	// An unchanged service that runs as asked needs no wait (nor the
	// progress code's 5 s of verification); one that does not is waited for
	// as a changed one is: its spec being the file's is not its running.
	// Past the deadline (spent on an earlier service) a look still says
	// which.
	st, err := w.look(context.WithoutCancel(ctx), t.ID)
	waited := t.Changed || err != nil || !st.Converged()
	if !t.Changed && st.Update == swarm.UpdateStateUpdating {
		// The file asks for what an earlier release's update, still under
		// way, rolls out: its rollback would be this release's too.
		since = st.UpdateStarted
	}
	if waited {
		err = w.progress(ctx, t)
	}
	// However the wait ended, the verdict is where the service stands now.
	if now, lerr := w.look(context.WithoutCancel(ctx), t.ID); lerr == nil {
		st = now
	} else if err == nil {
		err = lerr
	}
	res := Rollout(t, st, since, waited, err, ctx.Err() != nil)
	if !res.Result.Done() {
		if why := w.failingTasks(context.WithoutCancel(ctx), t.ID); why != "" {
			res.Message = strings.TrimSpace(res.Message + "; " + why)
		}
	}
	return res
}

// Rollout judges a service's rollout from where it stands once the wait
// ended: waited says it was waited for, err is what ended the wait, if not
// its converging, and timedOut that --deploy-timeout had passed.
func Rollout(t Target, st State, since time.Time, waited bool, err error, timedOut bool) ServiceResult {
	res := ServiceResult{Service: t.Name}
	switch {
	case st.RolledBackSince(since):
		// The progress code calls a finished rollback converged.
		res.Result, res.Message = RolledBack, st.UpdateMessage
	case st.Paused():
		res.Result, res.Message = Paused, st.String()
	case st.Converged() && !waited:
		res.Result = Unchanged
	case st.Converged():
		res.Result = Converged
	case timedOut:
		res.Result, res.Message = TimedOut, "not converged by --deploy-timeout: "+st.String()
	case err != nil:
		res.Result, res.Message = Failed, err.Error()
	default:
		res.Result, res.Message = Failed, st.String() // not reached: a wait ends converged, paused, timed out or failed
	}
	if !res.Result.Done() && !t.Changed {
		res.Message = "deployed again as it was; " + res.Message
	}
	return res
}

// progress shows docker/cli's service progress until it calls the service
// converged, then settles it: the progress code trusts an update the engine
// completed earlier, whatever runs now.
func (w Waiter) progress(ctx context.Context, t Target) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- progress.ServiceProgress(ctx, w.Engine, t.ID, dropAdvice{pw}) }()
	w.render(t.Name, pr)
	if err := <-done; err != nil {
		return err
	}
	// ServiceProgress notifies itself of SIGINT (docker/cli installs the
	// handler for as long as it runs, unasked) and then returns nil, as if
	// the wait were over. jobrun's own handler cancels ctx on the same
	// Ctrl-C: ctx decides how the wait ended, never docker's handler.
	if err := ctx.Err(); err != nil {
		return err
	}
	return w.settle(ctx, t.Name, t.ID)
}

// dropAdvice leaves out what ServiceProgress says when its own SIGINT
// handler fires ("Operation continuing in background.", "Use `docker
// service ps …` to check progress."): docker's advice, not jobrun's, which
// says itself what an interrupted release did. The progress writes one
// message per Write.
type dropAdvice struct{ io.WriteCloser }

func (d dropAdvice) Write(p []byte) (int, error) {
	var m jsonstream.Message
	if json.Unmarshal(p, &m) == nil && m.ID == "" && (m.Status == "Operation continuing in background." ||
		strings.HasPrefix(m.Status, "Use `docker service ps ") && strings.HasSuffix(m.Status, "` to check progress.")) {
		return len(p), nil
	}
	return d.WriteCloser.Write(p)
}

// settle polls the service until it is converged, its update paused, or ctx
// ends, and says what changed on the way.
func (w Waiter) settle(ctx context.Context, name, id string) error {
	last := ""
	for {
		st, err := w.look(ctx, id)
		if err != nil || st.Converged() || st.Paused() {
			return err
		}
		if now := st.String(); now != last {
			fmt.Fprintf(w.Out, "jobrun: %s: %s: %s\n", w.Who, name, now)
			last = now
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.After(time.Second):
		}
	}
}

// look reads what Judge needs from the engine.
func (w Waiter) look(ctx context.Context, id string) (State, error) {
	inspected, err := w.Engine.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	svc := inspected.Service
	if err != nil {
		return State{}, fmt.Errorf("inspect service %s: %w", id, err)
	}
	tasks, err := w.Engine.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", id).Add("desired-state", "running").Add("_up-to-date", "true")})
	if err != nil {
		return State{}, fmt.Errorf("list the tasks of service %s: %w", svc.Spec.Name, err)
	}
	nodes, err := w.Engine.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return State{}, fmt.Errorf("list the nodes: %w", err)
	}
	active := map[string]bool{}
	for _, n := range nodes.Items {
		active[n.ID] = n.Status.State != swarm.NodeStateDown
	}
	return Judge(svc, tasks.Items, active), nil
}

// render shows the progress stream: as docker service update does on a
// terminal, else one line each time a line of it changes.
func (w Waiter) render(service string, r io.Reader) {
	if w.Terminal {
		_ = jsonmessage.DisplayJSONMessagesStream(r, w.Out, w.TerminalFd, true, nil)
		_, _ = io.Copy(io.Discard, r)
		return
	}
	last := map[string]string{}
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			_, _ = io.Copy(io.Discard, r)
			return
		}
		text := strings.TrimSpace(m.Status)
		if m.Progress != nil && m.Progress.Total > 0 && !m.Progress.HideCounts {
			text = fmt.Sprintf("%s %d/%d", text, m.Progress.Current, m.Progress.Total)
		}
		// The countdown of the verification wait is one change, not five.
		countdown := strings.HasPrefix(text, "Waiting ") && strings.HasPrefix(last[m.ID], "Waiting ")
		if text == "" || last[m.ID] == text || countdown {
			continue
		}
		last[m.ID] = text
		if m.ID != "" {
			text = m.ID + ": " + text
		}
		fmt.Fprintf(w.Out, "jobrun: %s: %s: %s\n", w.Who, service, text)
	}
}

// failingTasks names the service's newest failed tasks, with the engine's
// error and the last lines of their output.
func (w Waiter) failingTasks(ctx context.Context, id string) string {
	list, err := w.Engine.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", id)})
	tasks := list.Items
	if err != nil {
		return ""
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].Status.Timestamp.After(tasks[j].Status.Timestamp) })
	var parts []string
	for _, t := range tasks {
		if len(parts) == 2 {
			break
		}
		if t.Status.State != swarm.TaskStateFailed && t.Status.State != swarm.TaskStateRejected {
			continue
		}
		part := fmt.Sprintf("task %.12s %s: %s", t.ID, t.Status.State, t.Status.Err)
		if tail := w.lastLines(ctx, t.ID, 5); tail != "" {
			part += "; last output: " + tail
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}

func (w Waiter) lastLines(ctx context.Context, taskID string, n int) string {
	rc, err := w.Engine.TaskLogs(ctx, taskID, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(n)})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var out strings.Builder
	if _, err := stdcopy.StdCopy(&out, &out, io.LimitReader(rc, 64<<10)); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(out.String(), "\n", " | ")), " ")
}
