package main

// "Stop means stopped" on the multi-node swarm of scripts/multinode.sh: a job
// placed on a worker is stopped by --timeout, SIGINT and SIGTERM, and every
// node's own engine (not the manager's view of it) shows no container of the
// job running afterwards; a second run never overlaps the first. When the
// worker is lost under the job, jobrun cannot see the stop through, says so,
// and keeps the service as the job's lock until the worker is back.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// mnStopJobs: sleeper runs on WORKER and ignores SIGTERM (sh or sleep is the
// container's PID 1, with no handler), so only the SIGKILL at the end of the
// stop grace period (the engine's 10 s) ends it.
const mnStopJobs = `version: "3.7"
services:
  sleeper:
    image: IMAGE
    hostname: "{{.Node.Hostname}}"
    command: ["sh", "-c", "echo \"start on $$(hostname)\"; sleep 300"]
    deploy:
      placement: {constraints: ["node.hostname == WORKER"]}
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 1}
`

// mnRunningRE is the progress line of an attempt Swarm reports running.
var mnRunningRE = regexp.MustCompile(`attempt \d+ of at most \d+ on node \S+: running`)

func TestMultiNodeStopMeansStopped(t *testing.T) {
	mn := multiNodeSwarm(t)
	cases := []struct {
		name   string
		args   []string
		signal os.Signal // nil: --timeout stops it
		code   int
	}{
		{"--timeout", []string{"--timeout", "15s"}, nil, jobs.ExitTimedOut},
		{"SIGINT", nil, os.Interrupt, jobs.ExitInterrupted},
		{"SIGTERM", nil, syscall.SIGTERM, jobs.ExitInterrupted},
	}
	// Each case is a stack of its own on worker1: they run side by side.
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			worker := mn.worker1
			sc := mn.stopCase(t, worker, mnStopJobs)
			nodes, service, watch := sc.nodes, sc.service, sc.watch
			defer watch.stop()
			first, firstID := sc.start(t, c.args...)

			stopAt := first.started.Add(15 * time.Second) // --timeout
			if c.signal != nil {
				stopAt = time.Now()
				_ = first.cmd.Process.Signal(c.signal)
			}
			t.Logf("stop began at %s UTC", stopAt.UTC().Format("15:04:05.000"))
			code := first.wait(t, 90*time.Second)
			t.Logf("first run: exit %d, %s after the stop began; the worker's engine saw its container end %s after it",
				code, time.Since(stopAt).Round(100*time.Millisecond), watch.endedAfter(firstID, stopAt))
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			sc.assertStopped(t, first)

			// The same version again: one new container, never beside the first.
			second := sc.launch()
			waitFor(t, func() bool { return mnRunningRE.MatchString(second.err.String()) })
			running := mnRunning(t, nodes, service)
			if n := mnCount(running); n != 1 {
				t.Errorf("when the second run reported its attempt running, %d containers of the job ran: %v; want 1", n, running)
			}
			if ids := running[worker.hostname]; len(ids) == 1 && ids[0] == firstID {
				t.Errorf("the running container is the first run's %.12s", firstID)
			}
			sc.interrupt(t, second, "second run")
			if max := sc.endWatch(t); max > 1 {
				t.Errorf("up to %d containers of the job ran at once across the nodes, want 1", max)
			}
		})
	}

	// A migration may need long to end cleanly: jobrun waits out the job's
	// own stop_grace_period, longer than its 30 s for each cleanup step.
	t.Run("a long stop grace period is waited out", func(t *testing.T) {
		t.Parallel()
		sc := mn.stopCase(t, mn.worker1, strings.Replace(mnStopJobs, "    deploy:", "    stop_grace_period: 40s\n    deploy:", 1))
		defer sc.watch.stop()
		run, id := sc.start(t)
		stopAt := time.Now()
		_ = run.cmd.Process.Signal(syscall.SIGTERM)
		code := run.wait(t, 150*time.Second)
		t.Logf("exit %d, %s after SIGTERM; the worker's engine saw its container end %s after it",
			code, time.Since(stopAt).Round(100*time.Millisecond), sc.watch.endedAfter(id, stopAt))
		if code != jobs.ExitInterrupted {
			t.Errorf("exit %d, want %d", code, jobs.ExitInterrupted)
		}
		sc.assertStopped(t, run)
		sc.endWatch(t)
	})
}

