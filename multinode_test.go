package main

// End-to-end tests against a real multi-node swarm: a manager and two
// workers, each its own dockerd in its own network namespace, and a plain
// engine not in swarm mode. scripts/test.sh brings them up (with
// scripts/multinode.sh) and sets JOBRUN_MULTINODE=1, and runs them as a
// go test of their own beside the single-node tests; they start nothing
// themselves. Those that kill a node's dockerd run alone
// (multiNodeSwarmAlone), the others side by side (multiNodeSwarm).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
	"jobrun/logs/cwlogstest"
)

// multiNode is the swarm of scripts/multinode.sh, as its env command tells.
type multiNode struct {
	manager, worker1, worker2 mnNode
	plainHost                 string
	bridgeIP                  string // the host's address on the nodes' bridge
}

// mnNode is one dockerd of the swarm.
type mnNode struct {
	host, id, hostname, pidfile string
}

// multiNodeSwarm is the swarm for a test that only runs jobs on it: the test
// runs in parallel with the others, each on a stack of its own.
func multiNodeSwarm(t *testing.T) *multiNode {
	t.Helper()
	mn := multiNodeSwarmAlone(t)
	t.Parallel()
	return mn
}

// multiNodeSwarmAlone is the swarm for a test that kills or stops a node's
// dockerd: it runs before the parallel tests resume, alone on the swarm.
func multiNodeSwarmAlone(t *testing.T) *multiNode {
	t.Helper()
	if os.Getenv("JOBRUN_MULTINODE") != "1" {
		t.Skip("needs the multi-node swarm of scripts/multinode.sh: scripts/test.sh brings it up and sets JOBRUN_MULTINODE=1 (scripts/test.sh -run TestMultiNode runs these alone)")
	}
	if jobrunBin == "" {
		t.Fatal("JOBRUN_MULTINODE=1 needs JOBRUN_INTEGRATION=1 too (TestMain builds jobrun only then)")
	}
	env := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is not set: eval \"$(scripts/multinode.sh env)\"", name)
		}
		return v
	}
	mn := &multiNode{
		manager:   mnNode{host: env("MANAGER_HOST")},
		worker1:   mnNode{host: env("WORKER1_HOST"), pidfile: env("WORKER1_PIDFILE")},
		worker2:   mnNode{host: env("WORKER2_HOST"), pidfile: env("WORKER2_PIDFILE")},
		plainHost: env("PLAIN_HOST"),
		bridgeIP:  env("BRIDGE_HOST_IP"),
	}
	for _, n := range []*mnNode{&mn.manager, &mn.worker1, &mn.worker2} {
		c, err := client.New(client.WithHost(n.host))
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background(), client.InfoOptions{})
		c.Close()
		if err != nil {
			t.Fatalf("%s: %v (is scripts/multinode.sh up?)", n.host, err)
		}
		n.id, n.hostname = info.Info.Swarm.NodeID, info.Info.Name
	}
	return mn
}

// stack is a test's own stack on the manager, with its default network, as
// newStack makes on the single-node engine.
func (mn *multiNode) stack(t *testing.T) *engineStack {
	t.Helper()
	engine, err := client.New(client.WithHost(mn.manager.host))
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &engineStack{t: t, name: "mn" + hex.EncodeToString(b[:]), dir: t.TempDir(), engine: engine}
	if err := createStackNetwork(context.Background(), engine, s.name, s.name+"_default"); err != nil {
		t.Fatalf("create stack network on the manager: %v", err)
	}
	t.Cleanup(s.cleanup)
	return s
}

// onManager is the environment that points jobrun at the manager.
func (mn *multiNode) onManager(env ...string) []string {
	return append([]string{"DOCKER_HOST=" + mn.manager.host}, env...)
}

