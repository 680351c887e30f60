package stackjobs

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
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/jobs"
)

// planEngine is a manager that has the stack's network, the job's secret
// and its image only when told so, and records what a plan creates: a
// service create is refused, so its spec is what the test sees.
type planEngine struct {
	*cmdtest.Engine
	network, secret, image bool
	created                []string // services and secrets, by name
	spec                   *swarm.ServiceSpec
}

var errStop = errors.New("the test stops here")

func (e *planEngine) ClientVersion() string { return jobs.ReplicatedJobsAPI }

func (e *planEngine) NetworkInspect(_ context.Context, name string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	if !e.network {
		return client.NetworkInspectResult{}, cerrdefs.ErrNotFound.WithMessage("network " + name + " not found")
	}
	return client.NetworkInspectResult{Network: network.Inspect{Network: network.Network{ID: name, Name: name, Scope: "swarm"}}}, nil
}

func (e *planEngine) SecretInspect(_ context.Context, name string, _ client.SecretInspectOptions) (client.SecretInspectResult, error) {
	if !e.secret {
		return client.SecretInspectResult{}, cerrdefs.ErrNotFound.WithMessage("secret " + name + " not found")
	}
	return client.SecretInspectResult{Secret: swarm.Secret{ID: "s1", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}}}}, nil
}

func (e *planEngine) SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error) {
	return client.SecretListResult{Items: []swarm.Secret{{ID: "s1", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "todobackend_pw"}}}}}, nil
}

func (e *planEngine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	e.created = append(e.created, o.Spec.Name)
	return client.SecretCreateResult{ID: "s1"}, nil
}

func (e *planEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if !e.image {
		return client.ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + ref)
	}
	return client.ImageInspectResult{InspectResponse: image.InspectResponse{ID: "sha256:1"}}, nil
}

func (e *planEngine) DistributionInspect(context.Context, string, client.DistributionInspectOptions) (client.DistributionInspectResult, error) {
	return client.DistributionInspectResult{}, errors.New("Error response from daemon: manifest unknown")
}

func (e *planEngine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	spec := o.Spec
	e.created, e.spec = append(e.created, spec.Name), &spec
	return client.ServiceCreateResult{}, errStop
}