// TestMultiNodeStopWorkerLost: the worker is lost under the job, so the stop
// cannot be confirmed; jobrun says so and keeps the service as the lock until
// the worker is back. It kills the worker's dockerd: alone on the swarm.
func TestMultiNodeStopWorkerLost(t *testing.T) {
	mn := multiNodeSwarmAlone(t)
	t.Run("worker lost: the stop cannot be confirmed and the service stays the lock", func(t *testing.T) {
		worker := mn.worker2
		sc := mn.stopCase(t, worker, mnStopJobs)
		s, f, nodes, service := sc.s, sc.file, sc.nodes, sc.service
		// Runs before the stack's cleanup: its network is freed only once the
		// worker is back and has shut the task down.
		t.Cleanup(func() { mnUp(t) })
		defer sc.watch.stop()
		first, firstID := sc.start(t)

		mnKillDockerd(t, worker.pidfile)
		t.Logf("killed %s's dockerd; its container, as runc sees it:\n%s", worker.hostname, mnRuncList(worker))
		stopAt := time.Now()
		_ = first.cmd.Process.Signal(syscall.SIGTERM)
		code := first.wait(t, 180*time.Second)
		t.Logf("first run: exit %d, %s after SIGTERM; the container, as runc sees it then:\n%s",
			code, time.Since(stopAt).Round(100*time.Millisecond), mnRuncList(worker))
		if code != jobs.ExitInterrupted {
			t.Errorf("exit %d, want %d", code, jobs.ExitInterrupted)
		}
		stderr := first.err.String()
		if strings.Contains(stderr, "stopped the job") {
			t.Errorf("stderr says the job stopped, though its node is gone")
		}
		line := mnLineWith(stderr, "could not confirm the job stopped")
		if line == "" {
			t.Errorf("stderr does not say %q", "could not confirm the job stopped")
		} else {
			if !mnNamesNode(line, worker) {
				t.Errorf("the could-not-confirm line does not name node %s (%.12s): %s", worker.hostname, worker.id, line)
			}
			if !strings.Contains(line, firstID[:12]) {
				t.Errorf("the could-not-confirm line does not name container %.12s: %s", firstID, line)
			}
		}
		svcs := s.jobServices()
		if len(svcs) != 1 {
			t.Fatalf("%d job services after the unconfirmed stop, want the one kept as the lock", len(svcs))
		}
		if got := svcs[0].Spec.Labels[jobs.LabelStopped]; got != "true" {
			t.Errorf("kept service: label %s=%q, want true", jobs.LabelStopped, got)
		}

		// The lock holds against the same version and another: no second
		// migration starts while the first may still run.
		for _, version := range []string{"v1", "v2"} {
			r := s.jobrun(mn.onManager(), "-c", f, "sleeper", "--version", version)
			if r.code != jobs.ExitConflict {
				t.Errorf("%s while the stop is unconfirmed: exit %d, want %d", version, r.code, jobs.ExitConflict)
			}
			if !mnNamesNode(r.stderr, worker) {
				t.Errorf("%s: the refusal does not name node %s (%.12s)", version, worker.hostname, worker.id)
			}
		}
		if tasks := mnTasks(t, s, svcs[0].ID); len(tasks) != 1 {
			t.Errorf("the kept service has %d tasks, want the first run's only", len(tasks))
		}
		if running := mnRunning(t, nodes, service); mnCount(running) != 0 {
			t.Errorf("a container of the job runs on a reachable node: %v", running)
		}

		// The worker comes back: its engine ends the orphan, Swarm sees the
		// task end, and the next run clears the stopped service and runs.
		restart := time.Now()
		mnUp(t)
		back := time.Now()
		t.Logf("%s's dockerd back and the swarm Ready in %s", worker.hostname, back.Sub(restart).Round(100*time.Millisecond))
		mnWaitUntil(t, 120*time.Second, "the worker's engine to end the orphaned container", func() bool {
			c, err := nodes[worker.hostname].ContainerInspect(context.Background(), firstID, client.ContainerInspectOptions{})
			return err == nil && !c.Container.State.Running || cerrdefs.IsNotFound(err)
		})
		t.Logf("the orphan no longer runs on %s, %s after its dockerd was back", worker.hostname, time.Since(back).Round(100*time.Millisecond))

		var next *mnRun
		mnWaitUntil(t, 120*time.Second, "a jobrun that clears the stopped service and runs", func() bool {
			next = sc.launch()
			for {
				select {
				case <-next.exited:
					t.Logf("jobrun exited before running (%s after the worker came back):\n%s", time.Since(back).Round(100*time.Millisecond), next.err.String())
					time.Sleep(2 * time.Second)
					return false
				case <-time.After(100 * time.Millisecond):
					if mnRunningRE.MatchString(next.err.String()) {
						return true
					}
				}
			}
		})
		if !strings.Contains(next.err.String(), "removing the finished service of version v1") {
			t.Errorf("the next run does not say it removed the stopped service:\n%s", next.err.String())
		}
		if running := mnRunning(t, nodes, service); mnCount(running) != 1 || len(running[worker.hostname]) != 1 {
			t.Errorf("when the next run reported its attempt running, the job's containers ran on %v; want one, on %s", running, worker.hostname)
		}
		sc.interrupt(t, next, "next run")
		if max := sc.endWatch(t); max > 1 {
			t.Errorf("up to %d containers of the job ran at once across the reachable nodes, want 1", max)
		}
	})
}

