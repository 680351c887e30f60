package deploy_test

// jobrun deploy driven through the command line against a fake swarm: the
// usage errors, and releases of stacks without jobs, whose services the fake
// makes converge or not.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/sirupsen/logrus"

	"jobrun/commands"
	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/deploy"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

// fakeSwarm is a one-node swarm manager holding one stack. Every update
// completes at once, and each replica's task runs, except the services
// named in stuck: their tasks wait for a node with enough CPU.
type fakeSwarm struct {
	*cmdtest.Engine
	stuck  map[string]bool // by name in the stack file
	paused string          // this service's update is paused
	// rollsBack: an update under way when the release begins, which the
	// engine rolls back once the release looked at its tasks.
	rollsBack string
	looked    int      // the release's looks at the tasks of rollsBack
	warnings  []string // the engine's warnings on every update

	// secret exists with other data than the stack file's: the engine
	// refuses its update, as swarmkit refuses any but the labels'.
	secret string

	mu       sync.Mutex
	services []swarm.Service
	networks []network.Summary
	created  []string // the services created, by name
}

func newFakeSwarm(stuck ...string) *fakeSwarm {
	s := &fakeSwarm{Engine: &cmdtest.Engine{}, stuck: map[string]bool{}}
	for _, name := range stuck {
		s.stuck[name] = true
	}
	return s
}

func (s *fakeSwarm) ClientVersion() string { return "1.41" }

func (s *fakeSwarm) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	return client.PingResult{APIVersion: "1.41", OSType: "linux", SwarmStatus: &client.SwarmStatus{NodeState: swarm.LocalNodeStateActive, ControlAvailable: true}}, nil
}

func (s *fakeSwarm) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: system.Info{Swarm: swarm.Info{ControlAvailable: true}}}, nil
}

func (s *fakeSwarm) SecretInspect(_ context.Context, name string, _ client.SecretInspectOptions) (client.SecretInspectResult, error) {
	if name != s.secret {
		return client.SecretInspectResult{}, cerrdefs.ErrNotFound.WithMessage(fmt.Sprintf("secret %s not found", name))
	}
	return client.SecretInspectResult{Secret: swarm.Secret{ID: "s-" + name, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}}}}, nil
}

func (s *fakeSwarm) SecretUpdate(context.Context, string, client.SecretUpdateOptions) (client.SecretUpdateResult, error) {
	return client.SecretUpdateResult{}, cerrdefs.ErrInvalidArgument.WithMessage("rpc error: code = InvalidArgument desc = only updates to Labels are allowed")
}

func (s *fakeSwarm) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	return client.NodeListResult{Items: []swarm.Node{{ID: "n1", Status: swarm.NodeStatus{State: swarm.NodeStateReady}}}}, nil
}

func (s *fakeSwarm) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return client.NetworkListResult{Items: append([]network.Summary(nil), s.networks...)}, nil
}

// NetworkInspect finds the external networks: each is a swarm's.
func (s *fakeSwarm) NetworkInspect(_ context.Context, name string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	return client.NetworkInspectResult{Network: network.Inspect{Network: network.Network{ID: name, Name: name, Scope: "swarm"}}}, nil
}

func (s *fakeSwarm) NetworkCreate(_ context.Context, name string, _ client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.networks = append(s.networks, network.Summary{Network: network.Network{ID: name, Name: name}})
	return client.NetworkCreateResult{ID: name}, nil
}

func (s *fakeSwarm) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return client.ServiceListResult{Items: append([]swarm.Service(nil), s.services...)}, nil
}

// defaults fills in the spec what the engine fills in.
func defaults(spec swarm.ServiceSpec) swarm.ServiceSpec {
	if spec.Mode.Global == nil && (spec.Mode.Replicated == nil || spec.Mode.Replicated.Replicas == nil) {
		one := uint64(1)
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
	}
	return spec
}

func (s *fakeSwarm) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	spec := defaults(o.Spec)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("id-%s", spec.Name)
	update := &swarm.UpdateStatus{State: swarm.UpdateStateCompleted}
	if spec.Name == "todo_"+s.paused {
		update = &swarm.UpdateStatus{State: swarm.UpdateStatePaused, Message: "update paused due to failure or early termination of task x"}
	}
	s.services = append(s.services, swarm.Service{ID: id, Spec: spec, UpdateStatus: update})
	s.created = append(s.created, spec.Name)
	return client.ServiceCreateResult{ID: id}, nil
}

