package exec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil"
	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/commands/stackjobs"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

const stackFile = `version: "3.7"
services:
  migrate:
    image: app:${APP_VERSION}
    entrypoint: ["/entry.sh"]
    command: ["python3", "manage.py", "migrate"]
    environment: {MYSQL_HOST: db}
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 6}
  workers:
    image: app:${APP_VERSION}
    deploy:
      placement: {constraints: ["node.role==worker"]}
`

// engine is a manager (node n1) with the stack's network. It records the
// service an exec creates and refuses it, so the spec is what a test sees.
type engine struct {
	cmdtest.Engine
	created *swarm.ServiceSpec
	running bool // a run of migrate is in progress
}

var errStop = errors.New("the test stops here")

func (e *engine) NetworkInspect(context.Context, string, client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	return client.NetworkInspectResult{}, nil
}

func (e *engine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	spec := o.Spec
	e.created = &spec
	return client.ServiceCreateResult{}, errStop
}

func (e *engine) ServiceInspect(_ context.Context, name string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	if e.running && name == jobs.ServiceName("todo", "migrate") {
		return client.ServiceInspectResult{Service: swarm.Service{Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name,
			Labels: map[string]string{jobs.LabelJob: "migrate", jobs.LabelVersion: "v0", jobs.LabelRunID: "20261204T115900Z-cccccc"}}}}}, nil
	}
	return client.ServiceInspectResult{}, cerrdefs.ErrNotFound.WithMessage("no such service")
}

func (e *engine) ClientVersion() string { return "1.41" }

func (e *engine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: system.Info{Swarm: swarm.Info{NodeID: "n1"}}}, nil
}

func (e *engine) NodeInspect(context.Context, string, client.NodeInspectOptions) (client.NodeInspectResult, error) {
	return client.NodeInspectResult{Node: swarm.Node{ID: "n1", Spec: swarm.NodeSpec{Role: swarm.NodeRoleManager, Availability: swarm.NodeAvailabilityActive},
		Description: swarm.NodeDescription{Hostname: "manager1"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}}}, nil
}

// with is o run with f's dependencies.
func with(o *Options, f *cmdutil.Factory) *Options {
	o.Factory = f
	return o
}

// options are an exec's as the flags' defaults leave them.
func options(t *testing.T, job string, args ...string) *Options {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stack.yml")
	if err := os.WriteFile(path, []byte(stackFile), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &Options{Options: stackjobs.Options{
		Common: cmdutil.Common{Stack: "todo", ConnectTimeout: time.Second},
		Files:  []string{path}, Version: "v1", Output: "text", ResolveImage: "never", PendingTimeout: time.Minute,
		Run:  jobs.RunOptions{Timeout: time.Hour, KeepRuns: jobs.DefaultKeep, Reconnect: time.Minute},
		Logs: jobs.LogOptions{Mode: "auto", FlushWait: time.Second, DrainTimeout: time.Second},
	}}
	o.Job, o.DashDash, o.Command = splitArgs(append([]string{job}, args...))
	return o
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name   string
		job    string
		args   []string
		change func(o *Options)
		want   string
	}{
		{name: "no job", change: func(o *Options) { o.Job, o.DashDash, o.Command = splitArgs(nil) }, want: "name a job and the command: jobrun exec JOB -- CMD"},
		{name: "no --", job: "migrate", args: []string{"python3", "manage.py"}, want: "put the command after --: jobrun exec migrate -- CMD"},
		{name: "empty command", job: "migrate", args: []string{"--"}, want: "no command after --: name one, e.g. jobrun exec migrate -- sh"},
		{name: "unknown job", job: "migrat", args: []string{"--", "true"}, want: `job "migrat" is not a service in the stack file; it has: migrate, workers`},
		{name: "-t without a terminal", job: "migrate", args: []string{"--", "sh"}, change: func(o *Options) { o.TTY = true }, want: "-t needs a terminal, and jobrun's stdin is not one"},
		{name: "-i where the job may not run", job: "workers", args: []string{"--", "sh"}, change: func(o *Options) { o.Interactive = true },
			want: `placement constraint "node.role==worker" excludes node manager1 (n1): point --context or DOCKER_HOST at a manager the job may run on`},
		{name: "no stack", job: "migrate", args: []string{"--", "true"}, change: func(o *Options) { o.Stack = "" }, want: "--stack is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(t, tt.job, tt.args...)
			if tt.change != nil {
				tt.change(o)
			}
			e := &engine{}
			f, _, _ := cmdtest.Factory(&e.Engine, now)
			f.Connect = connect(e)
			jobstest.WantExit(t, Run(context.Background(), with(o, f)), jobs.ExitUsage, tt.want)
			if e.created != nil {
				t.Errorf("bad input created service %s", e.created.Name)
			}
		})
	}
}

