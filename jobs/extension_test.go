package jobs

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"jobrun/jobs/jobstest"
)

// TestExtension reads x-jobrun from stack files as teams write them.
func TestExtension(t *testing.T) {
	tests := []struct {
		name    string
		ext     string // the x-jobrun mapping
		want    Extension
		wantErr string // words of a *UsageError
	}{
		{name: "none", ext: "", want: Extension{}},
		{name: "phase only", ext: "{phase: pre-deploy}", want: Extension{}},
		{name: "timeout and final codes", ext: "{phase: pre-deploy, timeout: 10m, final-exit-codes: [3, 4]}", want: Extension{Timeout: 10 * time.Minute, FinalExitCodes: NewExitCodes(3, 4)}},
		{name: "timeout not a duration", ext: "{timeout: soon}", wantErr: "x-jobrun timeout soon is not a positive duration such as 10m"},
		{name: "timeout zero", ext: "{timeout: 0s}", wantErr: "x-jobrun timeout 0s is not a positive duration"},
		{name: "final codes not a list", ext: "{final-exit-codes: 3}", wantErr: "x-jobrun final-exit-codes 3 is not a list of exit codes from 1 to 255"},
		{name: "final code out of range", ext: "{final-exit-codes: [0]}", wantErr: "is not a list of exit codes from 1 to 255"},
		{name: "retry-when and changes-when", ext: `{retry-when: ["Can't connect to MySQL server", "Connection refused"], changes-when: ["Applying "]}`,
			want: Extension{Output: OutputRules{RetryWhen: []string{"Can't connect to MySQL server", "Connection refused"}, ChangesWhen: []string{"Applying "}}}},
		{name: "retry-when a text, not a list", ext: `{retry-when: "Connection refused"}`, wantErr: `x-jobrun retry-when Connection refused is not a list of texts, such as ["Can't connect to MySQL server"]`},
		{name: "retry-when empty", ext: `{retry-when: []}`, wantErr: "x-jobrun retry-when [] is not a list of texts"},
		{name: "changes-when holds a number", ext: `{changes-when: [3]}`, wantErr: "x-jobrun changes-when [3] is not a list of texts"},
		{name: "plan", ext: "{plan: [python3, manage.py, migrate, --plan]}", want: Extension{Plan: []string{"python3", "manage.py", "migrate", "--plan"}}},
		{name: "plan with an empty argument", ext: `{plan: [sh, -c, "echo $$0", ""]}`, want: Extension{Plan: []string{"sh", "-c", "echo $0", ""}}},
		{name: "plan a string, not a list", ext: `{plan: "python3 manage.py migrate --plan"}`, wantErr: "x-jobrun plan python3 manage.py migrate --plan is not a command as a list of words, such as [python3, manage.py, migrate, --plan]: fix it in the stack file"},
		{name: "plan empty", ext: "{plan: []}", wantErr: "x-jobrun plan [] is not a command as a list of words"},
		{name: "plan without a command", ext: `{plan: ["", --plan]}`, wantErr: "x-jobrun plan [ --plan] is not a command as a list of words"},
		{name: "plan holds a mapping", ext: "{plan: [python3, {a: b}]}", wantErr: "x-jobrun plan [python3 map[a:b]] is not a command as a list of words"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "version: \"3.7\"\nservices:\n  migrate:\n    image: app:1\n"
			if tt.ext != "" {
				yaml += "    x-jobrun: " + tt.ext + "\n"
			}
			path := filepath.Join(t.TempDir(), "stack.yml")
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			stack, err := LoadStack("todo", []string{path}, nil)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			svc, err := stack.Service("migrate")
			if err != nil {
				t.Fatal(err)
			}
			got, err := extensionOf(svc)
			if tt.wantErr != "" {
				jobstest.WantExit(t, err, ExitUsage, tt.wantErr)
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("extension %+v (%v), want %+v", got, err, tt.want)
			}
		})
	}
}

// TestFinalExitCodes: a failure with a final exit code is the last
// attempt, however many the policy allows; other codes are retried; the
// codes survive the trip through the service's labels.
func TestFinalExitCodes(t *testing.T) {
	failedWith := func(code int) swarm.Task {
		return withExit(task("a", swarm.TaskStateFailed, 0, 5*time.Second), "c-a", code, "task: non-zero exit")
	}
	p := Policy{MaxRuns: 7, Delay: 30 * time.Second, FinalExitCodes: NewExitCodes(3)}
	if v := Judge([]swarm.Task{failedWith(3)}, nil, p, t0.Add(6*time.Second)); v.Outcome != Failed || v.Reason != "attempt 1 exited 3, a final exit code (x-jobrun final-exit-codes): no further attempt" {
		t.Errorf("exit 3: %s (%s), want failed at once", v.Outcome, v.Reason)
	}
	if v := Judge([]swarm.Task{failedWith(1)}, nil, p, t0.Add(6*time.Second)); v.Outcome != Running {
		t.Errorf("exit 1: %s (%s), want running: another attempt follows", v.Outcome, v.Reason)
	}
	labels := map[string]string{LabelFinalExitCodes: NewExitCodes(3, 200).String()}
	if got := policyFromLabels(labels, 0).FinalExitCodes; got != NewExitCodes(3, 200) || NewExitCodes(3, 200).String() != "3,200" {
		t.Errorf("from labels %q: %v, want 3 and 200", labels[LabelFinalExitCodes], got.List())
	}
}

// TestRunTimeout: --timeout wins, then the job's x-jobrun timeout, then
// the default, and the verdict names which one ran out.
func TestRunTimeout(t *testing.T) {
	tests := []struct {
		flag, job, want time.Duration
		flagName, from  string
	}{
		{flag: 5 * time.Minute, job: 10 * time.Minute, want: 5 * time.Minute, from: "--timeout"},
		{flag: 2 * time.Minute, flagName: "--plan-timeout", job: 10 * time.Minute, want: 2 * time.Minute, from: "--plan-timeout"},
		{job: 10 * time.Minute, want: 10 * time.Minute, from: "x-jobrun timeout"},
		{want: time.Hour, from: "--timeout"},
	}
	for _, tt := range tests {
		r := &Runner{Opts: RunOptions{Timeout: tt.flag, TimeoutFlag: tt.flagName, DefaultTimeout: time.Hour}}
		if got, from := r.timeout(Job{Timeout: tt.job}); got != tt.want || from != tt.from {
			t.Errorf("flag %s, job %s: %s from %s, want %s from %s", tt.flag, tt.job, got, from, tt.want, tt.from)
		}
	}
}

// TestOutputRulesLabels: the rules survive the trip through the service's
// labels, texts with commas and quotes too; a service without them has none.
func TestOutputRulesLabels(t *testing.T) {
	rules := OutputRules{RetryWhen: []string{`Can't connect to MySQL server on 'db', "again"`}, ChangesWhen: []string{"Applying "}}
	labels := map[string]string{}
	rules.label(labels)
	if got := outputRulesFromLabels(labels); !reflect.DeepEqual(got, rules) {
		t.Errorf("from labels %v: %+v, want %+v", labels, got, rules)
	}
	if got := outputRulesFromLabels(map[string]string{}); got.RetryWhen != nil || got.ChangesWhen != nil {
		t.Errorf("from no labels: %+v, want no rules", got)
	}
}
