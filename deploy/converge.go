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
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"
)

// Result is how a service's rollout ended.
type Result string

const (
	Converged  Result = "converged"
	Unchanged  Result = "unchanged" // deployed again as it was: nothing to converge
	RolledBack Result = "rolled-back"
	Paused     Result = "paused"
	TimedOut   Result = "timed-out"
	Failed     Result = "failed" // the engine could not be asked
)

// ServiceResult is one service's verdict in a release.
type ServiceResult struct {
	Service string `json:"service"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"` // the engine's update message, or the failing tasks' errors
}

// Waiter waits for services to converge with docker/cli's own service
// progress code (one updater per service mode) and judges each rollout.
type Waiter struct {
	Engine client.APIClient
	Out    io.Writer // progress: bars on a terminal, a line per change when piped
	// Terminal, with its file descriptor, draws docker service update's
	// progress bars.
	Terminal   bool
	TerminalFd uintptr
}

// Wait waits for each service in turn, until ctx ends, and returns each
// one's result. since is when the release updated them: a rollback that
// started before it is an earlier release's.
func (w Waiter) Wait(ctx context.Context, services map[string]string, since time.Time) []ServiceResult {
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	sort.Strings(names)
	results := make([]ServiceResult, 0, len(names))
	for _, name := range names {
		results = append(results, w.one(ctx, name, services[name], since))
	}
	return results
}

func (w Waiter) one(ctx context.Context, name, id string, since time.Time) ServiceResult {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- progress.ServiceProgress(ctx, w.Engine, id, pw) }()
	w.render(name, pr)
	err := <-done
	res := ServiceResult{Service: name, Result: Converged}
	switch {
	case ctx.Err() != nil:
		res.Result, res.Message = TimedOut, "still updating after --deploy-timeout"
	case err != nil && strings.Contains(err.Error(), "paused"):
		res.Result, res.Message = Paused, err.Error()
	case err != nil:
		res.Result, res.Message = Failed, err.Error()
	}
	// ServiceProgress reports a finished rollback as converged: the
	// service's update status says which it was.
	if svc, _, err := w.Engine.ServiceInspectWithRaw(context.WithoutCancel(ctx), id, swarm.ServiceInspectOptions{}); err == nil && svc.UpdateStatus != nil &&
		svc.UpdateStatus.StartedAt != nil && !svc.UpdateStatus.StartedAt.Before(since) {
		switch svc.UpdateStatus.State {
		case swarm.UpdateStateRollbackCompleted, swarm.UpdateStateRollbackStarted, swarm.UpdateStateRollbackPaused:
			res.Result, res.Message = RolledBack, svc.UpdateStatus.Message
		}
	}
	if res.Result != Converged {
		if why := w.failingTasks(context.WithoutCancel(ctx), id); why != "" {
			res.Message = strings.TrimSpace(res.Message + "; " + why)
		}
	}
	return res
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
		var m jsonmessage.JSONMessage
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
		fmt.Fprintf(w.Out, "jobrun: deploy: %s: %s\n", service, text)
	}
}

// failingTasks names the service's newest failed tasks, with the engine's
// error and the last lines of their output.
func (w Waiter) failingTasks(ctx context.Context, id string) string {
	tasks, err := w.Engine.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", id))})
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
	rc, err := w.Engine.TaskLogs(ctx, taskID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(n)})
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
