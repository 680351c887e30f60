package main

// End-to-end tests of a job's plan (x-jobrun plan) on the real engine: run
// once as an exec by jobrun deploy --dry-run and jobrun plan, said under
// its job, a WARNING and exit 14 when it does not run to success.

import (
	"encoding/json"
	"strings"
	"testing"

	"jobrun/jobs"
)

// planJobs: migrate's plan says no (exit 3), seed's outlives
// --plan-timeout, ghost's image does not exist, smoke has no plan.
const planJobs = `version: "3.7"
services:
  web:
    image: IMAGE
    command: ["sleep", "600"]
  migrate:
    image: IMAGE
    command: ["true"]
    x-jobrun: {phase: pre-deploy, plan: [sh, -c, "echo checking the schema; echo cannot read it >&2; exit 3"]}
  seed:
    image: IMAGE
    command: ["true"]
    stop_grace_period: 1s
    x-jobrun: {phase: pre-deploy, plan: [sleep, "60"]}
  ghost:
    image: jobrun-test/no-such-image:${APP_VERSION}
    x-jobrun: {phase: pre-deploy, plan: ["true"]}
  smoke:
    image: IMAGE
    x-jobrun: {phase: post-deploy}
`

// TestPlanWarnings: each plan that does not run to success is a WARNING
// under its job, and the dry run exits 14; a plan whose image does not
// exist is not started; the swarm keeps only the execs' records.
func TestPlanWarnings(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", planJobs)
	before := s.snapshot()
	r := s.jobrun(nil, "deploy", "-c", f, "--version", "v1", "--dry-run", "--plan-timeout", "2s", "--resolve-image", "never")
	if r.code != jobs.ExitPlanWarning {
		t.Errorf("dry run: exit %d, want %d", r.code, jobs.ExitPlanWarning)
	}
	for _, want := range []string{
		"+ job migrate (pre-deploy): run\n    WARNING: plan sh -c \"echo checking the schema; echo cannot read it >&2; exit 3\": exited 3\n",
		"    | checking the schema\n", "    | cannot read it\n",
		"+ job seed (pre-deploy): run\n    WARNING: plan sleep 60: stopped after --plan-timeout 2s\n",
		"+ job ghost (pre-deploy): run\n    WARNING: plan true: not run: image jobrun-test/no-such-image:v1 does not exist: the engine jobrun talks to has none, and its registry says: ",
		"+ job smoke (post-deploy): run\n    no plan (x-jobrun plan)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	for _, job := range []string{"migrate", "seed", "ghost"} {
		if !strings.Contains(r.stderr, "jobrun: "+job+": WARNING: plan ") {
			t.Errorf("stderr does not warn of %s's plan", job)
		}
	}
	if !strings.Contains(r.stderr, "jobrun: seed: exec \"sleep 60\" of version v1 (run ") || !strings.Contains(r.stderr, "timed-out: still running after --plan-timeout 2s") {
		t.Errorf("stderr does not say --plan-timeout stopped seed's plan")
	}
	execs := planExecs(t, r.stdout)
	if len(execs) != 2 {
		t.Errorf("execs %q, want migrate's and seed's: ghost's never starts", execs)
	}
	if after := s.snapshot(execs...); after != before {
		t.Errorf("the dry run changed the engine:\nbefore: %s\nafter:  %s", before, after)
	}
	s.assertNoService()

	// jobrun plan runs just one, and says the same.
	p := s.jobrun(nil, "plan", "migrate", "-c", f, "--version", "v1", "--resolve-image", "never", "-o", "json")
	var doc struct{ Plan dryRunPlan }
	if err := json.Unmarshal([]byte(p.stdout), &doc); err != nil || p.code != jobs.ExitPlanWarning {
		t.Fatalf("jobrun plan: exit %d (%v), want %d and its JSON", p.code, err, jobs.ExitPlanWarning)
	}
	if got := doc.Plan; got.ExitCode == nil || *got.ExitCode != 3 || got.Warning != "exited 3" || !strings.Contains(got.Output, "checking the schema\n") {
		t.Errorf("jobrun plan -o json: %+v, want exit 3, its warning and its output", got)
	}
	s.assertExecRecords("migrate", append(execs[:1:1], doc.Plan.RunID))
}

// testPlanOfNextVersion: the dry run of the column release after the first
// shows migrate's plan, Django's own migrate --plan in that version's
// context against the live database: the one migration the release would
// apply. collectstatic has no plan. The swarm keeps only the execs'
// records, and the database is as it was.
func testPlanOfNextVersion(t *testing.T, s *engineStack) {
	before := s.snapshot()
	args := []string{"deploy", "-c", "stack.yml", "--version", columnRelease, "--dry-run", "--resolve-image", "never"}
	text := s.jobrun(nil, args...)
	if text.code != 0 {
		t.Errorf("dry run: exit %d, want 0", text.code)
	}
	for _, want := range []string{
		"+ job migrate (pre-deploy): run\n    plan python3 manage.py migrate --plan: exit 0\n    | Planned operations:\n    | todo.0002_todoitem_priority\n",
		"+ job collectstatic (pre-deploy): run\n    no plan (x-jobrun plan)\n",
		// db's restart policy has no max_attempts: Engine 20.10 stores 0.
		"= service db: unchanged\n",
	} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	js := s.jobrun(nil, append(args, "-o", "json")...)
	var doc dryRunDoc
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil || js.code != 0 {
		t.Fatalf("-o json: exit %d, %v", js.code, err)
	}
	execs := planExecs(t, text.stdout)
	for _, step := range doc.DryRun.Steps {
		switch p := step.Plan; {
		case step.Job == "migrate" && (p == nil || p.ExitCode == nil || *p.ExitCode != 0 || !strings.Contains(p.Output, "todo.0002_todoitem_priority")):
			t.Errorf("migrate's plan in -o json: %+v, want exit 0 and todo.0002_todoitem_priority", p)
		case step.Job == "migrate":
			execs = append(execs, p.RunID)
		case step.Job == "collectstatic" && p != nil:
			t.Errorf("collectstatic's plan in -o json: %+v, want none", p)
		}
	}
	if after := s.snapshot(execs...); after != before {
		t.Errorf("the dry runs changed the engine:\nbefore: %s\nafter:  %s", before, after)
	}
	s.assertExecRecords("migrate", execs)
	if got := s.todoMigrations(); got != "0001_initial" {
		t.Errorf("todo migrations after the plans: %q, want 0001_initial alone", got)
	}
}
