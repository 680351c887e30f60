package exec

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil"
	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

const (
	replayedRun = "20261204T110000Z-aaaaaa"
	pinned      = "app:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// replayEngine is a manager (n1) whose swarm has worker2 (n2), where
// attempt 1 of replayedRun ran; nodes replaces what it knows of them.
type replayEngine struct {
	engine
	nodes map[string]swarm.Node
}

func (e *replayEngine) NodeInspect(_ context.Context, id string, _ client.NodeInspectOptions) (client.NodeInspectResult, error) {
	if n, ok := e.nodes[id]; ok {
		return client.NodeInspectResult{Node: n}, nil
	}
	return client.NodeInspectResult{}, cerrdefs.ErrNotFound.WithMessage("node " + id + " not found")
}

func worker2(availability swarm.NodeAvailability) swarm.Node {
	return swarm.Node{ID: "n2", Spec: swarm.NodeSpec{Role: swarm.NodeRoleWorker, Availability: availability},
		Description: swarm.NodeDescription{Hostname: "worker2"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "10.0.0.12"}}
}

// recordRun saves replayedRun of migrate as a run of this jobrun leaves
// it: one attempt on n2, the image pinned, its spec kept unless noSpec.
func recordRun(t *testing.T, e *cmdtest.Engine, noSpec bool) {
	t.Helper()
	code := 1
	rec := jobs.Record{RunID: replayedRun, Job: "migrate", Stack: "todo", Version: "v1", Image: pinned, Outcome: jobs.Failed, MaxRuns: 1,
		Attempts: []jobs.Attempt{{Number: 1, TaskID: "t1", NodeID: "n2", Hostname: "worker2", State: swarm.TaskStateFailed, ExitCode: &code}}}
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: jobs.ServiceName("todo", "migrate"), Labels: map[string]string{jobs.LabelJob: "migrate", jobs.LabelRunID: replayedRun}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "app:v1", Command: []string{"/entry.sh"}, Args: []string{"python3", "manage.py", "migrate"}, Env: []string{"MYSQL_HOST=db"}},
			Placement:     &swarm.Placement{Constraints: []string{"node.role==worker"}},
		},
	}
	records := jobs.Records{Engine: e}
	if !noSpec {
		name, err := records.SaveSpec(context.Background(), rec, spec)
		if err != nil {
			t.Fatal(err)
		}
		rec.Spec = name
	}
	if err := records.Save(context.Background(), rec, nil); err != nil {
		t.Fatal(err)
	}
}

// replayOptions are a replay of attempt 1 of replayedRun; the stack file
// does not exist: a replay never reads it.
func replayOptions(t *testing.T, args ...string) *Options {
	o := options(t, "migrate", args...)
	o.Files, o.Version, o.ReplayRun, o.ReplayAttempt = []string{"/nonexistent/stack.yml"}, "", replayedRun, 1
	return o
}

func replayFactory(e *replayEngine) (*cmdutil.Factory, *bytes.Buffer) {
	f, _, errb := cmdtest.Factory(&e.Engine, now)
	f.Connect = func(context.Context, cmdutil.Common) (client.APIClient, cmdutil.EngineInfo, error) {
		return e, cmdutil.EngineInfo{Context: "default", Host: "unix:///var/run/docker.sock", API: "1.51"}, nil
	}
	return f, errb
}

func TestReplaySpec(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantArgs []string
	}{
		{name: "the attempt's own command", wantArgs: []string{"python3", "manage.py", "migrate"}},
		{name: "the command after --", args: []string{"--", "python3", "manage.py", "showmigrations"}, wantArgs: []string{"python3", "manage.py", "showmigrations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &replayEngine{nodes: map[string]swarm.Node{"n2": worker2(swarm.NodeAvailabilityActive)}}
			recordRun(t, &e.Engine, false)
			f, said := replayFactory(e)
			jobstest.WantExit(t, Run(context.Background(), with(replayOptions(t, tt.args...), f)), ExitCannotRun, "the test stops here")
			if e.created == nil {
				t.Fatalf("no service created; stderr:\n%s", said)
			}
			s := *e.created
			cs, p := s.TaskTemplate.ContainerSpec, s.TaskTemplate.Placement
			switch {
			case cs.Image != pinned:
				t.Errorf("image %s, want the record's %s", cs.Image, pinned)
			case !slices.Equal(cs.Args, tt.wantArgs) || !slices.Equal(cs.Command, []string{"/entry.sh"}):
				t.Errorf("command %q %q, want /entry.sh %q", cs.Command, cs.Args, tt.wantArgs)
			case p == nil || !slices.Equal(p.Constraints, []string{"node.role==worker", "node.id==n2"}):
				t.Errorf("placement %+v, want the job's and node.id==n2", p)
			case !strings.HasPrefix(s.Name, "jobrun_todo_migrate_exec_") || s.Labels[jobs.LabelRunID] == replayedRun:
				t.Errorf("service %s (run %s), want an exec of its own, never the job's service", s.Name, s.Labels[jobs.LabelRunID])
			}
			if want := "replaying attempt 1 of run " + replayedRun + " (version v1, image " + pinned + ") on node worker2 (n2)"; !strings.Contains(said.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, said)
			}
		})
	}
}