// TestPlanCreatesNothingFirst: a plan runs only where the release would
// need nothing made first; otherwise it is a WARNING that says what is
// missing, and nothing is created, not even its service. With all there,
// its exec is the job's service with the plan as its command, once.
func TestPlanCreatesNothingFirst(t *testing.T) {
	plan := "    x-jobrun: {plan: [python3, manage.py, migrate, --plan]}\n"
	tests := []struct {
		name                   string
		job                    string // the service's lines below its name
		network, secret, image bool
		want                   string // the plan's warning
		created                []string
	}{
		{name: "no plan", job: "    image: busybox\n", network: true},
		{name: "no network yet", job: "    image: busybox\n" + plan, want: "not run: network todobackend_default does not exist yet (the deploy creates it): the plan can run once the stack is deployed"},
		{name: "the job's secret not made yet", job: "    image: busybox\n    secrets: [pw]\n" + plan, network: true, want: "not run: secret todobackend_pw does not exist yet (the deploy creates it)"},
		{name: "no such image", job: "    image: app:${APP_VERSION}\n" + plan, network: true,
			want: "not run: image app:3db46c4 does not exist: the engine jobrun talks to has none, and its registry says: manifest unknown"},
		{name: "all there: the exec is created", job: "    image: app:${APP_VERSION}\n    secrets: [pw]\n" + plan, network: true, secret: true, image: true,
			want: "could not start: create service jobrun_todobackend_migrate_exec_", created: []string{"jobrun_todobackend_migrate_exec_"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stack := "version: \"3.7\"\nservices:\n  migrate:\n" + tt.job + "secrets:\n  pw: {file: ./pw.txt}\n"
			for name, text := range map[string]string{"stack.yml": stack, "pw.txt": "s3cr3t"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			engine := &planEngine{Engine: &cmdtest.Engine{}, network: tt.network, secret: tt.secret, image: tt.image}
			f, _, _ := cmdtest.FactoryFor(engine, time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
			s := openSession(t, options(f, dir))
			p, err := s.Plan(context.Background(), "migrate", time.Minute)
			switch {
			case err != nil:
				t.Fatalf("plan: %v", err)
			case tt.want == "" && p != nil:
				t.Fatalf("plan %+v, want none", p)
			case tt.want != "" && (p == nil || !strings.HasPrefix(p.Warning, tt.want)):
				t.Fatalf("plan %+v, want the warning %q", p, tt.want)
			}
			if len(engine.created) != len(tt.created) || len(tt.created) > 0 && !strings.HasPrefix(engine.created[0], tt.created[0]) {
				t.Errorf("created %q, want %q", engine.created, tt.created)
			}
			if engine.spec != nil {
				cs, rp := engine.spec.TaskTemplate.ContainerSpec, engine.spec.TaskTemplate.RestartPolicy
				if !slices.Equal(cs.Args, []string{"python3", "manage.py", "migrate", "--plan"}) || rp.Condition != swarm.RestartPolicyConditionNone || engine.spec.Labels[jobs.LabelExec] == "" {
					t.Errorf("exec spec: args %q, restart %s, labels %v: want the plan, once, as an exec", cs.Args, rp.Condition, engine.spec.Labels)
				}
			}
		})
	}
}

func openSession(t *testing.T, o *Options) *Session {
	t.Helper()
	spec, stack, err := o.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open(context.Background(), stack, spec, "migrate")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPlanJudge: how the exec ended is the plan's exit code or warning;
// only an interrupt is an error.
func TestPlanJudge(t *testing.T) {
	exit := func(outcome jobs.Outcome, code int) jobs.Record {
		return jobs.Record{Outcome: outcome, Attempts: []jobs.Attempt{{Number: 1, ExitCode: &code}}}
	}
	tests := []struct {
		name    string
		rec     jobs.Record
		err     error
		code    int // -1: none
		warning string
		fails   bool
	}{
		{name: "exit 0", rec: exit(jobs.Succeeded, 0), code: 0},
		{name: "exit 3", rec: exit(jobs.Failed, 3), err: &jobs.VerdictError{Outcome: jobs.Failed}, code: 3, warning: "exited 3"},
		{name: "stopped by --plan-timeout", rec: jobs.Record{Outcome: jobs.TimedOut}, err: &jobs.VerdictError{Outcome: jobs.TimedOut}, code: -1, warning: "stopped after --plan-timeout 2m0s"},
		{name: "rejected", rec: jobs.Record{Outcome: jobs.Rejected, Reason: "No such image: app:v9"}, err: &jobs.VerdictError{Outcome: jobs.Rejected}, code: -1, warning: "could not start: rejected: No such image: app:v9"},
		{name: "never created", err: &jobs.EngineError{Msg: "create service x", Err: errors.New("engine down")}, code: -1, warning: "could not start: create service x: engine down"},
		{name: "Ctrl-C", rec: jobs.Record{Outcome: jobs.Interrupted}, err: &jobs.VerdictError{Outcome: jobs.Interrupted}, code: -1, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Plan
			err := p.judge(tt.rec, tt.err, 2*time.Minute)
			code := -1
			if p.ExitCode != nil {
				code = *p.ExitCode
			}
			if (err != nil) != tt.fails || code != tt.code || p.Warning != tt.warning {
				t.Errorf("error %v, exit code %d, warning %q; want error %v, %d, %q", err, code, p.Warning, tt.fails, tt.code, tt.warning)
			}
		})
	}
}

// TestPlanWrite: the plan's line, then its output a line each behind "| ",
// blank lines and a last line without newline kept.
func TestPlanWrite(t *testing.T) {
	zero := 0
	tests := []struct {
		plan Plan
		want string
	}{
		{Plan{Command: []string{"python3", "manage.py", "migrate", "--plan"}, ExitCode: &zero, Output: "Planned operations:\ntodo.0002_todoitem_priority\n    Add field priority to todoitem\n"},
			"  plan python3 manage.py migrate --plan: exit 0\n  | Planned operations:\n  | todo.0002_todoitem_priority\n  |     Add field priority to todoitem\n"},
		{Plan{Command: []string{"sh", "-c", "echo no; exit 3"}, Output: "no\n\nend", Warning: "exited 3"},
			"  WARNING: plan sh -c \"echo no; exit 3\": exited 3\n  | no\n  | \n  | end\n"},
		{Plan{Command: []string{"migrate", ""}, Warning: "not run: image app:v9 does not exist"},
			"  WARNING: plan migrate \"\": not run: image app:v9 does not exist\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		tt.plan.Write(&b, "  ")
		if b.String() != tt.want {
			t.Errorf("written:\n%s\nwant:\n%s", b.String(), tt.want)
		}
	}
}

// TestPlanOutputTail: a plan that prints more than a preview shows keeps
// its tail, and says how much came before.
func TestPlanOutputTail(t *testing.T) {
	var out planOutput
	w := out.Output("migrate", 1, false)
	line := strings.Repeat("x", 1023) + "\n"
	for range planOutputMax/len(line) + 2 {
		_, _ = w.Write([]byte(line))
	}
	_, _ = out.Output("migrate", 1, true).Write([]byte("the end\n"))
	got := out.String()
	if !strings.HasPrefix(got, "(2056 bytes before these are not shown: jobrun logs JOB --exec") || !strings.HasSuffix(got, line+"the end\n") {
		t.Errorf("output kept: %q … %q", got[:80], got[len(got)-20:])
	}
}