// multiNodeJobs run on the node named by WORKER1 or WORKER2; their hostname is
// their node's, so their output tells where they ran.
const multiNodeJobs = `version: "3.7"
x-awslogs: &awslogs
  driver: awslogs
  options:
    awslogs-endpoint: ENDPOINT
    awslogs-group: jobrun-multinode-lg
    awslogs-region: us-east-1
    awslogs-create-group: "true"
    tag: "{{.Name}}-{{.ID}}"
services:
  onworker:
    image: IMAGE
    hostname: "{{.Node.Hostname}}"
    command: ["sh", "-c", "echo \"on $$(hostname)\"; seq 1 3000; echo \"to stderr from $$(hostname)\" >&2; echo the-end"]
    deploy:
      placement: {constraints: ["node.hostname == WORKER1"]}
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 1}
  cloud:
    image: IMAGE
    hostname: "{{.Node.Hostname}}"
    command: ["sh", "-c", "echo \"on $$(hostname)\"; seq 1 20000; echo the-end"]
    logging: *awslogs
    deploy:
      placement: {constraints: ["node.hostname == WORKER1"]}
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 1}
  ticker:
    image: IMAGE
    hostname: "{{.Node.Hostname}}"
    command: ["sh", "-c", "for i in $$(seq 60); do echo \"tick $$i on $$(hostname)\"; sleep 1; done"]
    deploy:
      placement: {constraints: ["node.hostname == WORKER2"]}
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 1}
`

func (mn *multiNode) writeStack(s *engineStack, endpoint string) string {
	return s.writeStack("stack.yml", strings.NewReplacer(
		"WORKER1", mn.worker1.hostname, "WORKER2", mn.worker2.hostname, "ENDPOINT", endpoint,
	).Replace(multiNodeJobs))
}

// recordOf reads the newest run record of job through `jobrun history -o json`.
func (mn *multiNode) recordOf(s *engineStack, job string) jobs.Record {
	s.t.Helper()
	return s.recordOf(mn.onManager(), job)
}

// recordOf reads the newest record of job (a run or an exec) through
// `jobrun history -o json`, jobrun pointed at the engine by env.
func (s *engineStack) recordOf(env []string, job string) jobs.Record {
	s.t.Helper()
	h := s.jobrun(env, "history", job, "-o", "json")
	var doc struct{ Runs []jobs.Record }
	if err := json.Unmarshal([]byte(h.stdout), &doc); err != nil || len(doc.Runs) == 0 {
		s.t.Fatalf("history -o json: exit %d, no record (%v)", h.code, err)
	}
	newest := doc.Runs[0]
	for _, r := range doc.Runs[1:] {
		if r.Started.After(newest.Started) {
			newest = r
		}
	}
	return newest
}

func mnSeqOutput(first string, n int, last string) string {
	var b strings.Builder
	b.WriteString(first + "\n")
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i) + "\n")
	}
	b.WriteString(last + "\n")
	return b.String()
}

// A job placed on a worker runs there, and its whole output comes through the
// manager's task logs.
func TestMultiNodeJobOnWorkerEngineLogs(t *testing.T) {
	mn := multiNodeSwarm(t)
	s := mn.stack(t)
	f := mn.writeStack(s, "http://unused.invalid")
	r := s.jobrunQuiet(mn.onManager(), "-c", f, "onworker", "--version", "v1")
	t.Logf("jobrun → exit %d\nstderr:\n%s", r.code, r.stderr)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	if want := mnSeqOutput("on "+mn.worker1.hostname, 3000, "the-end"); r.stdout != want {
		t.Errorf("stdout: %d bytes, want %d; head %q tail %q", len(r.stdout), len(want), mnHead(r.stdout, 40), tail(r.stdout, 40))
	}
	if want := "to stderr from " + mn.worker1.hostname; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks the job's %q", want)
	}
	if want := "on node " + mn.worker1.id[:12]; !strings.Contains(r.stderr, want) {
		t.Errorf("progress does not say %q", want)
	}
	rec := mn.recordOf(s, "onworker")
	if rec.Outcome != jobs.Succeeded || len(rec.Attempts) != 1 {
		t.Fatalf("record: outcome %s, %d attempts; want succeeded, 1", rec.Outcome, len(rec.Attempts))
	}
	if got := rec.Attempts[0].NodeID; got != mn.worker1.id {
		t.Errorf("record: attempt on node %s, want worker1 %s", got, mn.worker1.id)
	}
	if rec.LogSource != "engine" {
		t.Errorf("record: log source %q, want engine", rec.LogSource)
	}
	s.assertNoService()
}

