package main

// End-to-end tests: the jobrun binary against a real Docker engine in swarm
// mode. scripts/test.sh starts one and sets JOBRUN_INTEGRATION=1.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
	"jobrun/logs/cwlogstest"
)

var jobrunBin string

func TestMain(m *testing.M) {
	if os.Getenv("JOBRUN_INTEGRATION") != "1" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "jobrun-it")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	jobrunBin = filepath.Join(dir, "jobrun")
	if out, err := exec.Command("go", "build", "-o", jobrunBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build jobrun: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engineStack is one test's own stack namespace on the shared engine, with
// its default network deployed, as `docker stack deploy` would leave it.
type engineStack struct {
	t      *testing.T
	name   string
	dir    string // holds the stack file and the jobs' bind-mounted state
	engine *client.Client
}

// newStack is a stack for a test that runs in parallel with others. A test
// whose cases each make one calls t.Parallel() itself too: else it holds
// the serial phase, which the parallel tests wait out, as long as its cases
// run.
func newStack(t *testing.T) *engineStack {
	t.Helper()
	return startStack(t, true)
}

// newSerialStack is a stack for a test that disturbs the engine itself: it
// runs before the parallel tests resume.
func newSerialStack(t *testing.T) *engineStack {
	t.Helper()
	return startStack(t, false)
}

// long marks a test that takes 15 s or more (its subtests together):
// scripts/test.sh -short (the quick subset, one or more tests of each
// command on the real engine) skips it; the full suite and CI run it.
func long(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("takes 15 s or more: scripts/test.sh without -short runs it")
	}
}

func startStack(t *testing.T, parallel bool) *engineStack {
	t.Helper()
	if os.Getenv("JOBRUN_INTEGRATION") != "1" {
		t.Skip("needs a swarm engine: run scripts/test.sh (sets JOBRUN_INTEGRATION=1)")
	}
	if parallel {
		t.Parallel()
	}
	engine, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &engineStack{t: t, name: "it" + hex.EncodeToString(b[:]), dir: t.TempDir(), engine: engine}
	ctx := context.Background()
	if err := createStackNetwork(ctx, engine, s.name, s.name+"_default"); err != nil {
		t.Fatalf("create stack network: %v", err)
	}
	t.Cleanup(s.cleanup)
	return s
}

// stackSubnets counts the test networks' subnets, from a random start: no
// two networks of a run, and seldom two runs one after the other, share a
// subnet.
var stackSubnets = func() *atomic.Uint32 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	n := &atomic.Uint32{}
	n.Store(uint32(b[0])<<8 | uint32(b[1]))
	return n
}()

// createStackNetwork makes the overlay network a deployed stack would
// have, on a /24 of its own in 10.128.0.0/9, which the swarm's default pool
// (10.0.0.0/8, handed out from the bottom) does not reach in a run. Engine
// 29 gives the subnet of a network just removed to the next one at once,
// and rejects its tasks ("Pool overlaps with other one on this address
// space") until the node lets go of the old one: the tests remove and make
// stacks by the second.
func createStackNetwork(ctx context.Context, engine client.APIClient, stack, name string) error {
	n := stackSubnets.Add(1) % (1 << 15)
	subnet := fmt.Sprintf("10.%d.%d.0/24", 128+n>>8, n&0xff)
	_, err := engine.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "overlay", Attachable: true, Labels: map[string]string{"com.docker.stack.namespace": stack},
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix(subnet)}}},
	})
	return err
}

func (s *engineStack) cleanup() {
	ctx := context.Background()
	f := make(client.Filters).Add("label", jobs.LabelStack+"="+s.name)
	svcsResult, _ := s.engine.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	svcs := svcsResult.Items
	for _, svc := range svcs {
		_, _ = s.engine.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{})
	}
	cfgsResult, _ := s.engine.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	cfgs := cfgsResult.Items
	for _, c := range cfgs {
		_, _ = s.engine.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{})
	}
	// The network can be removed only once the tasks' containers are gone.
	for i := 0; i < 50; i++ {
		if _, err := s.engine.NetworkRemove(ctx, s.name+"_default", client.NetworkRemoveOptions{}); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.engine.Close()
}

func testImage() string {
	if img := os.Getenv("JOBRUN_TEST_IMAGE"); img != "" {
		return img
	}
	return "jobrun-test/busybox:latest"
}

