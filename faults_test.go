package main

// Faults around a run: the engine restarting, a container killed, the
// CloudWatch endpoint gone, the service removed by someone else, signals.
// Each asserts the verdict and the output.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"jobrun/jobs"
	"jobrun/logs/cwlogstest"
)

// A job that prints a numbered line every 0.2 s for a few seconds; its
// first run (counted in /state/runs) sleeps first when SLOW is set, so a
// fault can hit it mid-run.
const faultJobs = `version: "3.7"
services:
  ticker:
    image: IMAGE
    command: ["sh", "-c", "echo run >> /state/runs; n=$$(wc -l < /state/runs); echo \"start $$n\"; if [ $$n -eq 1 ] && [ -n \"$${SLOW}\" ]; then sleep 60; fi; for i in $$(seq 1 $${TICKS:-20}); do echo \"tick $$n.$$i\"; sleep 0.2; done; echo \"done $$n\""]
    environment: {SLOW: "${SLOW:-}", TICKS: "${TICKS:-20}"}
    volumes: [{type: bind, source: STATE, target: /state}]
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 3}
`

func ticks(run, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "tick %d.%d\n", run, i)
	}
	return b.String()
}

// TestEngineRestartMidRun stops the engine for 5 s while jobrun waits. It
// is not parallel: every other test's engine goes away too.
func TestEngineRestartMidRun(t *testing.T) {
	long(t)
	s := newSerialStack(t)
	f := s.writeStack("stack.yml", faultJobs)
	cmd, out, errb := s.start([]string{"TICKS=60"}, "-c", f, "ticker", "--version", "v1")
	waitFor(t, func() bool { return strings.Contains(out.String(), "tick 1.3\n") })
	engineScript(t, "down")
	time.Sleep(5 * time.Second)
	engineScript(t, "up")
	err := cmd.Wait()
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if err != nil {
		t.Fatalf("jobrun: %v, want success after the engine came back", err)
	}
	// Whatever Swarm made of the restart, the attempt that completed was
	// shown whole, and so was everything the others printed.
	runs := strings.Count(s.readState("runs"), "run")
	if !strings.Contains(out.String(), fmt.Sprintf("start %d\n%sdone %d\n", runs, ticks(runs, 60), runs)) {
		t.Errorf("the last attempt's output (run %d) is not complete", runs)
	}
}

func engineScript(t *testing.T, verb string) {
	t.Helper()
	if out, err := exec.Command("bash", "scripts/engine.sh", verb).CombinedOutput(); err != nil {
		t.Fatalf("engine.sh %s: %v\n%s", verb, err, out)
	}
}

func TestKilledContainerIsAFailedAttempt(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", faultJobs)
	cmd, out, errb := s.start([]string{"SLOW=1", "TICKS=3"}, "-c", f, "ticker", "--version", "v1")
	waitFor(t, func() bool { return strings.Contains(out.String(), "start 1\n") })
	ctx := context.Background()
	list, err := s.engine.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", "com.docker.swarm.service.name="+jobs.ServiceName(s.name, "ticker"))})
	cs := list.Items
	if err != nil || len(cs) != 1 {
		t.Fatalf("find the job's container: %v (%d found)", err, len(cs))
	}
	if _, err := s.engine.ContainerKill(ctx, cs[0].ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if err != nil {
		t.Fatalf("jobrun: %v, want success on the second attempt", err)
	}
	if want := "start 1\nstart 2\n" + ticks(2, 3) + "done 2\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if !strings.Contains(errb.String(), "attempt 1 of at most 4") || !strings.Contains(errb.String(), "exit code 137") {
		t.Errorf("the killed attempt is not shown as failed with exit code 137")
	}
}

func TestCloudWatchReadOutage(t *testing.T) {
	long(t)
	s := newStack(t)
	srv := cwlogstest.NewServer()
	defer srv.Close()
	f := s.writeStack("stack.yml", withAWSLogs(faultJobs, srv))
	cmd, out, errb := s.start(append([]string{"TICKS=75"}, awsEnv...), "-c", f, "ticker", "--version", "v1")
	waitFor(t, func() bool { return strings.Contains(out.String(), "start 1\n") })
	srv.SetReadOutage(true) // the job goes on printing; the driver goes on writing
	time.Sleep(10 * time.Second)
	srv.SetReadOutage(false)
	err := cmd.Wait()
	t.Logf("stderr:\n%s", errb.String())
	if err != nil {
		t.Fatalf("jobrun: %v", err)
	}
	if want := "start 1\n" + ticks(1, 75) + "done 1\n"; out.String() != want {
		t.Errorf("output differs after the outage:\n%s", out.String())
	}
	if srv.Stats().Dropped == 0 {
		t.Errorf("no read was dropped: the outage did not happen")
	}
	if n := strings.Count(errb.String(), "WARNING: waiting for CloudWatch Logs (stream docker-swarm-lg/"); n != 1 {
		t.Errorf("said %d times what it waited for during the outage, want once", n)
	}
}

