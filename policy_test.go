package main

// End-to-end tests of the per-job policy in x-jobrun and its flags: final
// exit codes and a job's own timeout, counted by the job itself.

import (
	"encoding/json"
	"strings"
	"testing"

	"jobrun/jobs"
)

const policyJobs = `version: "3.7"
services:
  migrate:
    image: IMAGE
    command: ["sh", "-c", "echo run >> /state/runs; echo 'column already exists' >&2; exit $${CODE:-3}"]
    environment: {CODE: "${CODE:-3}"}
    volumes: [{type: bind, source: STATE, target: /state}]
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 6}
    x-jobrun: {final-exit-codes: [3]}
  slow:
    image: IMAGE
    command: ["sh", "-c", "echo started; sleep 300"]
    deploy:
      restart_policy: {condition: none}
    x-jobrun: {timeout: 4s}
`

// TestFinalExitCodeEndsTheRun: a migration that fails with a final exit
// code runs once, not seven times; another code is retried; the flag
// overrides the file.
func TestFinalExitCodeEndsTheRun(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", policyJobs)
	r := s.jobrun(nil, "-c", f, "migrate", "--version", "v1")
	if r.code != jobs.ExitFailed || !strings.Contains(r.stderr, "attempt 1 exited 3, a final exit code (x-jobrun final-exit-codes): no further attempt") {
		t.Fatalf("exit %d, want %d and the final exit code named: %s", r.code, jobs.ExitFailed, tail(r.stderr, 4))
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 1 {
		t.Errorf("the job ran %d times, want once", runs)
	}
	// The flag replaces the file's codes: 3 is retried, 5 is final.
	r = s.jobrun([]string{"CODE=5"}, "-c", f, "migrate", "--version", "v2", "--final-exit-code", "5", "--max-attempts", "2")
	if r.code != jobs.ExitFailed || !strings.Contains(r.stderr, "attempt 1 exited 5, a final exit code") {
		t.Fatalf("--final-exit-code 5: exit %d: %s", r.code, tail(r.stderr, 4))
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 2 {
		t.Errorf("the job ran %d times in all, want 2", runs)
	}
}

// TestJobTimeoutFromTheStackFile: x-jobrun timeout stops the job when no
// --timeout is given, and says which timeout ran out.
func TestJobTimeoutFromTheStackFile(t *testing.T) {
	long(t)
	s := newStack(t)
	f := s.writeStack("stack.yml", policyJobs)
	r := s.jobrun(nil, "-c", f, "slow", "--version", "v1")
	if r.code != jobs.ExitTimedOut || !strings.Contains(r.stderr, "still running after x-jobrun timeout 4s") {
		t.Errorf("exit %d, want %d and the x-jobrun timeout named: %s", r.code, jobs.ExitTimedOut, tail(r.stderr, 4))
	}
	s.assertNoService()
}

// retryJobs: a migration that cannot reach its database twice, then fails
// at it. Its restart delay is the README's least for retry-when: jobrun
// has read a failed attempt's output before Swarm starts the next one.
const retryJobs = `version: "3.7"
services:
  migrate:
    image: IMAGE
    command: ["sh", "-c", "echo run >> /state/runs; n=$$(wc -l < /state/runs); if [ $$n -le 2 ]; then echo \"OperationalError: (2002, Can't connect to server on 'db' (115))\" >&2; else echo '  Applying todo.0003...'; echo \"OperationalError: (1060, Duplicate column name 'slug')\" >&2; fi; exit 1"]
    volumes: [{type: bind, source: STATE, target: /state}]
    deploy:
      restart_policy: {condition: on-failure, delay: 10s, max_attempts: 6}
    x-jobrun: {retry-when: ["Can't connect to server"], changes-when: ["Applying "]}
`

// TestRetryWhen: the failures retry-when names are retried; the first
// other failure ends the run, counted by the job itself, and the verdict
// names each failure; --retry-when replaces the file's texts.
func TestRetryWhen(t *testing.T) {
	long(t)
	s := newStack(t)
	f := s.writeStack("stack.yml", retryJobs)
	r := s.jobrun(nil, "-c", f, "migrate", "--version", "v1", "-o", "json")
	want := "after 3 attempt(s): attempt 3 failed, and its output has none of the x-jobrun retry-when texts: no further attempt; " +
		"attempts 1–2: OperationalError: (2002, Can't connect to server on 'db' (115)); attempt 3: OperationalError: (1060, Duplicate column name 'slug')"
	if r.code != jobs.ExitFailed || !strings.Contains(r.stderr, want) {
		t.Fatalf("exit %d, want %d and %q: %s", r.code, jobs.ExitFailed, want, tail(r.stderr, 4))
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 3 {
		t.Errorf("the job ran %d times, want 3", runs)
	}
	var doc struct{ Runs []jobs.Record }
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Runs) != 1 || len(doc.Runs[0].Failures) != 2 || !doc.Runs[0].MayHaveChanged {
		t.Errorf("-o json: %v: %s", err, r.stdout)
	}
	// The flag replaces the file's texts: not reaching the database is
	// final now.
	r = s.jobrun(nil, "-c", f, "migrate", "--version", "v2", "--retry-when", "Connection refused")
	if r.code != jobs.ExitFailed || !strings.Contains(r.stderr, "after 1 attempt(s): attempt 1 failed, and its output has none") {
		t.Fatalf("--retry-when: exit %d: %s", r.code, tail(r.stderr, 4))
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 4 {
		t.Errorf("the job ran %d times in all, want 4", runs)
	}
	s.assertNoService()
}