// The worker's own dockerd ships the job's output to CloudWatch (the test
// endpoint on the host's bridge address); jobrun, on the host, reads it all.
func TestMultiNodeJobOnWorkerCloudWatch(t *testing.T) {
	mn := multiNodeSwarm(t)
	s := mn.stack(t)
	srv := mnCWServerOn(t, mn.bridgeIP)
	f := mn.writeStack(s, srv.URL)
	r := s.jobrunQuiet(mn.onManager(awsEnv...), "-c", f, "cloud", "--version", "v1")
	t.Logf("jobrun → exit %d\nstderr:\n%s", r.code, r.stderr)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	if want := mnSeqOutput("on "+mn.worker1.hostname, 20000, "the-end"); r.stdout != want {
		t.Errorf("stdout: %d bytes, want %d; head %q tail %q", len(r.stdout), len(want), mnHead(r.stdout, 40), tail(r.stdout, 40))
	}
	streams := srv.Streams("jobrun-multinode-lg")
	if len(streams) != 1 {
		t.Fatalf("streams %v, want the one attempt's", streams)
	}
	// The stream is named after the container: <service>.<node ID>.<task ID>-<container ID>.
	if !strings.Contains(streams[0], "."+mn.worker1.id+".") {
		t.Errorf("stream %s is not a container on worker1 (%s)", streams[0], mn.worker1.id)
	}
	if !strings.Contains(r.stderr, streams[0]) {
		t.Errorf("summary does not name stream %s", streams[0])
	}
	if n := srv.Calls("GetLogEvents"); n == 0 {
		t.Errorf("jobrun never called GetLogEvents")
	}
	rec := mn.recordOf(s, "cloud")
	if len(rec.Attempts) != 1 || rec.Attempts[0].NodeID != mn.worker1.id || rec.LogSource != "cloudwatch" {
		t.Errorf("record: %d attempts, source %q; want 1 on worker1 %s from cloudwatch", len(rec.Attempts), rec.LogSource, mn.worker1.id)
	}
	s.assertNoService()
}