func (s *fakeSwarm) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.services {
		if s.services[i].ID == id {
			s.services[i].Spec = defaults(o.Spec)
			s.services[i].Version.Index++
			return client.ServiceUpdateResult{Warnings: s.warnings}, nil
		}
	}
	return client.ServiceUpdateResult{}, cerrdefs.ErrNotFound.WithMessage("no such service")
}

func (s *fakeSwarm) ServiceInspect(ctx context.Context, ref string, o client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, svc := range s.services {
		if svc.ID == ref || svc.Spec.Name == ref {
			return client.ServiceInspectResult{Service: svc}, nil
		}
	}
	return s.Engine.ServiceInspect(ctx, ref, o)
}

// TaskList gives each replica of the service one task: running, or pending
// for want of CPU when the service is stuck.
func (s *fakeSwarm) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tasks []swarm.Task
	for i, svc := range s.services {
		if want := o.Filters["service"]; len(want) > 0 && !want[svc.ID] {
			continue
		}
		if svc.Spec.Name == "todo_"+s.rollsBack {
			if s.looked++; s.looked == 2 {
				svc.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, StartedAt: svc.UpdateStatus.StartedAt,
					Message: "update rolled back due to failure or early termination of task x"}
				s.services[i] = svc
			}
		}
		status := swarm.TaskStatus{State: swarm.TaskStateRunning}
		if s.stuck[strings.TrimPrefix(svc.Spec.Name, "todo_")] {
			status = swarm.TaskStatus{State: swarm.TaskStatePending, Err: "no suitable node (insufficient resources on 1 node)"}
		}
		for i := uint64(0); i < *svc.Spec.Mode.Replicated.Replicas; i++ {
			tasks = append(tasks, swarm.Task{ID: fmt.Sprintf("%s.%d", svc.ID, i), ServiceID: svc.ID, NodeID: "n1", DesiredState: swarm.TaskStateRunning, Status: status})
		}
	}
	return client.TaskListResult{Items: tasks}, nil
}

// updateUnderWay starts an update of the service, as an earlier release
// that timed out leaves it, and has the engine roll it back.
func (s *fakeSwarm) updateUnderWay(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	long := time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)
	for i := range s.services {
		if s.services[i].Spec.Name == "todo_"+name {
			s.services[i].UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, StartedAt: &long}
		}
	}
	s.rollsBack = name
}

// jobrunDeploy runs `jobrun deploy --stack todo` with the stack file and
// args, and returns its stdout, stderr and error.
func jobrunDeploy(t *testing.T, engine *fakeSwarm, stackFile string, args ...string) (string, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stack.yml")
	if err := os.WriteFile(path, []byte(stackFile), 0o644); err != nil {
		t.Fatal(err)
	}
	f, out, errb := cmdtest.FactoryFor(engine, time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	args = append([]string{"jobrun", "deploy", "--stack", "todo", "-c", path, "--version", "v1", "--resolve-image", "never"}, args...)
	// Compared with what it wrote to before, not os.Stderr: go test -json
	// gives the test binary another os.Stderr after logrus took its own.
	before := logrus.StandardLogger().Out
	err := commands.NewApp(f, "test").Run(context.Background(), args)
	if logrus.StandardLogger().Out != before {
		t.Errorf("jobrun deploy left logrus writing to %T, not where it wrote before", logrus.StandardLogger().Out)
	}
	return out.String(), errb.String(), err
}

const (
	dbAndApp = `version: "3.7"
services:
  db:
    image: busybox
  app:
    image: busybox
    depends_on: [db]
`
	withMigrate = dbAndApp + `  migrate:
    image: busybox
    depends_on: [db]
    x-jobrun: {phase: pre-deploy}
`
)

func TestDeployUsageErrors(t *testing.T) {
	tests := []struct {
		name, stack string
		args        []string
		want        string
	}{
		{name: "an argument", stack: withMigrate, args: []string{"migrate"}, want: `jobrun deploy takes no arguments (got "migrate"): name jobs with --job`},
		{name: "no deploy timeout", stack: withMigrate, args: []string{"--deploy-timeout", "0s"}, want: "--deploy-timeout 0s must be positive: use e.g. 10m"},
		{name: "an unknown job", stack: withMigrate, args: []string{"--job", "migrat"}, want: `job "migrat" is not a service in the stack file; it has: app, db, migrate`},
		{name: "a plan that is not a command", stack: strings.Replace(withMigrate, "{phase: pre-deploy}", "{phase: pre-deploy, plan: migrate --plan}", 1), args: []string{"--dry-run"},
			want: "job migrate: x-jobrun plan migrate --plan is not a command as a list of words, such as [python3, manage.py, migrate, --plan]: fix it in the stack file"},
		{name: "no plan timeout", stack: withMigrate, args: []string{"--dry-run", "--plan-timeout", "0s"}, want: "--plan-timeout 0s must be positive: use e.g. 2m"},
		{name: "a job needs what the file lacks", stack: withMigrate + `  seed:
    image: busybox
    depends_on: [cache, db, search]
    x-jobrun: {phase: pre-deploy}
`, want: "depends_on names services the stack file does not have, and the jobs' order needs them: seed -> cache, seed -> search: add them to the stack file, or drop them from depends_on"},
		{name: "a service needs a post-deploy job", stack: dbAndApp + `  smoke:
    image: busybox
    x-jobrun: {phase: post-deploy}
`, args: []string{"--job", "app", "--post-deploy-job", "db"}, want: "service app depends on db, a post-deploy job, which runs after it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The fake swarm has no services: a usage error must come before
			// anything reaches it.
			engine := newFakeSwarm()
			out, _, err := jobrunDeploy(t, engine, tt.stack, tt.args...)
			jobstest.WantExit(t, err, jobs.ExitUsage, tt.want)
			if out != "" || len(engine.created) != 0 || len(engine.networks) != 0 {
				t.Errorf("a usage error wrote %q and changed the swarm: services %q, networks %v", out, engine.created, engine.networks)
			}
		})
	}
}