// writeStack writes a stack file; IMAGE and STATE in it stand for the test
// image and a host directory bind-mounted into jobs at /state.
func (s *engineStack) writeStack(name, yaml string) string {
	s.t.Helper()
	yaml = strings.NewReplacer("IMAGE", testImage(), "STATE", s.dir).Replace(yaml)
	path := filepath.Join(s.dir, name)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return path
}

type result struct {
	stdout, stderr string
	code           int
}

func (s *engineStack) jobrun(env []string, args ...string) result {
	s.t.Helper()
	return s.jobrunCmd(s.command(env, args...))
}

func (s *engineStack) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(jobrunBin, append([]string{"--stack", s.name}, args...)...)
	cmd.Dir = s.dir // not a git checkout: --version must be explicit
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func (s *engineStack) jobrunCmd(cmd *exec.Cmd) result {
	s.t.Helper()
	r := s.runQuietly(cmd)
	s.t.Logf("jobrun %s → exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args[1:], " "), r.code, r.stdout, r.stderr)
	return r
}

func (s *engineStack) runQuietly(cmd *exec.Cmd) result {
	s.t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		s.t.Fatalf("run jobrun: %v", err)
	}
	return result{out.String(), errb.String(), exitCodeOf(err)}
}

func exitCodeOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

// start starts jobrun in the background, its output in buffers safe to
// read while it runs.
func (s *engineStack) start(env []string, args ...string) (cmd *exec.Cmd, stdout, stderr *syncBuffer) {
	s.t.Helper()
	cmd = s.command(env, args...)
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	return cmd, stdout, stderr
}

func (s *engineStack) readState(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, name))
	return string(b)
}

// jobServices lists jobrun's services of this stack still on the engine.
func (s *engineStack) jobServices() []swarm.Service {
	f := make(client.Filters).Add("label", jobs.LabelStack+"="+s.name)
	list, err := s.engine.ServiceList(context.Background(), client.ServiceListOptions{Filters: f})
	svcs := list.Items
	if err != nil {
		s.t.Fatal(err)
	}
	return svcs
}

func (s *engineStack) assertNoService() {
	s.t.Helper()
	for i := 0; i < 20 && len(s.jobServices()) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if svcs := s.jobServices(); len(svcs) > 0 {
		s.t.Errorf("job service %s left behind", svcs[0].Spec.Name)
	}
}

// A job that counts its runs in /state/runs and fails until run FAILS+1.
const countingJobs = `version: "3.7"
services:
  migrate:
    image: IMAGE
    command: ["sh", "-c", "echo run >> /state/runs; n=$$(wc -l < /state/runs); echo \"migrate attempt $$n\"; echo \"warning on stderr $$n\" >&2; test $$n -gt $${FAILS:-0}"]
    environment:
      FAILS: "${FAILS:-0}"
      VERSION: "${APP_VERSION}"
    volumes:
      - type: bind
        source: STATE
        target: /state
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 2}
  collectstatic:
    image: IMAGE
    command: ["sh", "-c", "echo collected static files"]
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 1}
  sleeper:
    image: IMAGE
    command: ["sh", "-c", "echo sleeping; sleep 300"]
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 1}
  missing:
    image: jobrun-test/does-not-exist:1
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 1}
  unplaceable:
    image: IMAGE
    command: ["true"]
    deploy:
      placement: {constraints: ["node.labels.jobrun-none == yes"]}
`