// mnStopCase is one stop subtest: the sleeper job's stack file placed on
// a worker, each node's engine, and a watch of the job's containers on all
// of them (the caller stops it).
type mnStopCase struct {
	s       *engineStack
	env     []string // jobrun's: the manager
	file    string
	worker  mnNode
	nodes   map[string]*client.Client
	service string
	watch   *mnContainerWatch
}

// stopCase makes the subtest's stack from yaml (mnStopJobs or a variant),
// its job placed on worker.
func (mn *multiNode) stopCase(t *testing.T, worker mnNode, yaml string) *mnStopCase {
	t.Helper()
	c := &mnStopCase{s: mn.stack(t), env: mn.onManager(), worker: worker, nodes: mn.engines(t)}
	c.file = c.s.writeStack("stack.yml", strings.ReplaceAll(yaml, "WORKER", worker.hostname))
	c.service = jobs.ServiceName(c.s.name, "sleeper")
	c.watch = mnWatchContainers(c.nodes, c.service)
	return c
}

// launch starts jobrun on version v1, with args.
func (c *mnStopCase) launch(args ...string) *mnRun {
	return mnStart(c.s, c.env, append([]string{"-c", c.file, "sleeper", "--version", "v1"}, args...)...)
}

// start launches jobrun and waits until the job runs on the worker: the
// run, and the ID of its one container there.
func (c *mnStopCase) start(t *testing.T, args ...string) (*mnRun, string) {
	t.Helper()
	r := c.launch(args...)
	waitFor(t, func() bool { return strings.Contains(r.out.String(), "start on "+c.worker.hostname) })
	return r, mnOnlyRunning(t, c.nodes, c.service, c.worker.hostname)
}

// interrupt sends r SIGTERM: it must exit interrupted, the job stopped on
// every node.
func (c *mnStopCase) interrupt(t *testing.T, r *mnRun, what string) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if code := r.wait(t, 90*time.Second); code != jobs.ExitInterrupted {
		t.Errorf("%s: exit %d, want %d", what, code, jobs.ExitInterrupted)
	}
	c.assertStopped(t, r)
}