// TestDeployChangedSecret: a secret whose file changed cannot be deployed
// under its name; the release says so and how to fix it before any job ran.
func TestDeployChangedSecret(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token.txt")
	if err := os.WriteFile(token, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	engine := newFakeSwarm()
	engine.secret = "todo_token"
	_, _, err := jobrunDeploy(t, engine, `version: "3.7"
services:
  app:
    image: busybox
    secrets: [token]
  migrate:
    image: busybox
    secrets: [token]
    x-jobrun: {phase: pre-deploy}
secrets:
  token: {file: `+token+`}
`)
	jobstest.WantExit(t, err, jobs.ExitUsage, "secret todo_token in the stack file has other data than the swarm's, and Swarm cannot change a secret's data: give it a new name in the stack file (name: todo_token_v2, say) and deploy again")
	if len(engine.created) != 0 {
		t.Errorf("services created, the job's among them, though the secret could not be deployed: %q", engine.created)
	}
}

// aRelease is a release of a stack file on a fake swarm, and what it says.
type aRelease struct {
	name, stack string
	stuck       []string // services no node has the CPU for
	paused      string   // a service whose update paused
	twice       bool     // deploy the same file again, on the same swarm
	between     func(*fakeSwarm)
	code        int
	want        []string // lines of stderr, each exactly once
	not         []string // nowhere in stderr
}

// TestDeployWarnings: what the release ignores, and docker/cli's warnings,
// are each said once.
func TestDeployWarnings(t *testing.T) {
	for _, tt := range []aRelease{
		{name: "no job", stack: dbAndApp, want: []string{
			"jobrun: deploy: " + deploy.NoJob,
			"jobrun: deploy: v1 released: no job, service db converged, service app converged",
		}},
		{name: "depends_on names what the file lacks", stack: dbAndApp + `  worker:
    image: busybox
    depends_on: [redis, db, cache]
`, want: []string{
			"jobrun: deploy: WARNING: depends_on names services the stack file does not have: worker -> redis, worker -> cache: ignored, as docker stack deploy ignores them",
			"jobrun: deploy: v1 released: no job, service db converged, service app converged, service worker converged",
		}},
		{name: "docker's warnings", twice: true, stack: dbAndApp + `  web:
    image: busybox
    restart: always
    expose: ["80"]
`, want: []string{
			"jobrun: deploy: WARNING: Ignoring unsupported options: restart",
			"jobrun: deploy: WARNING: Ignoring deprecated options: expose: Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
			"jobrun: deploy: WARNING: the engine says so",
		}},
		{name: "docker's logged warnings", stack: dbAndApp + `  web:
    image: busybox
    networks: [outside]
networks:
  outside:
    external: {name: shared}
`, want: []string{
			"jobrun: deploy: WARNING: network outside: network.external.name is deprecated in favor of network.name",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) { checkRelease(t, tt) })
	}
}

// TestDeployVerdicts: a release is released only once every service runs as
// asked, changed or not; post-deploy jobs never run before.
func TestDeployVerdicts(t *testing.T) {
	for _, tt := range []aRelease{
		{name: "no post-deploy job on a service that cannot start", stack: dbAndApp + `  smoke:
    image: busybox
    depends_on: [app]
    x-jobrun: {phase: post-deploy}
`, stuck: []string{"app"}, code: jobs.ExitTimedOut, want: []string{
			"jobrun: deploy: v1 services-failed: service app timed-out (not converged by --deploy-timeout: 0/1 tasks running; a task waits: no suitable node (insufficient resources on 1 node)); so far: service db converged, service app timed-out",
		}, not: []string{"smoke", "released"}},
		{name: "an update that paused", stack: dbAndApp, paused: "app", code: jobs.ExitPaused, want: []string{
			"jobrun: deploy: v1 services-failed: service app paused (1/1 tasks running, update paused: update paused due to failure or early termination of task x); so far: no job, service db converged, service app paused",
		}, not: []string{"released"}},
		{name: "an earlier release's update rolls back", stack: dbAndApp + "    deploy: {update_config: {monitor: 1ms}}\n", twice: true,
			between: func(s *fakeSwarm) { s.updateUnderWay("app") }, code: jobs.ExitRolledBack, want: []string{
				"jobrun: deploy: v1 services-failed: service app rolled-back (deployed again as it was; update rolled back due to failure or early termination of task x); so far: no job, service db unchanged, service app rolled-back",
			}, not: []string{"released"}},
		{name: "a service that cannot start", stack: dbAndApp, stuck: []string{"app"}, code: jobs.ExitTimedOut, want: []string{
			"jobrun: deploy: app: 0/1 tasks running; a task waits: no suitable node (insufficient resources on 1 node)",
			"jobrun: deploy: v1 services-failed: service app timed-out (not converged by --deploy-timeout: 0/1 tasks running; a task waits: no suitable node (insufficient resources on 1 node)); so far: no job, service db converged, service app timed-out",
		}, not: []string{"released"}},
		{name: "deployed again as it was and still not running", stack: dbAndApp, stuck: []string{"app"}, twice: true, code: jobs.ExitTimedOut, want: []string{
			"jobrun: deploy: v1 services-failed: service app timed-out (deployed again as it was; not converged by --deploy-timeout: 0/1 tasks running; a task waits: no suitable node (insufficient resources on 1 node)); so far: no job, service db unchanged, service app timed-out",
		}, not: []string{"released"}},
	} {
		t.Run(tt.name, func(t *testing.T) { checkRelease(t, tt) })
	}
}

// checkRelease deploys the stack file (twice with tt.twice) and checks the
// exit code, the lines of stderr, and that no job service was created.
func checkRelease(t *testing.T, tt aRelease) {
	t.Helper()
	engine := newFakeSwarm(tt.stuck...)
	engine.paused = tt.paused
	engine.warnings = []string{"the engine says so"}
	args := []string{"--deploy-timeout", "100ms"}
	_, stderr, err := jobrunDeploy(t, engine, tt.stack, args...)
	if tt.twice {
		if tt.between != nil {
			tt.between(engine)
		}
		_, stderr, err = jobrunDeploy(t, engine, tt.stack, args...)
	}
	if tt.code == 0 && err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr)
	} else if tt.code != 0 {
		jobstest.WantExit(t, err, tt.code)
	}
	lines := strings.Split(stderr, "\n")
	for _, w := range tt.want {
		if n := count(lines, w); n != 1 {
			t.Errorf("stderr has %d lines %q, want 1:\n%s", n, w, stderr)
		}
	}
	for _, name := range engine.created {
		if strings.HasPrefix(name, "jobrun_") {
			t.Errorf("job service %s was created", name)
		}
	}
	for _, n := range tt.not {
		if strings.Contains(stderr, n) {
			t.Errorf("stderr says %q:\n%s", n, stderr)
		}
	}
}

func count(lines []string, line string) int {
	n := 0
	for _, l := range lines {
		if l == line {
			n++
		}
	}
	return n
}
