package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/clocktest"
	"jobrun/jobs/jobstest"
	"jobrun/logs"
)

// fakeEngine is a recording Engine holding at most one job service. The
// test scripts the service's tasks with tasks(call, stopped): the call is
// the how-manieth TaskList of the service, stopped says whether jobrun has
// asked the service for no more completions.
type fakeEngine struct {
	jobstest.Configs
	mu        sync.Mutex
	calls     []string
	svc       *swarm.Service
	createErr error
	firstErr  error  // the first create fails with it
	onCreate  func() // runs as the service is created (another jobrun acting meanwhile)
	listErr   error  // every TaskList of the service fails with it
	listCalls int
	stopped   bool
	tasks     func(call int, stopped bool) []swarm.Task
	byID      []swarm.Task // what a TaskList by task ID finds (orphans)
	nodes     map[string]swarm.Node
}

func (f *fakeEngine) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// called lists the calls whose name starts with prefix.
func (f *fakeEngine) called(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeEngine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("create %s query-registry=%t", o.Spec.Name, o.QueryRegistry)
	if f.createErr != nil {
		return client.ServiceCreateResult{}, f.createErr
	}
	if err := f.firstErr; err != nil {
		f.firstErr = nil
		return client.ServiceCreateResult{}, err
	}
	f.svc = &swarm.Service{ID: "svc1", Spec: o.Spec}
	if f.onCreate != nil {
		f.onCreate()
	}
	return client.ServiceCreateResult{ID: "svc1"}, nil
}

func (f *fakeEngine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.svc == nil {
		return client.ServiceInspectResult{}, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
	}
	return client.ServiceInspectResult{Service: *f.svc}, nil
}

func (f *fakeEngine) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	spec := o.Spec
	f.mu.Lock()
	defer f.mu.Unlock()
	completions := "-"
	if j := spec.Mode.ReplicatedJob; j != nil && j.TotalCompletions != nil {
		completions = fmt.Sprint(*j.TotalCompletions)
	}
	f.record("update %s completions=%s stopped-label=%s", id, completions, spec.Labels[LabelStopped])
	if f.svc == nil {
		return client.ServiceUpdateResult{}, cerrdefs.ErrNotFound.WithMessage("no such service")
	}
	f.svc.Spec, f.stopped = spec, completions == "0"
	return client.ServiceUpdateResult{}, nil
}

func (f *fakeEngine) ServiceRemove(_ context.Context, id string, _ client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("remove %s", id)
	f.svc = nil
	return client.ServiceRemoveResult{}, nil
}

func (f *fakeEngine) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, byID := o.Filters["id"]; byID {
		return client.TaskListResult{Items: f.byID}, nil
	}
	if f.svc == nil {
		return client.TaskListResult{}, cerrdefs.ErrNotFound.WithMessage("service not found")
	}
	if f.listErr != nil {
		return client.TaskListResult{}, f.listErr
	}
	f.listCalls++
	return client.TaskListResult{Items: f.tasks(f.listCalls, f.stopped)}, nil
}

func (f *fakeEngine) NodeInspect(_ context.Context, id string, _ client.NodeInspectOptions) (client.NodeInspectResult, error) {
	if n, ok := f.nodes[id]; ok {
		return client.NodeInspectResult{Node: n}, nil
	}
	return client.NodeInspectResult{Node: swarm.Node{ID: id, Description: swarm.NodeDescription{Hostname: "host-" + id}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}}}, nil
}

func (f *fakeEngine) Events(ctx context.Context, _ client.EventsListOptions) client.EventsResult {
	return client.EventsResult{Messages: make(chan events.Message), Err: make(chan error)}
}

func (f *fakeEngine) ConfigCreate(ctx context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	f.mu.Lock()
	f.record("config-create %s", o.Spec.Name)
	f.mu.Unlock()
	return f.Configs.ConfigCreate(ctx, o)
}

// echoSource prints one line per attempt, tells started (if set) the
// attempt's task, then waits for the attempt's end; with hang it never
// finishes on its own (a drain that times out).
type echoSource struct {
	hang    bool
	started chan<- string
}