// TestLogsGivesUpOnCloudWatch: jobrun logs of a run whose output is in
// CloudWatch, with CloudWatch not answering, says what it waits for and
// gives up after --drain-timeout with CloudWatch's own exit code.
func TestLogsGivesUpOnCloudWatch(t *testing.T) {
	s := newStack(t)
	srv := cwlogstest.NewServer()
	defer srv.Close()
	f := s.writeStack("stack.yml", withAWSLogs(faultJobs, srv))
	if r := s.jobrun(append([]string{"TICKS=3"}, awsEnv...), "-c", f, "ticker", "--version", "v1"); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, tail(r.stderr, 5))
	}
	srv.SetReadOutage(true)
	l := s.jobrun(awsEnv, "logs", "ticker", "--drain-timeout", "8s")
	t.Logf("stderr:\n%s", l.stderr)
	if l.code != jobs.ExitCloudWatch {
		t.Errorf("exit %d, want %d (CloudWatch)", l.code, jobs.ExitCloudWatch)
	}
	for _, want := range []string{
		"jobrun: ticker: waiting for CloudWatch Logs (stream docker-swarm-lg/", "giving up after --drain-timeout 8s",
		"jobrun: ticker: attempt 1's output: CloudWatch Logs did not answer within --drain-timeout 8s",
	} {
		if !strings.Contains(l.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
}

func TestServiceRemovedOutsideJobrun(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	cmd, out, errb := s.start(nil, "-c", f, "sleeper", "--version", "v1")
	waitFor(t, func() bool { return strings.Contains(out.String(), "sleeping") })
	if _, err := s.engine.ServiceRemove(context.Background(), jobs.ServiceName(s.name, "sleeper"), client.ServiceRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if code := exitCodeOf(cmd.Wait()); code != jobs.ExitRemoved {
		t.Errorf("exit %d, want %d", code, jobs.ExitRemoved)
	}
	if !strings.Contains(errb.String(), "removed outside jobrun") {
		t.Errorf("stderr does not say the service was removed outside jobrun:\n%s", errb.String())
	}
}

func TestSignals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		signals   []os.Signal
		flushWait string
		want      string
		removed   bool
	}{
		{"SIGTERM stops the job", []os.Signal{syscall.SIGTERM}, "1s", "stopped the job", true},
		// The CloudWatch drain after the stop (--flush-wait 60s) keeps
		// jobrun busy long enough for the second signal to cut it short.
		{"a second signal exits at once", []os.Signal{os.Interrupt, os.Interrupt}, "60s", "interrupted twice", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t)
			srv := cwlogstest.NewServer()
			defer srv.Close()
			f := s.writeStack("stack.yml", withAWSLogs(faultJobs, srv))
			cmd, out, errb := s.start(append([]string{"SLOW=1"}, awsEnv...), "-c", f, "ticker", "--version", "v1", "--flush-wait", c.flushWait, "--drain-timeout", "90s")
			waitFor(t, func() bool { return strings.Contains(out.String(), "start 1") })
			for i, sig := range c.signals {
				_ = cmd.Process.Signal(sig)
				// Unix does not queue a second identical signal: wait until
				// jobrun took the first.
				waitFor(t, func() bool { return strings.Count(errb.String(), "stopping") >= 1 })
				if i == 0 && len(c.signals) > 1 {
					waitFor(t, func() bool { return strings.Contains(errb.String(), "stopped the job") })
				}
			}
			if code := exitCodeOf(cmd.Wait()); code != jobs.ExitInterrupted {
				t.Errorf("exit %d, want %d", code, jobs.ExitInterrupted)
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, errb.String())
			}
			if c.removed {
				s.assertNoService()
			}
		})
	}
}

