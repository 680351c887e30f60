package jobs

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"jobrun/jobs/jobstest"
)

// built is a job as Build leaves it: the stack file's entrypoint and
// command, a restart policy, a constraint of its own.
func built() Job {
	three := uint64(3)
	return Job{
		Name: "migrate", Stack: "todo", Version: "v1", RunID: "20261204T120000Z-abc123",
		Spec: swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: ServiceName("todo", "migrate"), Labels: map[string]string{LabelJob: "migrate"}},
			TaskTemplate: swarm.TaskSpec{
				ContainerSpec: &swarm.ContainerSpec{Image: "app:v1@sha256:abc", Command: []string{"/entry.sh"}, Args: []string{"python3", "manage.py", "migrate"}, Env: []string{"MYSQL_HOST=db"}},
				RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: &three},
				Placement:     &swarm.Placement{Constraints: []string{"node.role==manager"}},
			},
		},
		Policy: Policy{MaxRuns: 4, Delay: time.Second},
		Notes:  []string{"created secret todo_pw"},
	}
}

func TestAsExec(t *testing.T) {
	tests := []struct {
		name  string
		spec  ExecSpec
		check func(j Job) string
	}{
		{name: "the command is replaced, the entrypoint kept", spec: ExecSpec{ID: "abc123", Command: []string{"python3", "manage.py", "showmigrations"}},
			check: func(j Job) string {
				cs := j.Spec.TaskTemplate.ContainerSpec
				if !slices.Equal(cs.Args, []string{"python3", "manage.py", "showmigrations"}) || !slices.Equal(cs.Command, []string{"/entry.sh"}) {
					return "command " + strings.Join(cs.Command, " ") + " args " + strings.Join(cs.Args, " ")
				}
				if cs.Image != "app:v1@sha256:abc" || !slices.Equal(cs.Env, []string{"MYSQL_HOST=db"}) {
					return "image or environment changed"
				}
				return ""
			}},
		{name: "--entrypoint replaces it", spec: ExecSpec{ID: "abc123", Command: []string{"-c", "id"}, Entrypoint: []string{"sh"}},
			check: func(j Job) string {
				if cs := j.Spec.TaskTemplate.ContainerSpec; !slices.Equal(cs.Command, []string{"sh"}) || !slices.Equal(cs.Args, []string{"-c", "id"}) {
					return "entrypoint not replaced"
				}
				return ""
			}},
		{name: "once, no restart, its own service", spec: ExecSpec{ID: "abc123", Command: []string{"true"}},
			check: func(j Job) string {
				rp := j.Spec.TaskTemplate.RestartPolicy
				switch {
				case rp.Condition != swarm.RestartPolicyConditionNone || rp.MaxAttempts != nil:
					return "restart policy " + string(rp.Condition)
				case j.Policy.MaxRuns != 1 || j.Spec.Labels[LabelMaxRuns] != "1":
					return "more than one run"
				case j.Spec.Name != "jobrun_todo_migrate_exec_abc123" || j.Spec.Labels[LabelExec] != "abc123":
					return "service " + j.Spec.Name
				case len(j.Notes) != 0:
					return "the job's notes repeated"
				}
				return ""
			}},
		{name: "no TTY, no stdin, the job's placement", spec: ExecSpec{ID: "abc123", Command: []string{"true"}},
			check: func(j Job) string {
				cs, p := j.Spec.TaskTemplate.ContainerSpec, j.Spec.TaskTemplate.Placement
				if cs.TTY || cs.OpenStdin || !slices.Equal(p.Constraints, []string{"node.role==manager"}) {
					return "TTY, stdin or placement changed"
				}
				return ""
			}},
		{name: "-it: TTY, stdin, on this node as well", spec: ExecSpec{ID: "abc123", Command: []string{"sh"}, TTY: true, Stdin: true, NodeID: "n1"},
			check: func(j Job) string {
				cs, p := j.Spec.TaskTemplate.ContainerSpec, j.Spec.TaskTemplate.Placement
				if !cs.TTY || !cs.OpenStdin || !slices.Equal(p.Constraints, []string{"node.role==manager", "node.id==n1"}) {
					return "not a terminal on this node"
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := built()
			got, err := AsExec(job, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if problem := tt.check(got); problem != "" {
				t.Error(problem)
			}
			if fresh := built(); job.Spec.TaskTemplate.ContainerSpec.Args[2] != "migrate" || !slices.Equal(job.Spec.TaskTemplate.Placement.Constraints, fresh.Spec.TaskTemplate.Placement.Constraints) || job.Spec.Name != fresh.Spec.Name {
				t.Error("AsExec changed the job it was given")
			}
		})
	}
}

func TestAsExecNameTooLong(t *testing.T) {
	job := built()
	job.Stack = strings.Repeat("s", 40)
	_, err := AsExec(job, ExecSpec{ID: "abc123", Command: []string{"true"}})
	jobstest.WantExit(t, err, ExitUsage, "too long for Swarm", "shorter --stack")
}

func TestRedactCommand(t *testing.T) {
	env := []string{"MYSQL_PASSWORD=s3cr3t-pw", "DEBUG=1", "MYSQL_HOST=db", "MYSQL_USER=todo", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", "DB_PASS=db-pass-1", "MYSQL_PWD=pwd-2"}
	tests := []struct{ in, want string }{
		{"python3 manage.py showmigrations", "python3 manage.py showmigrations"},
		{"mysql --password=hunter22 todo", "mysql --password=*** todo"},
		{"mysql --password hunter22 todo", "mysql --password *** todo"},
		{"sh -c echo s3cr3t-pw", "sh -c echo ***"},
		{"curl -H X-Api-Token: abc", "curl -H X-Api-Token: ***"},
		{"env DEBUG=1", "env DEBUG=1"}, // values of 1 to 3 characters are everywhere
		{"psql postgresql://app:pg-pass@db/app -c select", "psql postgresql://app:***@db/app -c select"},
		{"mysql -uroot -pglued todo", "mysql -uroot -p*** todo"},
		// A plain setting is no secret: its value is an ordinary word.
		{"mariadb -u todo todobackend -e select", "mariadb -u todo todobackend -e select"},
		{"curl http://app:8000/todos", "curl http://app:8000/todos"},
		{"aws --secret wJalrXUtnFEMI", "aws --secret ***"},
		{"sh -c echo db-pass-1 pwd-2", "sh -c echo *** ***"}, // DB_PASS, MYSQL_PWD
		{"sh -c export K=wJalrXUtnFEMI", "sh -c export K=***"},
	}
	for _, tt := range tests {
		if got := strings.Join(RedactCommand(strings.Fields(tt.in), env), " "); got != tt.want {
			t.Errorf("RedactCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMayNotRunOn(t *testing.T) {
	node := swarm.Node{ID: "n1", Spec: swarm.NodeSpec{Role: swarm.NodeRoleManager, Availability: swarm.NodeAvailabilityActive, Annotations: swarm.Annotations{Labels: map[string]string{"db": "yes"}}},
		Description: swarm.NodeDescription{Hostname: "manager1", Platform: swarm.Platform{OS: "linux", Architecture: "x86_64"}},
		Status:      swarm.NodeStatus{State: swarm.NodeStateReady}}
	tests := []struct {
		name        string
		constraints []string
		change      func(n *swarm.Node)
		want        string // words of the reason; "" when it may run there
	}{
		{name: "no constraint"},
		{name: "constraints it meets", constraints: []string{"node.role == manager", "node.labels.db==yes", "node.platform.os==Linux", "node.hostname!=worker1"}},
		{name: "workers only", constraints: []string{"node.role==worker"}, want: `placement constraint "node.role==worker" excludes node manager1`},
		{name: "a label it lacks", constraints: []string{"node.labels.gpu==yes"}, want: "excludes node manager1"},
		{name: "a key Swarm knows and this does not: left to Swarm", constraints: []string{"node.unknown==x"}},
		{name: "drained", change: func(n *swarm.Node) { n.Spec.Availability = swarm.NodeAvailabilityDrain }, want: "is drain, so Swarm places no task on it"},
		{name: "down", change: func(n *swarm.Node) { n.Status.State = swarm.NodeStateDown }, want: "node manager1 (n1) is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, n := built(), node
			job.Spec.TaskTemplate.Placement = &swarm.Placement{Constraints: tt.constraints}
			if tt.change != nil {
				tt.change(&n)
			}
			got := MayNotRunOn(job, n)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("MayNotRunOn = %q, want %q", got, tt.want)
			}
		})
	}
}

// An exec that succeeded is never a success of the job's version, and
// each kind of record is found apart.
func TestExecRecordIsNotARun(t *testing.T) {
	ctx := context.Background()
	store := Records{Engine: &jobstest.Configs{}}
	zero := 0
	exec := Record{RunID: "20261204T120000Z-aaaaaa", Job: "migrate", Stack: "todo", Version: "v1", Outcome: Succeeded,
		Attempts: []Attempt{{Number: 1, ExitCode: &zero}}, Exec: &ExecInfo{Command: []string{"true"}}}
	if err := store.Save(ctx, exec, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := store.Succeeded(ctx, "todo", "migrate", "v1"); err != nil || ok {
		t.Errorf("Succeeded = %t, %v: an exec's success counted as the version's", ok, err)
	}
	run := Record{RunID: "20261204T120100Z-bbbbbb", Job: "migrate", Stack: "todo", Version: "v1", Outcome: Failed}
	if err := store.Save(ctx, run, nil); err != nil {
		t.Fatal(err)
	}
	for kind, want := range map[RecordKind][]string{"": {exec.RunID, run.RunID}, KindRuns: {run.RunID}, KindExecs: {exec.RunID}} {
		found, err := store.Find(ctx, RecordFilter{Stack: "todo", Job: "migrate", Kind: kind}, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range found {
			got = append(got, r.RunID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Find kind %q = %v, want %v", kind, got, want)
		}
	}
}
