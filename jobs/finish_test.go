package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"jobrun/jobs/jobstest"
	"jobrun/logs"
)

// endingEngine is an engine at the end of a run: one service whose task
// has completed. Every call, and every verdict the reporter prints, goes
// into one timeline, so a test sees the order of the end-of-run steps.
type endingEngine struct {
	Engine // a call the end of a run does not make panics
	jobstest.Configs
	timeline *timeline
	saveErr  error
	removed  bool
}

type timeline struct {
	mu     sync.Mutex
	events []string
}

func (t *timeline) add(e string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, e)
}

// first is the index of the first event starting with prefix, -1 if none.
func (t *timeline) first(prefix string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, e := range t.events {
		if strings.HasPrefix(e, prefix) {
			return i
		}
	}
	return -1
}

func (e *endingEngine) TaskList(context.Context, client.TaskListOptions) (client.TaskListResult, error) {
	e.timeline.add("task-list")
	return client.TaskListResult{Items: []swarm.Task{{ID: "t1", NodeID: "n1", Status: swarm.TaskStatus{State: swarm.TaskStateComplete}, DesiredState: swarm.TaskStateShutdown}}}, nil
}

// NodeInspect names the attempt's node, for the record.
func (e *endingEngine) NodeInspect(_ context.Context, id string, _ client.NodeInspectOptions) (client.NodeInspectResult, error) {
	return client.NodeInspectResult{Node: swarm.Node{ID: id, Description: swarm.NodeDescription{Hostname: "host-" + id}}}, nil
}

func (e *endingEngine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	if e.removed {
		return client.ServiceInspectResult{}, cerrdefs.ErrNotFound.WithMessage("no such service")
	}
	return client.ServiceInspectResult{Service: swarm.Service{ID: id, Spec: swarm.ServiceSpec{Mode: swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}}}}}, nil
}

func (e *endingEngine) ServiceUpdate(_ context.Context, _ string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	if ns := o.Spec.Labels[LabelStackNamespace]; ns != "" {
		e.timeline.add("join stack " + ns)
	} else {
		e.timeline.add("stop")
	}
	return client.ServiceUpdateResult{}, nil
}

func (e *endingEngine) ServiceRemove(context.Context, string, client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	e.timeline.add("remove")
	e.removed = true
	return client.ServiceRemoveResult{}, nil
}

func (e *endingEngine) ConfigCreate(ctx context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	e.timeline.add("save " + o.Spec.Name)
	if e.saveErr != nil {
		return client.ConfigCreateResult{}, e.saveErr
	}
	return e.Configs.ConfigCreate(ctx, o)
}

func (e *endingEngine) ConfigList(ctx context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	e.timeline.add("config-list")
	return e.Configs.ConfigList(ctx, o)
}

func (e *endingEngine) ConfigRemove(ctx context.Context, id string, o client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	e.timeline.add("config-remove " + id)
	return e.Configs.ConfigRemove(ctx, id, o)
}

// noSource is an engine log source whose attempts printed nothing.
type noSource struct{}

func (noSource) Name() string              { return "engine" }
func (noSource) Location(logs.Task) string { return "" }
func (noSource) Follow(context.Context, logs.Task, <-chan struct{}, io.Writer, io.Writer) error {
	return nil
}

// timelineReporter puts the verdict and each notice into the timeline.
type timelineReporter struct{ timeline *timeline }

func (r timelineReporter) Attempt(string, Attempt, int)       {}
func (r timelineReporter) Notice(_, msg string)               { r.timeline.add("notice " + msg) }
func (r timelineReporter) Output(string, int, bool) io.Writer { return io.Discard }
func (r timelineReporter) Done(rec Record)                    { r.timeline.add("verdict " + string(rec.Outcome)) }