// TestOutputPipedIntoHead: when the reader goes away the job still runs to
// its verdict, jobrun is not killed by SIGPIPE, and the output is recorded.
func TestOutputPipedIntoHead(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", faultJobs)
	cmd := s.command([]string{"TICKS=10"}, "-c", f, "ticker", "--version", "v1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("start 1\n"))
	if _, err := stdout.Read(first); err != nil {
		t.Fatal(err)
	}
	stdout.Close() // as `head -1` does
	err = cmd.Wait()
	t.Logf("stderr:\n%s", errb.String())
	if err != nil {
		t.Fatalf("jobrun: %v, want the job's own verdict (success)", err)
	}
	if !strings.Contains(errb.String(), "cannot write the job's stdout") || !strings.Contains(errb.String(), "no more of it is shown") {
		t.Errorf("stderr does not say the output stopped")
	}
	l := s.jobrun(nil, "logs", "ticker")
	if !strings.Contains(l.stdout, "done 1") {
		t.Errorf("the recorded output lacks the end of the run: %q", l.stdout)
	}
}

func TestFiveConcurrentRunsStartOneMigration(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", faultJobs)
	five := make(chan []result)
	go func() { five <- s.jobrunAtOnce(5, []string{"TICKS=10"}, "-c", f, "ticker", "--version", "v1") }()
	time.Sleep(500 * time.Millisecond)
	other := s.jobrunQuiet([]string{"TICKS=10"}, "-c", f, "ticker", "--version", "v2")
	results := <-five
	for i, r := range results {
		if r.code != 0 || !strings.Contains(r.stderr, "succeeded") {
			t.Errorf("run %d: exit %d, want 0 and the same verdict:\n%s", i, r.code, r.stderr)
		}
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 1 {
		t.Errorf("%d ticker containers ran, want exactly 1", runs)
	}
	if other.code != jobs.ExitConflict && !strings.Contains(other.stderr, "v1 is running") {
		// It may also have come after v1 ended, and then run v2 itself.
		if other.code != 0 {
			t.Errorf("concurrent other version: exit %d: %s", other.code, other.stderr)
		}
	}
}

func TestEngineUnreachableAtStart(t *testing.T) {
	if os.Getenv("JOBRUN_INTEGRATION") != "1" {
		t.Skip("needs the jobrun binary: run scripts/test.sh")
	}
	t.Parallel()
	cases := []struct{ name, host string }{
		{"no socket", "unix:///run/jobrun-nowhere/docker.sock"},
		{"connection refused, password in the URL", "tcp://deploy:hunter2secret@127.0.0.1:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(jobrunBin, "--stack", "s", "history", "--connect-timeout", "3s")
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+c.host)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			start := time.Now()
			code := exitCodeOf(cmd.Run())
			took := time.Since(start)
			if code != jobs.ExitEngine {
				t.Errorf("exit %d, want %d", code, jobs.ExitEngine)
			}
			if took > 10*time.Second { // --connect-timeout, with room for a slow machine
				t.Errorf("took %s, want about --connect-timeout 3s at most", took)
			}
			msg := errb.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "DOCKER_HOST") || strings.Contains(msg, "hunter2secret") {
				t.Errorf("want one line naming DOCKER_HOST without the password, got %q", msg)
			}
		})
	}
}

// TestDrainTimeoutIsReported: a stream that never appears (here: the job
// does not log to CloudWatch, but --logs cloudwatch says it does) is said
// loudly, kept in the run record, and changes neither the verdict nor the
// cleanup. The endpoint comes the standard SDK way.
func TestDrainTimeoutIsReported(t *testing.T) {
	s := newStack(t)
	srv := cwlogstest.NewServer()
	defer srv.Close()
	srv.Put("docker-swarm-lg", "another-stream", cwlogstest.Event{Timestamp: time.Now().UnixMilli(), Message: "x"})
	f := s.writeStack("stack.yml", countingJobs)
	env := append([]string{"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=" + srv.URL}, awsEnv...)
	r := s.jobrun(env, "-c", f, "collectstatic", "--version", "v1", "--logs", "cloudwatch", "--drain-timeout", "3s", "-o", "json")
	if r.code != 0 {
		t.Errorf("exit %d, want 0: a log-reading failure never changes the verdict", r.code)
	}
	if !strings.Contains(r.stderr, "output may be incomplete") {
		t.Errorf("stderr does not say the output may be incomplete")
	}
	if !strings.Contains(r.stdout, `"log_note": "attempt 1: output may be incomplete`) {
		t.Errorf("the run record lacks the note:\n%s", r.stdout)
	}
	if srv.Calls("GetLogEvents") == 0 {
		t.Errorf("jobrun never asked the endpoint from AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
	}
	s.assertNoService()
}