func (s echoSource) Name() string              { return "engine" }
func (s echoSource) Location(logs.Task) string { return "" }
func (s echoSource) Follow(ctx context.Context, t logs.Task, ended <-chan struct{}, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "output of %s\n", t.ID)
	if s.started != nil {
		select {
		case s.started <- t.ID:
		default: // nobody waits for this one
		}
	}
	if !s.hang {
		select {
		case <-ended:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
	<-ctx.Done()
	return nil
}

func testJob() Job {
	one := uint64(1)
	return Job{
		Name: "migrate", Stack: "todo", Version: "v1", RunID: "run1",
		Spec: swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: "jobrun_todo_migrate", Labels: map[string]string{
				LabelJob: "migrate", LabelStack: "todo", LabelVersion: "v1", LabelRunID: "run1", LabelMaxRuns: "2", LabelDelay: "1s",
			}},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "app:v1"}},
			Mode:         swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: &one, TotalCompletions: &one}},
		},
		Policy: Policy{MaxRuns: 2, Delay: time.Second},
	}
}

type runnerTest struct {
	engine *fakeEngine
	runner *Runner
	clock  *clocktest.Clock
	out    *lockedBuffer
	errb   *lockedBuffer
	stop   context.CancelFunc // stops the clock's driver: defer it
}

// lockedBuffer is a buffer the test reads while the run writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newRunnerTest is a runner on a fake clock from t0, moved on to each wait
// the run asks once all its goroutines are blocked, until stop. It must be
// made inside a synctest bubble (runIn).
func newRunnerTest(t *testing.T, engine *fakeEngine, src logs.Source, opts RunOptions) *runnerTest {
	clock := clocktest.New(t0)
	ctx, stop := context.WithCancel(t.Context())
	go clock.AdvanceWhenIdle(ctx)
	var out, errb lockedBuffer
	opts.Fast, opts.Slow, opts.Reconnect = 100*time.Millisecond, time.Second, 10*time.Second
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = time.Hour
	}
	return &runnerTest{engine: engine, clock: clock, out: &out, errb: &errb, stop: stop, runner: &Runner{
		Engine: engine, Logs: src, Report: NewTextReporter(&out, &errb, false, false),
		Records: Records{Engine: engine}, Now: clock.Now, After: clock.After, Opts: opts,
	}}
}

// succeededBefore is the record of run0, which ran version v1 to success.
func succeededBefore(engine *fakeEngine) func() {
	return func() {
		rec := Record{RunID: "run0", Job: "migrate", Stack: "todo", Version: "v1", Outcome: Succeeded, Ended: t0}
		// Straight to the store: the fake records only this run's calls.
		_ = Records{Engine: &engine.Configs}.Save(context.Background(), rec, nil)
	}
}

// live is a task of the job running on node n1 since t0.
func live(id string) swarm.Task {
	tk := task(id, swarm.TaskStateRunning, 0, 0)
	tk.NodeID = "n1"
	tk.Status.ContainerStatus = &swarm.ContainerStatus{ContainerID: "c-" + id}
	return tk
}

func ended(id string, state swarm.TaskState, code int) swarm.Task {
	tk := withExit(task(id, state, 0, 0), "c-"+id, code, "")
	tk.NodeID = "n1"
	return tk
}

// runningUntilStopped: the task runs until jobrun stops the job, then
// ends as Swarm reports a shut-down task.
func runningUntilStopped(_ int, stopped bool) []swarm.Task {
	if stopped {
		return []swarm.Task{ended("t1", swarm.TaskStateShutdown, 137)}
	}
	return []swarm.Task{live("t1")}
}