func connect(e *engine) func(context.Context, cmdutil.Common) (client.APIClient, cmdutil.EngineInfo, error) {
	return func(context.Context, cmdutil.Common) (client.APIClient, cmdutil.EngineInfo, error) {
		return e, cmdutil.EngineInfo{Info: system.Info{LoggingDriver: "json-file"}, Context: "default", Host: "unix:///var/run/docker.sock", API: "1.41"}, nil
	}
}

func TestSpec(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		change   func(o *Options)
		terminal bool // jobrun's stdin is a terminal
		check    func(s swarm.ServiceSpec) string
	}{
		{name: "command replaced, entrypoint kept, once", args: []string{"--", "python3", "manage.py", "showmigrations"}, check: func(s swarm.ServiceSpec) string {
			cs, rp := s.TaskTemplate.ContainerSpec, s.TaskTemplate.RestartPolicy
			switch {
			case !slices.Equal(cs.Command, []string{"/entry.sh"}) || !slices.Equal(cs.Args, []string{"python3", "manage.py", "showmigrations"}):
				return "command " + strings.Join(append(cs.Command, cs.Args...), " ")
			case cs.Image != "app:v1" || !slices.Contains(cs.Env, "MYSQL_HOST=db"):
				return "not the job's image and environment"
			case rp == nil || rp.Condition != swarm.RestartPolicyConditionNone:
				return "may restart"
			case s.Mode.ReplicatedJob == nil || !strings.HasPrefix(s.Name, "jobrun_todo_migrate_exec_"):
				return "not an exec's replicated job: " + s.Name
			case cs.TTY || cs.OpenStdin || s.TaskTemplate.Placement != nil && len(s.TaskTemplate.Placement.Constraints) > 0:
				return "TTY, stdin or a placement of its own"
			}
			return ""
		}},
		{name: "--entrypoint", args: []string{"--", "-c", "id"}, change: func(o *Options) { o.Entrypoint = []string{"sh"} }, check: func(s swarm.ServiceSpec) string {
			if cs := s.TaskTemplate.ContainerSpec; !slices.Equal(cs.Command, []string{"sh"}) || !slices.Equal(cs.Args, []string{"-c", "id"}) {
				return "entrypoint not replaced"
			}
			return ""
		}},
		{name: "-it: TTY and stdin on this node", args: []string{"--", "sh"}, change: func(o *Options) {
			o.Interactive, o.TTY = true, true
		}, terminal: true, check: func(s swarm.ServiceSpec) string {
			cs, p := s.TaskTemplate.ContainerSpec, s.TaskTemplate.Placement
			if !cs.TTY || !cs.OpenStdin || p == nil || !slices.Equal(p.Constraints, []string{"node.id==n1"}) {
				return "not a terminal placed on n1"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(t, "migrate", tt.args...)
			if tt.change != nil {
				tt.change(o)
			}
			e := &engine{}
			f, _, _ := cmdtest.Factory(&e.Engine, now)
			f.Connect = connect(e)
			if tt.terminal {
				f.IO.In, f.IO.InTerminal = strings.NewReader(""), &jobs.Terminal{}
			}
			// The engine refused the create: jobrun could not run it (125).
			jobstest.WantExit(t, Run(context.Background(), with(o, f)), ExitCannotRun, "the test stops here")
			if e.created == nil {
				t.Fatal("no service created")
			}
			if problem := tt.check(*e.created); problem != "" {
				t.Error(problem)
			}
		})
	}
}