func TestRunSucceeds(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	r := s.jobrun(nil, "-c", f, "migrate", "--version", "v1")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	// Piped: the job's stdout and stderr arrive byte for byte, apart.
	if r.stdout != "migrate attempt 1\n" {
		t.Errorf("stdout %q, want the job's own output only", r.stdout)
	}
	for _, want := range []string{"warning on stderr 1", "attempt 1 of at most 3", "complete", "succeeded"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	s.assertNoService()
	h := s.jobrun(nil, "history", "migrate")
	if h.code != 0 || !strings.Contains(h.stdout, "v1") || !strings.Contains(h.stdout, "succeeded") {
		t.Errorf("history does not list the run: %q", h.stdout)
	}
}

func TestRunFailsTwiceThenSucceeds(t *testing.T) {
	t.Parallel()
	for _, legacy := range []string{"0", "1"} {
		t.Run("legacy="+legacy, func(t *testing.T) {
			s := newStack(t)
			f := s.writeStack("stack.yml", countingJobs)
			r := s.jobrun([]string{"FAILS=2", "JOBRUN_LEGACY_MODE=" + legacy}, "-c", f, "migrate", "--version", "v1")
			if r.code != 0 {
				t.Fatalf("exit %d, want 0", r.code)
			}
			if want := "migrate attempt 1\nmigrate attempt 2\nmigrate attempt 3\n"; r.stdout != want {
				t.Errorf("stdout %q, want %q", r.stdout, want)
			}
			for _, want := range []string{"attempt 1 of at most 3", "attempt 2 of at most 3", "attempt 3 of at most 3", "exit code 1", "succeeded"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
			if legacy == "1" && !strings.Contains(r.stderr, "replicas:1") {
				t.Errorf("legacy mode not announced")
			}
			if runs := strings.Count(s.readState("runs"), "run"); runs != 3 {
				t.Errorf("%d runs, want 3", runs)
			}
			s.assertNoService()
		})
	}
}

func TestRunAlwaysFails(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	r := s.jobrun([]string{"FAILS=99"}, "-c", f, "migrate", "--version", "v1", "--output", "json")
	if r.code != jobs.ExitFailed {
		t.Fatalf("exit %d, want %d", r.code, jobs.ExitFailed)
	}
	var doc struct{ Runs []jobs.Record }
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not the JSON document: %v", err)
	}
	if len(doc.Runs) != 1 || doc.Runs[0].Outcome != jobs.Failed || len(doc.Runs[0].Attempts) != 3 {
		t.Fatalf("record %+v, want one failed run with 3 attempts", doc.Runs)
	}
	for i, a := range doc.Runs[0].Attempts {
		if a.ExitCode == nil || *a.ExitCode != 1 {
			t.Errorf("attempt %d exit code %v, want 1", i+1, a.ExitCode)
		}
	}
	for n := 1; n <= 3; n++ {
		if !strings.Contains(r.stderr, fmt.Sprintf("migrate attempt %d", n)) {
			t.Errorf("output of attempt %d missing", n)
		}
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 3 {
		t.Errorf("%d runs, want 3 (max_attempts 2 = 3 runs)", runs)
	}
	s.assertNoService()

	// The failed run's output, after its service is gone.
	l := s.jobrun(nil, "logs", "migrate")
	if l.code != jobs.ExitFailed {
		t.Errorf("logs: exit %d, want the run's %d", l.code, jobs.ExitFailed)
	}
	for n := 1; n <= 3; n++ {
		if !strings.Contains(l.stdout, fmt.Sprintf("migrate attempt %d\n", n)) || !strings.Contains(l.stderr, fmt.Sprintf("attempt %d of at most 3", n)) {
			t.Errorf("logs: attempt %d missing", n)
		}
	}
	if l := s.jobrun(nil, "logs", "migrate", "--attempt", "2"); !strings.Contains(l.stdout, "migrate attempt 2") || strings.Contains(l.stdout, "migrate attempt 1") {
		t.Errorf("logs --attempt 2: stdout %q", l.stdout)
	}
	if l := s.jobrun(nil, "logs", "migrate", "--attempt", "4"); l.code != jobs.ExitUsage || !strings.Contains(l.stderr, "out of range") {
		t.Errorf("logs --attempt 4: exit %d, want %d and 'out of range'", l.code, jobs.ExitUsage)
	}
	if l := s.jobrun(nil, "logs", "collectstatic"); l.code != jobs.ExitUsage || !strings.Contains(l.stderr, "no recorded run") {
		t.Errorf("logs of a job that never ran: exit %d", l.code)
	}
}

func TestRunVerdicts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing image", []string{"missing"}, jobs.ExitRejected, "No such image"},
		{"unsatisfiable constraint", []string{"unplaceable", "--pending-timeout", "3s"}, jobs.ExitPending, "pending"},
		{"timeout", []string{"sleeper", "--timeout", "4s"}, jobs.ExitTimedOut, "--timeout 4s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t)
			f := s.writeStack("stack.yml", countingJobs)
			r := s.jobrun(nil, append([]string{"-c", f, "--version", "v1"}, c.args...)...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d", r.code, c.code)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr lacks %q", c.want)
			}
			s.assertNoService()
		})
	}
}