// endWatch stops the watch, logs what each node's engine showed, and
// returns the most containers of the job that ran at once.
func (c *mnStopCase) endWatch(t *testing.T) int {
	t.Helper()
	max, timeline := c.watch.stop()
	t.Logf("the job's containers, as each node's engine showed them:\n%s", strings.Join(timeline, "\n"))
	return max
}

// mnRun is a jobrun running in the background.
type mnRun struct {
	cmd      *exec.Cmd
	out, err *syncBuffer
	exited   chan error
	started  time.Time
}

func mnStart(s *engineStack, env []string, args ...string) *mnRun {
	s.t.Helper()
	r := &mnRun{started: time.Now(), exited: make(chan error, 1)}
	r.cmd, r.out, r.err = s.start(env, args...)
	go func() { r.exited <- r.cmd.Wait() }()
	s.t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	return r
}

// wait returns jobrun's exit code; past within it kills jobrun and fails.
func (r *mnRun) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	var err error
	select {
	case err = <-r.exited:
	case <-time.After(within):
		_ = r.cmd.Process.Kill()
		<-r.exited
		t.Fatalf("jobrun %s still running after %s: killed\nstderr:\n%s", strings.Join(r.cmd.Args[1:], " "), within, r.err.String())
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	t.Logf("jobrun %s → exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.cmd.Args[1:], " "), exitCodeOf(err), r.out.String(), r.err.String())
	return exitCodeOf(err)
}

// assertStopped checks a run that jobrun stopped: it said so, its service
// is gone, and no node's engine runs a container of the job.
func (c *mnStopCase) assertStopped(t *testing.T, r *mnRun) {
	t.Helper()
	s, nodes, service := c.s, c.nodes, c.service
	if !strings.Contains(r.err.String(), "stopped the job") {
		t.Errorf("stderr does not say %q", "stopped the job")
	}
	if strings.Contains(r.err.String(), "could not confirm") {
		t.Errorf("stderr says the stop could not be confirmed")
	}
	s.assertNoService()
	for name, c := range nodes {
		cs, err := mnContainers(c, service)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, ct := range cs {
			if mnLive(ct.State) {
				t.Errorf("%s's engine still runs container %.12s of the job (%s, %s)", name, ct.ID, ct.State, ct.Status)
			}
		}
	}
}

// engines are clients of each swarm node's own engine, by hostname.
func (mn *multiNode) engines(t *testing.T) map[string]*client.Client {
	t.Helper()
	m := map[string]*client.Client{}
	for _, n := range []mnNode{mn.manager, mn.worker1, mn.worker2} {
		c, err := client.New(client.WithHost(n.host))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		m[n.hostname] = c
	}
	return m
}

// mnContainers lists the job service's containers on one engine, ended ones too.
func mnContainers(c *client.Client, service string) ([]container.Summary, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "com.docker.swarm.service.name="+service)})
	return list.Items, err
}

func mnLive(state container.ContainerState) bool {
	return state == "running" || state == "restarting" || state == "paused"
}

// mnRunning is, node by node, the IDs of the job's containers that run
// there, as each node's own engine says; a node that does not answer is left out.
func mnRunning(t *testing.T, nodes map[string]*client.Client, service string) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for name, c := range nodes {
		cs, err := mnContainers(c, service)
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		for _, ct := range cs {
			if mnLive(ct.State) {
				m[name] = append(m[name], ct.ID)
			}
		}
	}
	return m
}

func mnCount(running map[string][]string) int {
	n := 0
	for _, ids := range running {
		n += len(ids)
	}
	return n
}

// mnOnlyRunning checks that the job runs in one container, on node, and
// returns its ID.
func mnOnlyRunning(t *testing.T, nodes map[string]*client.Client, service, node string) string {
	t.Helper()
	running := mnRunning(t, nodes, service)
	if mnCount(running) != 1 || len(running[node]) != 1 {
		t.Fatalf("the job's containers run on %v; want one, on %s", running, node)
	}
	return running[node][0]
}