// lifecycleCase is one run of TestRunnerLifecycle.
type lifecycleCase struct {
	name          string
	engine        *fakeEngine
	src           echoSource
	opts          RunOptions
	before        func(*fakeEngine) func() // what happened before the run, if anything
	interrupt     bool                     // cancel the run once the attempt runs
	removeOutside bool                     // remove the service once the attempt runs
	wantOut       Outcome
	wantErr       string   // an *EngineError saying this, instead of the verdict's error
	wantCalls     []string // calls made, in order, by their prefix
	wantNo        []string // call prefixes never made
	wantStderr    []string
	wantRecord    func(Record) string // what is wrong with the saved record, "" if nothing
	skipped       bool                // the run was skipped: an earlier one had succeeded
}

func lifecycleCases() []lifecycleCase {
	completeOnThirdPoll := func(call int, _ bool) []swarm.Task {
		if call < 3 {
			return []swarm.Task{live("t1")}
		}
		return []swarm.Task{ended("t1", swarm.TaskStateComplete, 0)}
	}
	return []lifecycleCase{
		{
			name:       "succeeds: stopped as a guard, recorded, then removed",
			engine:     &fakeEngine{tasks: completeOnThirdPoll},
			wantOut:    Succeeded,
			wantCalls:  []string{"create jobrun_todo_migrate query-registry=true", "update svc1 completions=0 stopped-label=true", "config-create jobrun-run1-record", "remove svc1"},
			wantStderr: []string{"started v1 as service jobrun_todo_migrate (run run1, at most 2 attempts, 1s apart)", "succeeded"},
			wantRecord: func(r Record) string {
				if r.Outcome != Succeeded || len(r.Attempts) != 1 {
					return fmt.Sprintf("outcome %s with %d attempts", r.Outcome, len(r.Attempts))
				}
				return ""
			},
		},
		{
			name: "attached to another jobrun's run: stops and removes nothing",
			engine: &fakeEngine{
				createErr: cerrdefs.ErrConflict.WithMessage("name conflicts with an existing object"),
				svc:       &swarm.Service{ID: "svc1", Spec: testJob().Spec},
				tasks:     completeOnThirdPoll,
			},
			wantOut:    Succeeded,
			wantNo:     []string{"update", "remove", "config-create"},
			wantStderr: []string{"already running (run run1): following it"},
		},
		{
			name:          "removed outside jobrun: names what Swarm still runs",
			engine:        &fakeEngine{tasks: func(int, bool) []swarm.Task { return []swarm.Task{live("t1")} }, byID: []swarm.Task{live("t1")}},
			removeOutside: true,
			wantOut:       Removed,
			wantNo:        []string{"update"},
			wantStderr:    []string{"removed outside jobrun", "still reports task t1 running on node host-n1", "moby/moby#44312"},
		},
		{
			name:       "interrupted: stopped before removal",
			engine:     &fakeEngine{tasks: runningUntilStopped},
			interrupt:  true,
			wantOut:    Interrupted,
			wantCalls:  []string{"create", "update svc1 completions=0 stopped-label=true", "config-create", "remove svc1"},
			wantStderr: []string{"stopped the job: Swarm reports no attempt of it running on any node"},
		},
		{
			name:       "interrupted with --detach-on-interrupt: left running",
			engine:     &fakeEngine{tasks: runningUntilStopped},
			interrupt:  true,
			opts:       RunOptions{DetachOnInterrupt: true},
			wantOut:    Interrupted,
			wantNo:     []string{"update", "remove"},
			wantStderr: []string{"left running: service jobrun_todo_migrate"},
		},
		{
			name:       "timed out: stopped, then removed",
			engine:     &fakeEngine{tasks: runningUntilStopped},
			opts:       RunOptions{Timeout: 300 * time.Millisecond},
			wantOut:    TimedOut,
			wantCalls:  []string{"create", "update svc1 completions=0", "config-create", "remove svc1"},
			wantStderr: []string{"still running after --timeout", "stopped the job"},
		},
		{
			name: "a stop Swarm never confirms keeps the service as the lock",
			engine: &fakeEngine{
				tasks: func(int, bool) []swarm.Task { return []swarm.Task{live("t1")} },
				nodes: map[string]swarm.Node{"n1": {Description: swarm.NodeDescription{Hostname: "worker2"}, Status: swarm.NodeStatus{State: swarm.NodeStateDown}}},
			},
			// Before the down node fails the run, 60 s after it is seen down.
			opts:       RunOptions{Timeout: 20 * time.Second},
			wantOut:    TimedOut,
			wantCalls:  []string{"create", "update svc1 completions=0", "config-create"},
			wantNo:     []string{"remove"},
			wantStderr: []string{"could not confirm the job stopped: Swarm still reports task t1 running on node worker2 (n1, down), container c-t1; service jobrun_todo_migrate is kept as the job's lock"},
			wantRecord: func(r Record) string {
				if r.StopNote == "" {
					return "no stop note"
				}
				return ""
			},
		},
		{
			name:       "output still arriving after the drain timeout is flagged",
			engine:     &fakeEngine{tasks: completeOnThirdPoll},
			src:        echoSource{hang: true},
			opts:       RunOptions{DrainTimeout: time.Second},
			wantOut:    Succeeded,
			wantStderr: []string{"WARNING: attempt 1: output still arriving"},
			wantRecord: func(r Record) string {
				if !strings.Contains(r.LogNote, "still arriving") {
					return "log note " + r.LogNote
				}
				return ""
			},
		},
		{
			name: "a second completion is reported loudly",
			engine: &fakeEngine{tasks: func(call int, _ bool) []swarm.Task {
				first := ended("t1", swarm.TaskStateComplete, 0)
				if call < 2 {
					return []swarm.Task{first}
				}
				second := ended("t2", swarm.TaskStateComplete, 0)
				second.CreatedAt = t0.Add(time.Second)
				return []swarm.Task{first, second}
			}},
			wantOut:    Succeeded,
			wantStderr: []string{"WARNING: Swarm ran the job to completion 2 times, not once", "moby/moby#53632"},
			wantRecord: func(r Record) string {
				if r.Surplus == "" {
					return "no surplus in the record"
				}
				return ""
			},
		},
		{
			name:       "a version that already succeeded is not run again",
			engine:     &fakeEngine{tasks: completeOnThirdPoll},
			before:     succeededBefore,
			wantOut:    Succeeded,
			wantNo:     []string{"create", "update", "remove", "config-create"},
			wantStderr: []string{"version v1 already succeeded (run run0, ", "not running it again"},
			skipped:    true,
		},
		{
			name: "another jobrun recorded a success between the check and the create: stopped, removed, skipped",
			engine: func() *fakeEngine {
				f := &fakeEngine{tasks: runningUntilStopped}
				f.onCreate = succeededBefore(f)
				return f
			}(),
			wantOut:    Succeeded,
			wantCalls:  []string{"create", "update svc1 completions=0 stopped-label=true", "remove svc1"},
			wantNo:     []string{"config-create"},
			wantStderr: []string{"version v1 already succeeded (run run0, ", "not running it again"},
			skipped:    true,
		},
		{
			name: "the engine lost while waiting: says the job may still be running, stops and records nothing",
			engine: &fakeEngine{tasks: runningUntilStopped,
				listErr: cerrdefs.ErrUnavailable.WithMessage("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")},
			wantErr:    "lost the engine while waiting for migrate; the job may still be running: check with docker service ps jobrun_todo_migrate",
			wantCalls:  []string{"create"},
			wantNo:     []string{"update", "remove", "config-create"},
			wantStderr: []string{"the engine is not answering (Cannot connect to the Docker daemon"},
		},
	}
}