func TestConcurrentRunsStartOneMigration(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	results := s.jobrunAtOnce(2, nil, "-c", f, "migrate", "--version", "v1")
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("run %d: exit %d, want 0", i, r.code)
		}
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 1 {
		t.Errorf("%d migration containers ran, want exactly 1", runs)
	}

	// The same version again does not run; --force does.
	again := s.jobrun(nil, "-c", f, "migrate", "--version", "v1")
	if again.code != 0 || !strings.Contains(again.stderr, "already succeeded") {
		t.Errorf("re-run: exit %d, want 0 and 'already succeeded'", again.code)
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 1 {
		t.Errorf("re-run started a container: %d runs", runs)
	}
	forced := s.jobrun(nil, "-c", f, "migrate", "--version", "v1", "--force")
	if forced.code != 0 {
		t.Errorf("--force: exit %d", forced.code)
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 2 {
		t.Errorf("--force: %d runs, want 2", runs)
	}
}

func TestOtherVersionRunningIsRefused(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	first, _, _ := s.start(nil, "-c", f, "sleeper", "--version", "v1")
	waitFor(t, func() bool { return len(s.jobServices()) == 1 })
	r := s.jobrun(nil, "-c", f, "sleeper", "--version", "v2")
	if r.code != jobs.ExitConflict || !strings.Contains(r.stderr, "v1 is running") {
		t.Errorf("exit %d, want %d and a message naming the running version", r.code, jobs.ExitConflict)
	}
	_ = first.Process.Signal(syscall.SIGTERM)
	_ = first.Wait()
}

func TestInterruptStopsTheJob(t *testing.T) {
	long(t)
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	cmd, out, errb := s.start(nil, "-c", f, "sleeper", "--version", "v1")
	waitFor(t, func() bool { return strings.Contains(out.String(), "sleeping") })
	s.interrupt(cmd, syscall.SIGINT, errb, "stopped the job")
}

func TestTwoJobsInOrder(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	r := s.jobrun(nil, "-c", f, "collectstatic", "migrate", "--version", "v1")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if want := "collected static files\nmigrate attempt 1\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	// The first failure stops the sequence.
	r = s.jobrun([]string{"FAILS=99"}, "-c", f, "migrate", "collectstatic", "--version", "v2", "--max-attempts", "0")
	if r.code != jobs.ExitFailed || strings.Contains(r.stdout, "collected") {
		t.Errorf("exit %d, stdout %q: want 1 and collectstatic not run", r.code, r.stdout)
	}
}

func TestParallelJobs(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	r := s.jobrun(nil, "-c", f, "collectstatic", "migrate", "--version", "v1", "--parallel", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	var doc struct{ Runs []jobs.Record }
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Runs) != 2 {
		t.Fatalf("want one JSON document with both runs: %v", err)
	}
	for i, job := range []string{"collectstatic", "migrate"} {
		if doc.Runs[i].Job != job || doc.Runs[i].Outcome != jobs.Succeeded {
			t.Errorf("run %d: %s %s, want %s succeeded", i, doc.Runs[i].Job, doc.Runs[i].Outcome, job)
		}
	}
	// Both ran at once: each started before the other ended.
	a, b := doc.Runs[0], doc.Runs[1]
	if !a.Started.Before(b.Ended) || !b.Started.Before(a.Ended) {
		t.Errorf("the runs did not overlap: %s–%s and %s–%s", a.Started, a.Ended, b.Started, b.Ended)
	}
	for _, want := range []string{"collected static files\n", "migrate attempt 1\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestCommandLineForms(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	for i, args := range [][]string{
		{"-c", f, "collectstatic", "--version", "a1"},
		{"-c", f, "--version", "a2", "collectstatic"},
		{"-c", f, "run", "collectstatic", "--version", "a3"},
	} {
		if r := s.jobrun(nil, args...); r.code != 0 || r.stdout != "collected static files\n" {
			t.Errorf("form %d %v: exit %d, stdout %q", i, args, r.code, r.stdout)
		}
	}
	r := s.jobrun([]string{"APP_VERSION=a4"}, "-c", f, "collectstatic")
	if r.code != 0 || !strings.Contains(r.stderr, "a4") {
		t.Errorf("APP_VERSION from env: exit %d", r.code)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("condition not met within 30s")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWarnsWhenTheStackAlsoDeploysTheJob(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	// What `docker stack deploy` leaves when the stack file itself holds the job.
	zero := uint64(0)
	if _, err := s.engine.ServiceCreate(context.Background(), client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: s.name + "_collectstatic", Labels: map[string]string{"com.docker.stack.namespace": s.name}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: testImage(), Command: []string{"true"}}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &zero}},
	}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.engine.ServiceRemove(context.Background(), s.name+"_collectstatic", client.ServiceRemoveOptions{})
	})
	r := s.jobrun(nil, "-c", f, "collectstatic", "--version", "v1", "--keep")
	if r.code != 0 || strings.Count(r.stderr, "runs on every docker stack deploy") != 1 {
		t.Errorf("exit %d; want 0 and one warning that the stack deploys the job", r.code)
	}
	// --keep leaves the finished job service, stopped: only then does it
	// carry the stack label (docker stack rm takes it with the stack); a
	// running job never does (leftovers_test.go).
	svcs := s.jobServices()
	if len(svcs) != 1 {
		t.Fatalf("%d job services after --keep, want 1", len(svcs))
	}
	if svcs[0].Spec.Labels["com.docker.stack.namespace"] != s.name || svcs[0].Spec.Labels[jobs.LabelStopped] != "true" {
		t.Errorf("kept job service labels %v, want it stopped and in stack %s", svcs[0].Spec.Labels, s.name)
	}
	if svcs[0].Spec.Mode.ReplicatedJob == nil {
		t.Errorf("job service mode %+v, want replicated-job", svcs[0].Spec.Mode)
	}
}