func TestReplayRefused(t *testing.T) {
	tests := []struct {
		name     string
		noSpec   bool
		nodes    map[string]swarm.Node
		change   func(o *Options)
		terminal bool
		code     int
		want     string
	}{
		{name: "a record without a spec", noSpec: true, code: jobs.ExitUsage,
			want: "run " + replayedRun + " of migrate was recorded without its service spec (by a jobrun from before replays, or the spec could not be kept), so it cannot be replayed: run the job again (jobrun migrate --version v1 --force)"},
		{name: "the node left the swarm", code: jobs.ExitNodeGone,
			want: "attempt 1 of run " + replayedRun + " ran on node worker2 (n2), which has left the swarm: it cannot be replayed there; jobrun exec migrate --version v1 -- CMD"},
		{name: "the node is drained", nodes: map[string]swarm.Node{"n2": worker2(swarm.NodeAvailabilityDrain)}, code: jobs.ExitNodeGone,
			want: "cannot be replayed on its node: node worker2 (n2) is drain, so Swarm places no task on it; make it take tasks again (docker node update --availability active worker2"},
		{name: "-it on another node than jobrun's", nodes: map[string]swarm.Node{"n2": worker2(swarm.NodeAvailabilityActive)}, terminal: true, code: jobs.ExitUsage,
			change: func(o *Options) { o.Interactive, o.TTY = true, true },
			want:   "ran on node worker2 (n2) at 10.0.0.12, not on the node jobrun talks to: point jobrun at that node's engine with a docker context (docker context create worker2 --docker host=ssh://USER@10.0.0.12, then jobrun --context worker2 exec ...), which must be a manager (it is a worker: docker node promote worker2), or drop -i"},
		{name: "an attempt the run did not have", change: func(o *Options) { o.ReplayAttempt = 3 }, code: jobs.ExitUsage,
			want: "--attempt 3 is out of range: run " + replayedRun + " of migrate had 1 attempt(s)"},
		{name: "a run of another job", change: func(o *Options) { o.Job = "collectstatic" }, code: jobs.ExitUsage,
			want: "run " + replayedRun + " is of job migrate, not collectstatic: jobrun exec migrate --run " + replayedRun + " --attempt 1"},
		{name: "no such run", change: func(o *Options) { o.ReplayRun = "20261204T110000Z-bbbbbb" }, code: jobs.ExitUsage,
			want: "stack todo has no recorded run 20261204T110000Z-bbbbbb: check the run ID with jobrun history migrate"},
		{name: "--run without --attempt", change: func(o *Options) { o.ReplayAttempt = 0 }, code: jobs.ExitUsage,
			want: "name the attempt of run " + replayedRun + " to replay: --attempt N (jobrun logs --run " + replayedRun + " lists them with their nodes)"},
		{name: "--attempt without --run", change: func(o *Options) { o.ReplayRun = "" }, code: jobs.ExitUsage,
			want: "--attempt replays an attempt of a recorded run: name the run too, jobrun exec migrate --run RUN_ID --attempt 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &replayEngine{nodes: tt.nodes}
			recordRun(t, &e.Engine, tt.noSpec)
			f, _ := replayFactory(e)
			if tt.terminal {
				f.IO.In, f.IO.InTerminal = strings.NewReader(""), &jobs.Terminal{}
			}
			o := replayOptions(t)
			if tt.change != nil {
				tt.change(o)
			}
			// One line (WantExit), naming the fix.
			jobstest.WantExit(t, Run(context.Background(), with(o, f)), tt.code, tt.want)
			if e.created != nil {
				t.Errorf("a refused replay created service %s", e.created.Name)
			}
		})
	}
}
