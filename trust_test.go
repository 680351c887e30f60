package main

// End-to-end tests that jobrun's word is true: a stop stops, the job runs
// exactly as often as jobrun prints, and the job's own file-based secrets
// exist on the first run.

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// runningContainers counts the job's containers running on one engine.
func runningContainers(t *testing.T, engine *client.Client, service string) int {
	t.Helper()
	list, err := engine.ContainerList(context.Background(), client.ContainerListOptions{Filters: make(client.Filters).Add("label", "com.docker.swarm.service.name="+service).Add("status", "running")})
	cs := list.Items
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	return len(cs)
}

// A job that counts its runs in /state/<job> and always fails.
const restartJobs = `version: "3.7"
x-job: &job
  image: IMAGE
  command: ["sh", "-c", "echo run >> /state/$${JOB}; echo \"run $$(wc -l < /state/$${JOB})\"; exit 1"]
  volumes:
    - type: bind
      source: STATE
      target: /state
services:
  no:
    <<: *job
    environment: {JOB: "no"}
    restart: "no"
  onfailure:
    <<: *job
    environment: {JOB: onfailure}
    restart: on-failure
  onfailure2:
    <<: *job
    environment: {JOB: onfailure2}
    restart: on-failure:2
  always:
    <<: *job
    environment: {JOB: always}
    restart: always
  zero:
    <<: *job
    environment: {JOB: zero}
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 0}
  none:
    <<: *job
    environment: {JOB: none}
    deploy:
      restart_policy: {condition: none, max_attempts: 5}
  two:
    <<: *job
    environment: {JOB: two}
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 2, window: 1s}
`

var attemptsDone = regexp.MustCompile(`failed in \S+ after (\d+) attempt\(s\)`)

// attemptRejected is a progress line of an attempt the engine rejected
// before it ran: Engine 29 can cancel one as its restart delay ends (see
// jobs.Attempt.canceledByEngine), and Swarm counts it all the same.
var attemptRejected = regexp.MustCompile(`attempt (\d+) of at most \d+[^:]*: rejected \(`)

// attemptsNeverRan counts the attempts jobrun showed as rejected.
func attemptsNeverRan(stderr string) int {
	seen := map[string]bool{}
	for _, m := range attemptRejected.FindAllStringSubmatch(stderr, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}

// TestRestartFormsRunAsPrinted: every restart rule a stack file can write
// runs the job exactly the printed number of times, counted by the job
// itself, and nothing runs after jobrun exits.
func TestRestartFormsRunAsPrinted(t *testing.T) {
	long(t)
	t.Parallel()
	cases := []struct {
		job   string
		args  []string
		runs  int
		say   string // in jobrun's progress
		notes string // a note on where jobrun departs from the file
	}{
		{job: "no", runs: 1, say: "one attempt, no restart"},
		{job: "onfailure", runs: 7, say: "at most 7 attempts"},
		{job: "onfailure2", runs: 3, say: "at most 3 attempts"},
		{job: "always", runs: 7, say: "at most 7 attempts", notes: "restarts on failure only"},
		{job: "zero", runs: 7, say: "at most 7 attempts", notes: "max_attempts: 0 means no limit to Swarm"},
		{job: "none", runs: 1, say: "one attempt, no restart"},
		{job: "two", runs: 3, say: "at most 3 attempts", notes: "window is ignored"},
		{job: "onfailure2", args: []string{"--max-attempts", "0"}, runs: 1, say: "one attempt, no restart"},
	}
	for _, c := range cases {
		t.Run(strings.Join(append([]string{c.job}, c.args...), " "), func(t *testing.T) {
			s := newStack(t)
			f := s.writeStack("stack.yml", restartJobs)
			args := append([]string{"-c", f, c.job, "--version", "v1", "--restart-delay", "1s"}, c.args...)
			r := s.jobrun(nil, args...)
			if r.code != jobs.ExitFailed {
				t.Errorf("exit %d, want %d", r.code, jobs.ExitFailed)
			}
			for _, want := range []string{c.say, c.notes} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
			m := attemptsDone.FindStringSubmatch(r.stderr)
			if m == nil {
				t.Fatalf("no verdict with a count of attempts in stderr")
			}
			printed, _ := strconv.Atoi(m[1])
			ran := strings.Count(s.readState(c.job), "run")
			if lost := attemptsNeverRan(r.stderr); printed != c.runs || ran != c.runs-lost {
				t.Errorf("jobrun printed %d attempts (%d rejected) and the job ran %d times, want %d", printed, lost, ran, c.runs)
			}
			// Swarm's own restart delay is 1 s: a restart it still had in
			// mind would have run by now.
			time.Sleep(3 * time.Second)
			if after := strings.Count(s.readState(c.job), "run"); after != ran {
				t.Errorf("the job ran %d more times after jobrun exited", after-ran)
			}
			s.assertNoService()
		})
	}
}

// TestStopMeansStopped: after --timeout, SIGINT or SIGTERM no container of
// the job runs (Engine 20.10 orphans a removed job's task, moby/moby#44312),
// and the next run of the same version is the only migration running.
func TestStopMeansStopped(t *testing.T) {
	long(t)
	t.Parallel()
	cases := []struct {
		name   string
		args   []string
		signal os.Signal
		code   int
	}{
		{name: "timeout", args: []string{"--timeout", "15s"}, code: jobs.ExitTimedOut}, // the job runs first, even on a busy engine
		{name: "SIGINT", signal: os.Interrupt, code: jobs.ExitInterrupted},
		{name: "SIGTERM", signal: syscall.SIGTERM, code: jobs.ExitInterrupted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t)
			f := s.writeStack("stack.yml", countingJobs)
			service := jobs.ServiceName(s.name, "sleeper")
			cmd, out, errb := s.start(nil, append([]string{"-c", f, "sleeper", "--version", "v1"}, c.args...)...)
			waitFor(t, func() bool { return strings.Contains(out.String(), "sleeping") })
			if c.signal != nil {
				_ = cmd.Process.Signal(c.signal)
			}
			if code := exitCodeOf(cmd.Wait()); code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			t.Logf("stderr:\n%s", errb.String())
			if !strings.Contains(errb.String(), "stopped the job") {
				t.Errorf("stderr does not say the job was stopped")
			}
			if n := runningContainers(t, s.engine, service); n != 0 {
				t.Errorf("%d containers of the job still run after jobrun said it stopped it", n)
			}
			s.assertNoService()

			again, out2, _ := s.start(nil, "-c", f, "sleeper", "--version", "v1", "--timeout", "30s")
			waitFor(t, func() bool { return strings.Contains(out2.String(), "sleeping") })
			if n := runningContainers(t, s.engine, service); n != 1 {
				t.Errorf("%d migrations run at once, want 1", n)
			}
			_ = again.Process.Signal(syscall.SIGTERM)
			_ = again.Wait()
			if n := runningContainers(t, s.engine, service); n != 0 {
				t.Errorf("%d containers still run after the second run stopped", n)
			}
		})
	}
}