// awslogsJobs log with Docker's own awslogs driver to the test endpoint at
// ENDPOINT, as the "Docker for AWS" daemon.json does to CloudWatch.
const awslogsJobs = `version: "3.7"
x-awslogs: &awslogs
  driver: awslogs
  options:
    awslogs-endpoint: ENDPOINT
    awslogs-group: docker-swarm-lg
    awslogs-region: us-east-1
    awslogs-create-group: "true"
    tag: "{{.Name}}-{{.ID}}"
services:
  migrate:
    image: IMAGE
    command: ["sh", "-c", "echo run >> /state/runs; n=$$(wc -l < /state/runs); echo \"cloud attempt $$n\"; test $$n -gt 2"]
    volumes: [{type: bind, source: STATE, target: /state}]
    logging: *awslogs
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 3}
  lines:
    image: IMAGE
    command: ["sh", "-c", "seq 1 $${LINES:-200000}; head -c 307200 /dev/zero | tr '\\0' a; echo; echo the-end"]
    environment: {LINES: "${LINES:-200000}"}
    logging: *awslogs
    deploy:
      restart_policy: {condition: none}
  plain:
    image: IMAGE
    command: ["sh", "-c", "echo from the engine"]
    deploy:
      restart_policy: {condition: none}
`

var awsEnv = []string{"AWS_ACCESS_KEY_ID=AKIDJOBRUNTEST", "AWS_SECRET_ACCESS_KEY=jobrun-test-secret", "AWS_REGION=us-east-1", "JOBRUN_FLUSH_WAIT=1s"}

func (s *engineStack) writeAWSStack(srv *cwlogstest.Server) string {
	return s.writeStack("stack.yml", strings.ReplaceAll(awslogsJobs, "ENDPOINT", srv.URL))
}

// withAWSLogs gives a stack file's first service the awslogs driver,
// shipping to srv.
func withAWSLogs(yaml string, srv *cwlogstest.Server) string {
	return strings.Replace(yaml, "    deploy:", `    logging:
      driver: awslogs
      options: {awslogs-endpoint: `+srv.URL+`, awslogs-group: docker-swarm-lg, awslogs-region: us-east-1, awslogs-create-group: "true", tag: "{{.Name}}-{{.ID}}"}
    deploy:`, 1)
}

func TestCloudWatchAttempts(t *testing.T) {
	s := newStack(t)
	srv := cwlogstest.NewServer()
	defer srv.Close()
	f := s.writeAWSStack(srv)
	r := s.jobrun(awsEnv, "-c", f, "migrate", "--version", "v1")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if want := "cloud attempt 1\ncloud attempt 2\ncloud attempt 3\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	streams := srv.Streams("docker-swarm-lg")
	if len(streams) != 3 {
		t.Fatalf("%d streams in the group, want one per attempt: %v", len(streams), streams)
	}
	for _, st := range streams {
		if !strings.Contains(r.stderr, st) || !strings.Contains(r.stderr, "console.aws.amazon.com") {
			t.Errorf("summary does not name stream %s with its console link", st)
		}
	}
	// After the service is gone, from the run record and CloudWatch alone.
	s.assertNoService()
	l := s.jobrun(awsEnv, "logs", "migrate", "--attempt", "2")
	if l.code != 0 || l.stdout != "cloud attempt 2\n" {
		t.Errorf("logs --attempt 2: exit %d stdout %q", l.code, l.stdout)
	}
}