func TestRunnerLifecycle(t *testing.T) {
	for _, tt := range lifecycleCases() {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				started := make(chan string, 8)
				tt.src.started = started
				rt := newRunnerTest(t, tt.engine, tt.src, tt.opts)
				defer rt.stop()
				rt.runner.Opts.QueryRegistry = true
				if tt.before != nil {
					tt.before(tt.engine)()
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tt.interrupt || tt.removeOutside {
					go actOnStart(ctx, started, func() {
						if tt.interrupt {
							cancel()
							return
						}
						_, _ = rt.engine.ServiceRemove(ctx, "svc1", client.ServiceRemoveOptions{})
					})
				}
				rec, err := rt.runner.Run(ctx, testJob())
				t.Logf("stderr:\n%s", rt.errb.String())
				checkRun(t, rt, tt, rec, err)
			})
		})
	}
}

// actOnStart calls act once the first attempt's output is followed.
func actOnStart(ctx context.Context, started <-chan string, act func()) {
	select {
	case <-started:
		act()
	case <-ctx.Done():
	}
}

// checkRun checks a lifecycle run: its outcome and error, the calls it made,
// what it said and what it recorded.
func checkRun(t *testing.T, rt *runnerTest, tt lifecycleCase, rec Record, err error) {
	t.Helper()
	if rec.Outcome != tt.wantOut || rec.Skipped != tt.skipped {
		t.Errorf("outcome %q skipped %t, want %q skipped %t", rec.Outcome, rec.Skipped, tt.wantOut, tt.skipped)
	}
	var verdict *VerdictError
	var engineErr *EngineError
	switch {
	case tt.wantErr != "":
		if !errors.As(err, &engineErr) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("err %v, want an engine error saying %q", err, tt.wantErr)
		}
	case tt.wantOut == Succeeded:
		if err != nil {
			t.Errorf("err %v, want none", err)
		}
	case !errors.As(err, &verdict) || verdict.Outcome != tt.wantOut:
		t.Errorf("err %v, want the verdict %s", err, tt.wantOut)
	}
	if err := inOrder(rt.engine.called(""), tt.wantCalls); err != nil {
		t.Error(err)
	}
	for _, no := range tt.wantNo {
		if got := rt.engine.called(no); len(got) > 0 {
			t.Errorf("made calls %q, want none", got)
		}
	}
	for _, want := range tt.wantStderr {
		if !strings.Contains(rt.errb.String(), want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if tt.wantRecord != nil {
		saved, err := rt.runner.Records.Find(context.Background(), RecordFilter{Stack: "todo", Job: "migrate", RunID: "run1"}, 1)
		if err != nil || len(saved) != 1 {
			t.Fatalf("no record saved: %v", err)
		}
		if problem := tt.wantRecord(saved[0]); problem != "" {
			t.Errorf("saved record: %s", problem)
		}
	}
}

// TestRunnerAttach: jobrun logs --follow watches another jobrun's run to its
// verdict and prints its output; it stops, records and removes nothing.
func TestRunnerAttach(t *testing.T) {
	engine := &fakeEngine{svc: &swarm.Service{ID: "svc1", Spec: testJob().Spec}, tasks: func(call int, _ bool) []swarm.Task {
		if call < 3 {
			return []swarm.Task{live("t1")}
		}
		return []swarm.Task{ended("t1", swarm.TaskStateComplete, 0)}
	}}
	var rec Record
	var err error
	var rt *runnerTest
	svc := *engine.svc
	svc.CreatedAt = t0.Add(-time.Minute)
	synctest.Test(t, func(t *testing.T) {
		rt = newRunnerTest(t, engine, echoSource{}, RunOptions{})
		defer rt.stop()
		rec, err = rt.runner.Attach(t.Context(), testJob(), svc)
	})
	if err != nil || rec.Outcome != Succeeded || !rec.Attached || !rec.Started.Equal(svc.CreatedAt) {
		t.Errorf("Attach = %s attached %t started %s, %v; want succeeded, attached, started when the service was created", rec.Outcome, rec.Attached, rec.Started, err)
	}
	if got := rt.out.String(); got != "output of t1\n" {
		t.Errorf("stdout %q, want the attempt's output", got)
	}
	if calls := engine.called(""); len(calls) > 0 {
		t.Errorf("made calls %q, want none: the owner stops, records and removes", calls)
	}
	if !strings.Contains(rt.errb.String(), "succeeded") {
		t.Errorf("stderr %q does not give the verdict", rt.errb.String())
	}
}

// inOrder says where calls lack one of want's prefixes, in want's order.
func inOrder(calls, want []string) error {
	i := 0
	for _, c := range calls {
		if i < len(want) && strings.HasPrefix(c, want[i]) {
			i++
		}
	}
	if i < len(want) {
		return fmt.Errorf("calls %q lack %q (in this order: %q)", calls, want[i], want)
	}
	return nil
}

func TestAcquireRefusesAStoppedRunStillReported(t *testing.T) {
	spec := testJob().Spec
	spec.Labels = jobLabels(spec.Labels, map[string]string{LabelStopped: "true"})
	engine := &fakeEngine{
		createErr: cerrdefs.ErrConflict.WithMessage("name conflicts with an existing object"),
		svc:       &swarm.Service{ID: "svc1", Spec: spec},
		tasks:     func(int, bool) []swarm.Task { return []swarm.Task{live("t1")} },
	}
	var err error
	synctest.Test(t, func(t *testing.T) {
		rt := newRunnerTest(t, engine, echoSource{}, RunOptions{})
		defer rt.stop()
		_, err = rt.runner.Run(t.Context(), testJob())
	})
	var conflict *ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("err %v, want a conflict", err)
	}
	for _, want := range []string{"was stopped, but Swarm still reports task t1 running on node host-n1", "container c-t1"} {
		if !strings.Contains(conflict.Msg, want) {
			t.Errorf("message %q lacks %q", conflict.Msg, want)
		}
	}
	if calls := engine.called("remove"); len(calls) > 0 {
		t.Errorf("removed the lock: %q", calls)
	}
}