// TestJobOwnFileSecret: a job's own file-based secret and config, which
// the deployed stack does not have, are created as docker stack deploy
// would name them, and the job reads them on its first run.
func TestJobOwnFileSecret(t *testing.T) {
	s := newStack(t)
	for name, content := range map[string]string{"admin_pw.txt": "s3cret-pw", "settings.ini": "debug=false"} {
		if err := os.WriteFile(s.dir+"/"+name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := s.writeStack("jobs.yml", `version: "3.7"
services:
  createsuperuser:
    image: IMAGE
    command: ["sh", "-c", "cat /run/secrets/admin_pw | wc -c; cat /settings.ini"]
    secrets: [admin_pw]
    configs: [{source: settings, target: /settings.ini}]
secrets:
  admin_pw: {file: ./admin_pw.txt}
configs:
  settings: {file: ./settings.ini}
`)
	r := s.jobrun(nil, "-c", f, "createsuperuser", "--version", "v1")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	if want := "9\ndebug=false"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	for _, want := range []string{"created secret " + s.name + "_admin_pw", "created config " + s.name + "_settings"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "s3cret-pw") {
		t.Errorf("the secret's value was printed")
	}
	ctx := context.Background()
	inspected, err := s.engine.SecretInspect(ctx, s.name+"_admin_pw", client.SecretInspectOptions{})
	sec := inspected.Secret
	if err != nil {
		t.Fatalf("secret: %v", err)
	}
	if ns := sec.Spec.Labels["com.docker.stack.namespace"]; ns != s.name {
		t.Errorf("secret's stack label %q, want %q: the next docker stack deploy must adopt it", ns, s.name)
	}
	t.Cleanup(func() {
		_, _ = s.engine.SecretRemove(ctx, sec.ID, client.SecretRemoveOptions{})
		_, _ = s.engine.ConfigRemove(ctx, s.name+"_settings", client.ConfigRemoveOptions{})
	})
	// The second run finds them and creates nothing.
	r = s.jobrun(nil, "-c", f, "createsuperuser", "--version", "v2")
	if r.code != 0 || strings.Contains(r.stderr, "created secret") {
		t.Errorf("second run: exit %d, stderr %q", r.code, r.stderr)
	}
}