func TestCloudWatchCompleteOutput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		throttle float64
		lines    int
	}{
		{"200000 lines and a 300 KiB line", 0, 200000},
		{"50% throttled", 0.5, 20000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t)
			srv := cwlogstest.NewServer(cwlogstest.WithThrottleRate(c.throttle))
			defer srv.Close()
			// The stream does not exist yet when jobrun starts reading it.
			srv.FailNext("GetLogEvents", 3, cwlogstest.Error{Status: 400, Type: "ResourceNotFoundException", Message: "The specified log stream does not exist."})
			f := s.writeAWSStack(srv)
			r := s.jobrunQuiet(append([]string{fmt.Sprintf("LINES=%d", c.lines)}, awsEnv...), "-c", f, "lines", "--version", "v1")
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			var want strings.Builder
			for i := 1; i <= c.lines; i++ {
				fmt.Fprintf(&want, "%d\n", i)
			}
			want.WriteString(strings.Repeat("a", 307200) + "\nthe-end\n")
			if r.stdout != want.String() {
				t.Errorf("output differs: got %d bytes, want %d; tail %q", len(r.stdout), want.Len(), tail(r.stdout, 40))
			}
			t.Logf("GetLogEvents calls: %d, throttled: %d", srv.Calls("GetLogEvents"), srv.Stats().Throttled)
		})
	}
}

func TestLogSourceChoice(t *testing.T) {
	long(t)
	s := newStack(t)
	srv := cwlogstest.NewServer()
	defer srv.Close()
	f := s.writeAWSStack(srv)
	cases := []struct {
		job, mode, want string
	}{
		{"plain", "auto", "engine"},
		{"migrate", "auto", "cloudwatch"},
		{"migrate", "docker", "engine"},
	}
	for i, c := range cases {
		r := s.jobrun(append([]string{"FAILS=0"}, awsEnv...), "-c", f, c.job, "--version", fmt.Sprintf("c%d", i), "--logs", c.mode, "-o", "json", "--force")
		var doc struct{ Runs []jobs.Record }
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Runs) != 1 {
			t.Fatalf("%s --logs %s: no JSON record (exit %d): %v", c.job, c.mode, r.code, err)
		}
		if got := doc.Runs[0].LogSource; got != c.want {
			t.Errorf("%s --logs %s read from %s, want %s", c.job, c.mode, got, c.want)
		}
	}
}

// jobrunAtOnce runs n jobruns with the same arguments at the same time.
func (s *engineStack) jobrunAtOnce(n int, env []string, args ...string) []result {
	s.t.Helper()
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.jobrunQuiet(env, args...)
		}()
	}
	wg.Wait()
	return results
}

// jobrunQuiet is jobrun without logging its (large) output.
func (s *engineStack) jobrunQuiet(env []string, args ...string) result {
	s.t.Helper()
	return s.runQuietly(s.command(env, args...))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestLogsFollowTheRunInProgress(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", faultJobs)
	run, runOut, _ := s.start([]string{"TICKS=25"}, "-c", f, "ticker", "--version", "v1")
	waitFor(t, func() bool { return strings.Contains(runOut.String(), "tick 1.2\n") })
	r := s.jobrun(nil, "logs", "ticker", "--follow")
	if err := run.Wait(); err != nil {
		t.Fatalf("the run: %v", err)
	}
	if r.code != 0 {
		t.Errorf("logs --follow: exit %d, want the run's 0", r.code)
	}
	if want := "start 1\n" + ticks(1, 25) + "done 1\n"; r.stdout != want {
		t.Errorf("logs --follow stdout %q, want the whole attempt %q", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "following version v1") || !strings.Contains(r.stderr, "succeeded") {
		t.Errorf("logs --follow does not say what it follows and how it ended")
	}
}

// removeNetwork removes a network, for the tests that retry until the
// engine lets go of it.
func removeNetwork(ctx context.Context, engine client.APIClient, id string) error {
	_, err := engine.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
	return err
}