func TestAcquireClearsAStoppedRunThatEnded(t *testing.T) {
	spec := testJob().Spec
	spec.Labels = jobLabels(spec.Labels, map[string]string{LabelStopped: "true", LabelVersion: "v0"})
	engine := &fakeEngine{
		createErr: cerrdefs.ErrConflict.WithMessage("name conflicts with an existing object"),
		svc:       &swarm.Service{ID: "svc1", Spec: spec},
		tasks:     func(int, bool) []swarm.Task { return []swarm.Task{ended("t1", swarm.TaskStateShutdown, 137)} },
	}
	var err error
	synctest.Test(t, func(t *testing.T) {
		rt := newRunnerTest(t, engine, echoSource{}, RunOptions{})
		defer rt.stop()
		_, err = rt.runner.acquire(t.Context(), &Job{Name: "migrate", Version: "v1", Spec: testJob().Spec})
	})
	if err == nil || !strings.Contains(err.Error(), "keeps reappearing") {
		// The fake refuses every create: after clearing the leftover, the
		// create is tried again, and again refused.
		t.Fatalf("err %v, want the create retried", err)
	}
	if got := engine.called("remove"); len(got) == 0 {
		t.Errorf("the ended, stopped service was not removed")
	}
}

func TestPullHint(t *testing.T) {
	tests := []struct {
		image string
		opts  RunOptions
		want  string
	}{
		{"jobrun-test/missing:1", RunOptions{}, "from docker.io; jobrun found no credentials for docker.io in the docker config: push the image, or docker login docker.io"},
		{"127.0.0.1:5000/app:v1", RunOptions{RegistryAuth: "e30="}, "from 127.0.0.1:5000 with the credentials jobrun found for it"},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1", RunOptions{RegistryAuth: "e30="}, "ECR logins expire after 12 hours"},
		// A credential helper that failed is not "no credentials".
		{"127.0.0.1:5000/app:v1", RunOptions{RegistryAuthErr: "docker-credential-broken: exit status 1"}, "anonymously, and jobrun could not read the credentials for it: docker-credential-broken: exit status 1"},
	}
	for _, tt := range tests {
		if got := pullHint(tt.image, tt.opts); !strings.Contains(got, tt.want) {
			t.Errorf("pullHint(%q, %+v) = %q, want %q in it", tt.image, tt.opts, got, tt.want)
		}
	}
}