func mnTasks(t *testing.T, s *engineStack, serviceID string) []swarm.Task {
	t.Helper()
	list, err := s.engine.TaskList(context.Background(), client.TaskListOptions{Filters: make(client.Filters).Add("service", serviceID)})
	tasks := list.Items
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

// mnNamesNode says whether text names node n, by hostname or ID.
func mnNamesNode(text string, n mnNode) bool {
	return strings.Contains(text, n.hostname) || strings.Contains(text, n.id[:12])
}

func mnLineWith(text, sub string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// mnUp restarts whatever dockerd of the swarm died (scripts/multinode.sh up
// starts only those) and waits until the manager sees every node Ready.
func mnUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "bash", "scripts/multinode.sh", "up").CombinedOutput(); err != nil {
		t.Errorf("restart the swarm (scripts/multinode.sh up): %v\n%s", err, out)
	}
}

func mnWaitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", within, what)
		}
	}
}

// mnRuncList is what runc, under the dead dockerd's containerd, lists: the
// containers that run on the node whatever the engine says.
func mnRuncList(n mnNode) string {
	root := filepath.Join(filepath.Dir(n.pidfile), "exec", "runtime-runc")
	dirs, _ := filepath.Glob(filepath.Join(root, "*"))
	var b strings.Builder
	for _, d := range dirs {
		out, err := exec.Command("runc", "--root", d, "list").CombinedOutput()
		fmt.Fprintf(&b, "runc --root %s list (%v):\n%s", d, err, out)
	}
	if b.Len() == 0 {
		return "(no runc state under " + root + ")"
	}
	return b.String()
}

// mnContainerWatch polls every node's engine for the job's containers,
// keeping the most that ran at once and each change it saw.
type mnContainerWatch struct {
	done, finished chan struct{}
	mu             sync.Mutex
	max            int
	timeline       []string
	ended          map[string]time.Time // container ID → when its engine first showed it not running
}

func mnWatchContainers(nodes map[string]*client.Client, service string) *mnContainerWatch {
	w := &mnContainerWatch{done: make(chan struct{}), finished: make(chan struct{}), ended: map[string]time.Time{}}
	names := make([]string, 0, len(nodes))
	for name := range nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	start := time.Now()
	go func() {
		defer close(w.finished)
		last := map[string]string{}
		for {
			n := 0
			for _, name := range names {
				cs, err := mnContainers(nodes[name], service)
				var parts []string
				if err != nil {
					parts = append(parts, "unreachable")
				}
				for _, ct := range cs {
					if mnLive(ct.State) {
						n++
					} else if ct.State == "exited" || ct.State == "dead" {
						w.mu.Lock()
						if _, ok := w.ended[ct.ID]; !ok {
							w.ended[ct.ID] = time.Now()
						}
						w.mu.Unlock()
					}
					parts = append(parts, fmt.Sprintf("%.12s %s (%s)", ct.ID, ct.State, ct.Status))
				}
				now := strings.Join(parts, ", ")
				if err == nil && len(cs) > 0 {
					// Status ("Up 3 seconds") changes every second: a change is a new state.
					key := ""
					for _, ct := range cs {
						key += ct.ID + string(ct.State) + " "
					}
					if key == last[name] {
						continue
					}
					last[name] = key
				} else if now == last[name] {
					continue
				} else {
					last[name] = now
				}
				w.mu.Lock()
				w.timeline = append(w.timeline, fmt.Sprintf("+%5.1fs %s: %s", time.Since(start).Seconds(), name, now))
				w.mu.Unlock()
			}
			w.mu.Lock()
			if n > w.max {
				w.max = n
			}
			w.mu.Unlock()
			select {
			case <-w.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return w
}

// stop ends the watch (again: a no-op) and returns what it saw.
func (w *mnContainerWatch) stop() (max int, timeline []string) {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	<-w.finished
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max, append([]string(nil), w.timeline...)
}

// endedAfter is how long after t the container was first seen ended.
func (w *mnContainerWatch) endedAfter(id string, t time.Time) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if at, ok := w.ended[id]; ok {
		return at.Sub(t).Round(100 * time.Millisecond).String()
	}
	return "(never seen ended: removed first?)"
}
