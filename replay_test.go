package main

// End to end on the single-node engine: jobrun exec --run makes a recorded
// attempt again from the run's record and kept spec, not from the stack
// file, with the attempt's own command or another; a run recorded before
// specs were kept says so in one line.

import (
	"context"
	"strings"
	"testing"
	"time"

	"jobrun/jobs"
)

// replayJobs: the attempt prints its version and where it read it, and fails.
const replayJobs = `version: "3.7"
services:
  migrate:
    image: IMAGE
    command: ["sh", "-c", "echo \"attempt of $$V\"; exit 3"]
    environment: {V: "${APP_VERSION}"}
    deploy:
      restart_policy: {condition: none}
`

func TestReplay(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", replayJobs)
	if r := s.jobrun(nil, "-c", f, "migrate", "--version", "v1", "--resolve-image", "never"); r.code != jobs.ExitFailed || r.stdout != "attempt of v1\n" {
		t.Fatalf("the run: exit %d, stdout %q; want 1 and its line", r.code, r.stdout)
	}
	run := s.recordOf(nil, "migrate")
	if run.Spec == "" || len(run.Attempts) != 1 || run.Attempts[0].Hostname == "" {
		t.Fatalf("record keeps spec %q, %d attempts, node %q: want a spec, one attempt and its hostname", run.Spec, len(run.Attempts), run.Attempts[0].Hostname)
	}
	// The stack file changes since: a replay never reads it.
	s.writeStack("stack.yml", strings.ReplaceAll(replayJobs, "attempt of", "the file read again:"))
	tests := []struct {
		name    string
		command []string
		code    int
		stdout  string
	}{
		{name: "the attempt's own command", code: 3, stdout: "attempt of v1\n"},
		{name: "another command, in the attempt's environment", command: []string{"--", "sh", "-c", "echo V=$V"}, stdout: "V=v1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.t = t
			r := s.jobrun(nil, append([]string{"-c", f, "exec", "migrate", "--run", run.RunID, "--attempt", "1"}, tt.command...)...)
			if r.code != tt.code || r.stdout != tt.stdout {
				t.Errorf("exit %d, stdout %q; want %d, %q", r.code, r.stdout, tt.code, tt.stdout)
			}
			if want := "replaying attempt 1 of run " + run.RunID + " (version v1, image " + testImage() + ")"; !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q", want)
			}
			rec := s.recordOf(nil, "migrate")
			if rec.Exec == nil || rec.Exec.Replay == nil || rec.Exec.Replay.RunID != run.RunID || rec.Attempts[0].NodeID != run.Attempts[0].NodeID {
				t.Errorf("newest record %+v: want an exec replaying run %s on node %s", rec.Exec, run.RunID, run.Attempts[0].NodeID)
			}
			s.assertNoService()
		})
	}
	s.t = t
	// A replay is never a run of the job: the run stays its newest.
	if l := s.jobrun(nil, "logs", "migrate"); l.stdout != "attempt of v1\n" || !strings.Contains(l.stderr, "v1 failed") {
		t.Errorf("jobrun logs migrate does not show run %s", run.RunID)
	}
	l := s.jobrun(nil, "logs", "--run", run.RunID)
	for _, want := range []string{
		"attempt 1 ran on node " + run.Attempts[0].Hostname + " (" + run.Attempts[0].NodeID + "): it is ready and takes tasks",
		"replay an attempt on its node: jobrun exec migrate --run " + run.RunID + " --attempt N",
	} {
		if !strings.Contains(l.stderr, want) {
			t.Errorf("jobrun logs --run: stderr lacks %q", want)
		}
	}
}

// A record written before jobrun kept specs: a replay says so in one line
// that names the fix, and creates nothing.
func TestReplayOldRecord(t *testing.T) {
	s := newStack(t)
	at := time.Now().Add(-time.Hour)
	code := 1
	old := jobs.Record{RunID: jobs.NewRunID(at), Job: "migrate", Stack: s.name, Version: "v0", Image: testImage(), Outcome: jobs.Failed, MaxRuns: 1,
		Started: at, Ended: at.Add(time.Second), Attempts: []jobs.Attempt{{Number: 1, TaskID: "t1", NodeID: "n1", State: "failed", ExitCode: &code}}}
	if err := (jobs.Records{Engine: s.engine}).Save(context.Background(), old, nil); err != nil {
		t.Fatal(err)
	}
	r := s.jobrun(nil, "exec", "migrate", "--run", old.RunID, "--attempt", "1")
	want := "jobrun: run " + old.RunID + " of migrate was recorded without its service spec (by a jobrun from before replays, or the spec could not be kept), so it cannot be replayed: run the job again (jobrun migrate --version v0 --force)"
	if r.code != jobs.ExitUsage || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d: want %d and %q", r.code, jobs.ExitUsage, want)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) > 2 {
		t.Errorf("stderr has %d lines, want the engine's and the refusal", len(lines))
	}
	s.assertNoService()
}