// mnCWServerOn is a cwlogstest endpoint listening on ip (not loopback), so
// that the nodes' dockerds reach it from their namespaces.
func mnCWServerOn(t *testing.T, ip string) *cwlogstest.Server {
	t.Helper()
	srv := cwlogstest.NewUnstartedServer()
	srv.Listener.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// jobrun refuses an engine that is not a manager, in one line that says what
// to do.
func TestMultiNodeNotAManager(t *testing.T) {
	mn := multiNodeSwarm(t)
	s := &engineStack{t: t, name: "mnrefused", dir: t.TempDir()}
	f := mn.writeStack(s, "http://unused.invalid")
	cases := []struct {
		name, host string
		want       []string
	}{
		{"worker", mn.worker1.host, []string{"worker", "manager"}},
		{"not in swarm mode", mn.plainHost, []string{"swarm init"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.t = t
			r := s.jobrun([]string{"DOCKER_HOST=" + c.host}, "-c", f, "onworker", "--version", "v1")
			if r.code != jobs.ExitEngine {
				t.Errorf("exit %d, want %d", r.code, jobs.ExitEngine)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 {
				t.Errorf("stderr has %d lines, want one", len(lines))
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
		})
	}
}

// A worker's dockerd dies under a running attempt: jobrun does not hang, and
// says which node was lost. The test logs what Swarm shows meanwhile.
func TestMultiNodeWorkerLostMidJob(t *testing.T) {
	mn := multiNodeSwarmAlone(t)
	s := mn.stack(t)
	f := mn.writeStack(s, "http://unused.invalid")
	// Runs before the stack's cleanup: its network is freed only once the
	// worker is back and has shut the task down.
	t.Cleanup(func() {
		out, err := exec.Command("bash", "scripts/multinode.sh", "up").CombinedOutput()
		if err != nil {
			t.Errorf("restart the swarm (scripts/multinode.sh up): %v\n%s", err, out)
		}
	})

	const timeout = 150 * time.Second
	cmd, out, errb := s.start(mn.onManager(), "-c", f, "ticker", "--version", "v1", "--timeout", timeout.String())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()
	waitFor(t, func() bool { return strings.Contains(out.String(), "tick 3 on "+mn.worker2.hostname) })

	killed := time.Now()
	mnKillDockerd(t, mn.worker2.pidfile)
	t.Logf("killed %s's dockerd (SIGKILL) at %s", mn.worker2.hostname, killed.Format("15:04:05.000"))
	ctx, stop := context.WithCancel(context.Background())
	timeline := make(chan []string, 1)
	go func() { timeline <- mnObserve(ctx, s.engine, s.name, mn.worker2.id, killed, 90*time.Second) }()

	var err error
	select {
	case err = <-exited:
	case <-time.After(timeout + 30*time.Second):
		_ = cmd.Process.Kill()
		<-exited
		stop()
		t.Logf("swarm, from the kill on:\n%s", strings.Join(<-timeline, "\n"))
		t.Fatalf("jobrun still running %s after the kill (--timeout %s): it hangs\nstderr:\n%s", time.Since(killed).Round(time.Second), timeout, errb.String())
	}
	took := time.Since(killed)
	stop()
	t.Logf("swarm, from the kill on:\n%s", strings.Join(<-timeline, "\n"))
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	code := exitCodeOf(err)
	t.Logf("jobrun → exit %d, %s after the kill\nstdout:\n%s\nstderr:\n%s", code, took.Round(100*time.Millisecond), out.String(), errb.String())
	if code == 0 {
		t.Errorf("exit 0 for a run whose node was lost")
	}
	if code == jobs.ExitTimedOut {
		t.Errorf("exit %d: jobrun waited out --timeout instead of seeing the node down", code)
	}
	for _, want := range []string{mn.worker2.id[:12], "down"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q (the lost node %s, %s)", want, mn.worker2.hostname, mn.worker2.id)
		}
	}
}

// mnKillDockerd sends SIGKILL to the dockerd whose pidfile is given.
func mnKillDockerd(t *testing.T, pidfile string) {
	t.Helper()
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile %s: %v", pidfile, err)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != "dockerd" {
		t.Fatalf("pid %d of %s is not a dockerd", pid, pidfile)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// mnObserve polls the manager until ctx ends or for at most d, and
// returns each change it saw in the stack's job tasks and in the node's
// status, timed from since.
func mnObserve(ctx context.Context, engine *client.Client, stack, nodeID string, since time.Time, d time.Duration) []string {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var lines []string
	prev := ""
	for {
		cur := mnDescribeSwarm(ctx, engine, stack, nodeID)
		if cur != prev && ctx.Err() == nil {
			lines = append(lines, fmt.Sprintf("+%5.1fs %s", time.Since(since).Seconds(), cur))
			prev = cur
		}
		select {
		case <-ctx.Done():
			return lines
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func mnDescribeSwarm(ctx context.Context, engine *client.Client, stack, nodeID string) string {
	var b strings.Builder
	inspected, err := engine.NodeInspect(ctx, nodeID, client.NodeInspectOptions{})
	node := inspected.Node
	if err != nil {
		fmt.Fprintf(&b, "node: %v", err)
	} else {
		fmt.Fprintf(&b, "node %s: %s %q", node.Description.Hostname, node.Status.State, node.Status.Message)
	}
	svcs, err := engine.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", jobs.LabelStack+"="+stack)})
	if err != nil || len(svcs.Items) == 0 {
		fmt.Fprintf(&b, "; no job service (%v)", err)
		return b.String()
	}
	tasks, err := engine.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", svcs.Items[0].ID)})
	if err != nil {
		fmt.Fprintf(&b, "; tasks: %v", err)
		return b.String()
	}
	for _, t := range tasks.Items {
		exit := ""
		if cs := t.Status.ContainerStatus; cs != nil && t.Status.State != swarm.TaskStateRunning {
			exit = fmt.Sprintf(" exit=%d", cs.ExitCode)
		}
		fmt.Fprintf(&b, "; task %.12s on %.12s: %s (desired %s) msg=%q err=%q at %s%s",
			t.ID, t.NodeID, t.Status.State, t.DesiredState, t.Status.Message, t.Status.Err, t.Status.Timestamp.Format("15:04:05.000"), exit)
	}
	return b.String()
}

func mnHead(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