func TestWarnsBesideARun(t *testing.T) {
	o := options(t, "migrate", "--", "true")
	e := &engine{running: true}
	f, _, errb := cmdtest.Factory(&e.Engine, now)
	f.Connect = connect(e)
	_ = Run(context.Background(), with(o, f))
	want := "jobrun: migrate: WARNING: a run of migrate is in progress (version v0, run 20261204T115900Z-cccccc, service jobrun_todo_migrate): this exec runs beside it\n"
	if !strings.Contains(errb.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errb.String())
	}
	if e.created == nil || e.created.Name == jobs.ServiceName("todo", "migrate") {
		t.Error("the exec did not start beside the run, as a service of its own")
	}
}

func TestExitCodes(t *testing.T) {
	code := func(n int) *int { return &n }
	tests := []struct {
		name string
		rec  jobs.Record
		err  error
		want int
	}{
		{name: "the command's 0", rec: jobs.Record{Outcome: jobs.Succeeded, Attempts: []jobs.Attempt{{ExitCode: code(0)}}}, want: 0},
		{name: "the command's 3", rec: jobs.Record{Outcome: jobs.Failed, Attempts: []jobs.Attempt{{ExitCode: code(3)}}}, err: &jobs.VerdictError{Outcome: jobs.Failed}, want: 3},
		{name: "not found: the engine's 127", rec: jobs.Record{Outcome: jobs.Failed, Attempts: []jobs.Attempt{{ExitCode: code(127)}}}, err: &jobs.VerdictError{Outcome: jobs.Failed}, want: ExitNotFound},
		{name: "no such image: 125", rec: jobs.Record{Outcome: jobs.Rejected, Attempts: []jobs.Attempt{{}}}, err: &jobs.VerdictError{Outcome: jobs.Rejected}, want: ExitCannotRun},
		{name: "no node took it: 125", rec: jobs.Record{Outcome: jobs.Pending}, err: &jobs.VerdictError{Outcome: jobs.Pending}, want: ExitCannotRun},
		{name: "interrupted, whatever the stop made it exit", rec: jobs.Record{Outcome: jobs.Interrupted, Attempts: []jobs.Attempt{{ExitCode: code(143)}}}, err: &jobs.VerdictError{Outcome: jobs.Interrupted}, want: jobs.ExitInterrupted},
		{name: "timed out: 124", rec: jobs.Record{Outcome: jobs.TimedOut}, err: &jobs.VerdictError{Outcome: jobs.TimedOut}, want: ExitTimedOut},
		{name: "engine error: 125", err: &jobs.EngineError{Msg: "create service"}, want: ExitCannotRun},
		{name: "interrupted before it started", err: context.Canceled, want: jobs.ExitInterrupted},
		{name: "usage: 2", err: &jobs.UsageError{Msg: "fix it"}, want: jobs.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := exitCode(tt.rec, tt.err)
			if tt.want == 0 {
				if err != nil {
					t.Errorf("err %v, want none", err)
				}
				return
			}
			jobstest.WantExit(t, err, tt.want)
		})
	}
}

// attempts records the attempts a reporter was told about.
type attempts struct {
	jobs.Reporter
	states []swarm.TaskState
}

func (a *attempts) Attempt(_ string, at jobs.Attempt, _ int) { a.states = append(a.states, at.State) }

func TestTerminalReporterLeavesTheScreenToTheCommand(t *testing.T) {
	rec := &attempts{}
	r := terminalReporter{rec}
	for _, a := range []jobs.Attempt{
		{State: swarm.TaskStatePending},
		{State: swarm.TaskStateStarting, ContainerID: "c1"},
		{State: swarm.TaskStateRunning, ContainerID: "c1"},
		{State: swarm.TaskStateFailed, ContainerID: "c1"},
	} {
		r.Attempt("migrate", a, 1)
	}
	if want := []swarm.TaskState{swarm.TaskStatePending, swarm.TaskStateFailed}; !slices.Equal(rec.states, want) {
		t.Errorf("said %v, want %v", rec.states, want)
	}
}
