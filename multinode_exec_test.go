package main

// jobrun exec on the multi-node swarm: a job constrained to workers runs
// there through the manager, and its output streams back live; an
// interactive exec, which only the engine of the task's node could attach,
// is refused with the fix named.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jobrun/jobs"
)

// workerJobs run on workers only; their hostname is their node's.
const workerJobs = `version: "3.7"
services:
  onworkers:
    image: IMAGE
    hostname: "{{.Node.Hostname}}"
    command: ["true"]
    volumes: [{type: bind, source: STATE, target: /state}]
    deploy:
      placement: {constraints: ["node.role == worker"]}
  anywhere:
    image: IMAGE
    hostname: "{{.Node.Hostname}}"
    command: ["true"]
`

func TestMultiNodeExecOnWorker(t *testing.T) {
	mn := multiNodeSwarm(t)
	s := mn.stack(t)
	f := s.writeStack("stack.yml", workerJobs)
	cmd, out, errb := s.start(mn.onManager(), "-c", f, "exec", "onworkers", "--version", "v1", "--",
		"sh", "-c", `echo "first on $(hostname)"; while [ ! -e /state/go ]; do sleep 0.2; done; echo "last on $(hostname)"; exit 7`)
	// Live: the first line arrives while the command still waits.
	waitFor(t, func() bool { return strings.Contains(out.String(), "first on ") })
	if err := os.WriteFile(filepath.Join(s.dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code := exitCodeOf(cmd.Wait())
	t.Logf("jobrun → exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	if code != 7 {
		t.Errorf("exit %d, want the command's 7", code)
	}
	host := strings.TrimPrefix(strings.SplitN(out.String(), "\n", 2)[0], "first on ")
	if host != mn.worker1.hostname && host != mn.worker2.hostname {
		t.Fatalf("ran on %q, want a worker", host)
	}
	if want := "first on " + host + "\nlast on " + host + "\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	s.assertNoService()
}

func TestMultiNodeExecInteractiveRefusedOffItsNodes(t *testing.T) {
	mn := multiNodeSwarm(t)
	s := mn.stack(t)
	f := s.writeStack("stack.yml", workerJobs)
	_, tty := openPTY(t)
	defer tty.Close()
	cmd := s.command(mn.onManager(), "-c", f, "exec", "-it", "onworkers", "--version", "v1", "--", "sh")
	cmd.Stdin = tty
	r := s.jobrunCmd(cmd)
	want := `placement constraint "node.role == worker" excludes node ` + mn.manager.hostname
	if r.code != jobs.ExitUsage || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "point --context or DOCKER_HOST at a manager the job may run on") {
		t.Errorf("exit %d: want %d, %q and the fix", r.code, jobs.ExitUsage, want)
	}
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines > 1 {
		t.Errorf("the refusal takes %d lines after the engine's, want one", lines)
	}
	if svcs := s.jobServices(); len(svcs) > 0 {
		t.Errorf("a refused exec left service %s", svcs[0].Spec.Name)
	}
}

// -it places the task on the node jobrun talks to, the only engine that can
// attach it, though Swarm could run the job on any node.
func TestMultiNodeExecInteractiveOnTheManager(t *testing.T) {
	mn := multiNodeSwarm(t)
	s := mn.stack(t)
	f := s.writeStack("stack.yml", workerJobs)
	cmd := s.command(mn.onManager(), "-c", f, "exec", "-it", "anywhere", "--version", "v1", "--", "sh")
	master, screen, shown := startInTerminal(t, cmd, 24, 80)
	waitFor(t, func() bool { return strings.Contains(screen.String(), "# ") })
	if _, err := master.Write([]byte("echo on-$(hostname)\rexit 3\r")); err != nil {
		t.Fatal(err)
	}
	code := exitCodeOf(cmd.Wait())
	<-shown
	if code != 3 {
		t.Errorf("exit %d, want the shell's 3; screen:\n%s", code, screen.String())
	}
	if want := "on-" + mn.manager.hostname; !strings.Contains(screen.String(), want) {
		t.Errorf("screen lacks %q: not on the manager\n%s", want, screen.String())
	}
	s.assertNoService()
}