// finishRun ends a succeeded run owned by this jobrun, on engine.
func finishRun(t *testing.T, engine *endingEngine, opts RunOptions) (Record, error) {
	t.Helper()
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	job := Job{Name: "migrate", Stack: "todo", Version: "v1", RunID: "run1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "jobrun_todo_migrate"}}, Policy: Policy{MaxRuns: 7}}
	fired := make(chan time.Time)
	close(fired) // every wait of the end of a run is already over
	r := &Runner{
		Engine: engine, Logs: noSource{}, Report: timelineReporter{engine.timeline}, Records: Records{Engine: engine},
		Now: func() time.Time { return now }, After: func(time.Duration) <-chan time.Time { return fired },
		Opts: opts.WithPacing(time.Second),
	}
	exit := 0
	v := Verdict{Outcome: Succeeded, Reason: "attempt 1 completed", Attempts: []Attempt{{Number: 1, TaskID: "t1", NodeID: "n1", State: swarm.TaskStateComplete, ExitCode: &exit}}}
	out := newFollowers(context.Background(), job, r.Logs, r.Report)
	return r.finish(context.Background(), job, lease{serviceID: "svc1", owner: true}, v, out, newRecord(job, r.Logs, LogPlace{}, now))
}

// TestFinishPrintsTheVerdictBeforePruning: pruning old records can take
// seconds (24 s for 10,000): the verdict is printed first, after the record
// is saved and before the service goes.
func TestFinishPrintsTheVerdictBeforePruning(t *testing.T) {
	tl := &timeline{}
	engine := &endingEngine{timeline: tl}
	if _, err := finishRun(t, engine, RunOptions{KeepRuns: 5}); err != nil {
		t.Fatalf("finish: %v", err)
	}
	stop, save, verdict, remove, prune := tl.first("stop"), tl.first("save "+recordName("run1")), tl.first("verdict succeeded"), tl.first("remove"), tl.first("config-list")
	if stop < 0 || save < 0 || verdict < 0 || remove < 0 || prune < 0 {
		t.Fatalf("a step is missing (stop %d, save %d, verdict %d, remove %d, prune %d): %q", stop, save, verdict, remove, prune, tl.events)
	}
	if !(stop < save && save < verdict && verdict < remove && remove < prune) {
		t.Errorf("steps out of order (want stop < save < verdict < remove < prune): %q", tl.events)
	}
}

// TestFinishKeepsTheServiceWhenTheRecordIsNotSaved: without its record the
// service is the only evidence of the run: it stays, and the user is told
// how to read it and that the next run clears it.
func TestFinishKeepsTheServiceWhenTheRecordIsNotSaved(t *testing.T) {
	tl := &timeline{}
	engine := &endingEngine{timeline: tl, saveErr: errors.New("rpc error: raft: no leader")}
	rec, err := finishRun(t, engine, RunOptions{KeepRuns: 5})
	if err != nil || rec.Outcome != Succeeded {
		t.Fatalf("finish: %v, %s; a failed save must not change the verdict", rec.Outcome, err)
	}
	if i := tl.first("remove"); i >= 0 {
		t.Errorf("the service was removed although its record was not saved: %q", tl.events)
	}
	warn := tl.first("notice WARNING: the run's record could not be saved (")
	if warn < 0 || warn > tl.first("verdict") {
		t.Fatalf("no WARNING before the verdict: %q", tl.events)
	}
	for _, words := range []string{"raft: no leader", "service jobrun_todo_migrate is kept", "docker service ps jobrun_todo_migrate", "the next run of migrate removes"} {
		if !strings.Contains(tl.events[warn], words) {
			t.Errorf("the WARNING lacks %q: %s", words, tl.events[warn])
		}
	}
}

// nodeContainers is the engine jobrun talks to, node n1, holding the
// containers of the job's attempts that ran there.
type nodeContainers struct {
	timeline   *timeline
	containers []container.Summary
}

func (n *nodeContainers) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: system.Info{Swarm: swarm.Info{NodeID: "n1"}}}, nil
}

func (n *nodeContainers) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	if !o.All || !o.Filters["label"]["com.docker.swarm.service.id=svc1"] {
		return client.ContainerListResult{}, fmt.Errorf("unexpected listing %+v", o)
	}
	return client.ContainerListResult{Items: n.containers}, nil
}

func (n *nodeContainers) ContainerRemove(_ context.Context, id string, _ client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	n.timeline.add("container-remove " + id)
	return client.ContainerRemoveResult{}, nil
}

// TestFinishReapsExitedContainers: once the service is removed, the exited
// containers Engine 20.10 keeps of it go from the node jobrun talks to, and
// the attempts that ran on other nodes are counted.
func TestFinishReapsExitedContainers(t *testing.T) {
	tl := &timeline{}
	engine := &endingEngine{timeline: tl}
	node := &nodeContainers{timeline: tl, containers: []container.Summary{{ID: "c-exited", State: container.StateExited}, {ID: "c-running", State: container.StateRunning}}}
	attempts := []Attempt{{Number: 1, NodeID: "n1", ContainerID: "c-exited"}, {Number: 2, NodeID: "n2", ContainerID: "c-other"}}
	r := &Runner{Engine: engine, Containers: node, Report: timelineReporter{tl}}
	r.reap(context.Background(), Job{Name: "migrate"}, "svc1", attempts)
	if tl.first("container-remove c-exited") < 0 {
		t.Errorf("the exited container was not removed: %q", tl.events)
	}
	if tl.first("container-remove c-running") >= 0 {
		t.Errorf("a running container was removed: %q", tl.events)
	}
	if tl.first("notice 1 attempt(s) ran on other nodes") < 0 {
		t.Errorf("the attempt on another node was not counted: %q", tl.events)
	}
}

// TestFinishKeptJoinsTheStackOnceStopped: --keep leaves the service, and
// only once Swarm confirmed it stopped does it get the stack's label.
func TestFinishKeptJoinsTheStackOnceStopped(t *testing.T) {
	tl := &timeline{}
	if _, err := finishRun(t, &endingEngine{timeline: tl}, RunOptions{Keep: true}); err != nil {
		t.Fatalf("finish: %v", err)
	}
	stop, join := tl.first("stop"), tl.first("join stack todo")
	confirmed := false // a listing of the tasks between the stop and the join
	for i := stop + 1; stop >= 0 && i < join; i++ {
		confirmed = confirmed || tl.events[i] == "task-list"
	}
	if stop < 0 || join < stop || !confirmed || tl.first("remove") >= 0 {
		t.Errorf("want stop, its confirmation, then join stack todo, and no remove: %q", tl.events)
	}
}
