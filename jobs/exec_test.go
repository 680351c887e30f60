package jobs

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

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

const digestImage = "app:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// keptSpec is a job's spec as a run keeps it: its own run ID in the
// labels, the job's placement.
func keptSpec() swarm.ServiceSpec {
	spec := testJob().Spec
	spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: digestImage, Args: []string{"python3", "manage.py", "migrate"},
		Labels: map[string]string{LabelJob: "migrate", LabelRunID: "run1"}}
	spec.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.role==worker"}}
	return spec
}

func TestReplayJob(t *testing.T) {
	rec := Record{RunID: "run1", Job: "migrate", Stack: "todo", Version: "v1", Image: digestImage, Mode: "replicated-job"}
	tests := []struct {
		name     string
		image    string // the kept spec's image, when not the record's
		command  []string
		wantArgs []string
	}{
		{name: "the attempt's own command", wantArgs: []string{"python3", "manage.py", "migrate"}},
		{name: "another command", command: []string{"python3", "manage.py", "showmigrations"}, wantArgs: []string{"python3", "manage.py", "showmigrations"}},
		{name: "the record's image wins over the spec's", image: "app:v1", wantArgs: []string{"python3", "manage.py", "migrate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := keptSpec()
			if tt.image != "" {
				spec.TaskTemplate.ContainerSpec.Image = tt.image
			}
			job, err := ReplayJob(rec, spec, "run2", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			command := tt.command
			if command == nil {
				command = job.Spec.TaskTemplate.ContainerSpec.Args
			}
			job, err = AsExec(job, ExecSpec{ID: "abcdef", Command: command, NodeID: "n2"})
			if err != nil {
				t.Fatal(err)
			}
			cs, p := job.Spec.TaskTemplate.ContainerSpec, job.Spec.TaskTemplate.Placement
			switch {
			case cs.Image != digestImage:
				t.Errorf("image %s, want the record's %s", cs.Image, digestImage)
			case !slices.Equal(cs.Args, tt.wantArgs):
				t.Errorf("command %q, want %q", cs.Args, tt.wantArgs)
			case p == nil || !slices.Equal(p.Constraints, []string{"node.role==worker", "node.id==n2"}):
				t.Errorf("placement %+v, want the job's constraint and node.id==n2", p)
			case job.Spec.Labels[LabelRunID] != "run2" || cs.Labels[LabelRunID] != "run2" || job.RunID != "run2":
				t.Errorf("labelled run %s/%s, want the replay's own run2", job.Spec.Labels[LabelRunID], cs.Labels[LabelRunID])
			case job.Spec.Name != "jobrun_todo_migrate_exec_abcdef" || job.Policy.MaxRuns != 1:
				t.Errorf("service %s, %d runs: want an exec's, once", job.Spec.Name, job.Policy.MaxRuns)
			}
			// Maps and slices are copied, not shared with the kept spec.
			if spec.Labels[LabelRunID] != "run1" || spec.TaskTemplate.ContainerSpec.Labels[LabelRunID] != "run1" || len(spec.TaskTemplate.Placement.Constraints) != 1 {
				t.Error("the kept spec was changed")
			}
		})
	}
}

func TestRunKeepsItsSpec(t *testing.T) {
	engine := &endingEngine{timeline: &timeline{}}
	rec, _ := finishRun(t, engine, RunOptions{})
	if rec.Spec != specName("run1") || rec.Attempts[0].Hostname != "host-n1" {
		t.Fatalf("record names spec %q and node %q, want %q and host-n1", rec.Spec, rec.Attempts[0].Hostname, specName("run1"))
	}
	saved, err := Records{Engine: engine}.Find(context.Background(), RecordFilter{RunID: "run1"}, 1)
	if err != nil || len(saved) != 1 {
		t.Fatalf("saved records %v (%v)", saved, err)
	}
	spec, ok, err := Records{Engine: engine}.Spec(context.Background(), saved[0])
	if err != nil || !ok || spec.Name != "jobrun_todo_migrate" {
		t.Errorf("kept spec %q (%t, %v), want the job service's", spec.Name, ok, err)
	}
}

func TestSpecOverSwarmsLimitIsNotKept(t *testing.T) {
	store := &jobstest.Configs{}
	spec := keptSpec()
	spec.TaskTemplate.ContainerSpec.Env = []string{"BIG=" + strings.Repeat("x", maxStoredSpec)}
	_, err := Records{Engine: store}.SaveSpec(context.Background(), Record{RunID: "run1"}, spec)
	if err == nil || !strings.Contains(err.Error(), "more than a Swarm config holds (500 KiB)") {
		t.Errorf("err %v, want the limit named", err)
	}
	if len(store.Created) != 0 {
		t.Errorf("created %q", store.Created)
	}
}

// A record from before specs were kept is read as keeping none.
func TestOldRecordKeepsNoSpec(t *testing.T) {
	store := &jobstest.Configs{}
	if err := (Records{Engine: store}).Save(context.Background(), Record{RunID: "run0", Job: "migrate", Stack: "todo"}, nil); err != nil {
		t.Fatal(err)
	}
	found, _ := Records{Engine: store}.Find(context.Background(), RecordFilter{RunID: "run0"}, 1)
	if len(found) != 1 {
		t.Fatal("no record")
	}
	if _, ok, err := (Records{Engine: store}).Spec(context.Background(), found[0]); ok || err != nil {
		t.Errorf("found a spec (%t, %v), want none", ok, err)
	}
}

// Pruning removes a run's spec with its record, and asks nothing of the
// runs that kept none.
func TestPruneRemovesSpecs(t *testing.T) {
	store := &jobstest.Configs{}
	records := Records{Engine: store}
	for i, keep := range []bool{true, false, true} {
		rec := Record{RunID: testRunID(i), Job: "migrate", Stack: "todo", Version: "v1", Outcome: Failed}
		if keep {
			rec.Spec, _ = records.SaveSpec(context.Background(), rec, keptSpec())
		}
		if err := records.Save(context.Background(), rec, nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := records.Prune(context.Background(), "todo", "migrate", 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.RemovedRecords != 2 || res.RemovedSpecs != 1 {
		t.Errorf("result %+v, want 2 records and 1 spec removed", res)
	}
	left, _ := store.ConfigList(context.Background(), client.ConfigListOptions{})
	var names []string
	for _, c := range left.Items {
		names = append(names, c.Spec.Name)
	}
	if want := []string{specName(testRunID(2)), recordName(testRunID(2))}; !slices.Equal(names, want) {
		t.Errorf("left %q, want %q", names, want)
	}
}
