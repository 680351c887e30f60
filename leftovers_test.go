package main

// End-to-end tests of what a run leaves on the engine: nothing but its
// record, and with --keep a stopped service that docker stack rm takes.

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// TestNoExitedJobContainersLeft: Engine 20.10 keeps the exited container
// of a removed job service; after five runs none is left on the node.
func TestNoExitedJobContainersLeft(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	for i := 0; i < 5; i++ {
		if r := s.jobrun(nil, "-c", f, "collectstatic", "--version", "v1", "--force"); r.code != 0 {
			t.Fatalf("run %d: exit %d: %s", i+1, r.code, tail(r.stderr, 5))
		}
	}
	list, err := s.engine.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "com.docker.swarm.service.name="+jobs.ServiceName(s.name, "collectstatic"))})
	left := list.Items
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d containers of the job left on the node after 5 runs, want 0: %+v", len(left), left)
	}
}

// TestKeptJobGoesWithDockerStackRm: a job kept with --keep uses the
// stack's network; once stopped it carries the stack's namespace label, so
// docker stack rm removes it with the rest (the network included).
func TestKeptJobGoesWithDockerStackRm(t *testing.T) {
	long(t)
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	// While it runs, the job is no service of the stack: docker stack rm
	// and deploy --prune must not touch a running migration.
	cmd, out, _ := s.start(nil, "-c", f, "sleeper", "--version", "v1")
	waitFor(t, func() bool { return strings.Contains(out.String(), "sleeping") })
	if running := s.jobServices(); len(running) != 1 || running[0].Spec.Labels[jobs.LabelStackNamespace] != "" {
		t.Errorf("a running job service carries the stack label: %+v", running)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	if r := s.jobrun(nil, "-c", f, "collectstatic", "--version", "v1", "--keep"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, tail(r.stderr, 5))
	}
	kept := s.jobServices()
	if len(kept) != 1 || kept[0].Spec.Labels[jobs.LabelStackNamespace] != s.name {
		t.Fatalf("want one kept job service labelled %s=%s, got %d: %+v", jobs.LabelStackNamespace, s.name, len(kept), kept)
	}
	if out, err := exec.Command("docker", "stack", "rm", s.name).CombinedOutput(); err != nil {
		t.Fatalf("docker stack rm: %v: %s", err, out)
	}
	ctx := context.Background()
	waitFor(t, func() bool {
		svcsResult, _ := s.engine.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", jobs.LabelStack+"="+s.name)})
		svcs := svcsResult.Items
		_, err := s.engine.NetworkInspect(ctx, s.name+"_default", client.NetworkInspectOptions{})
		return len(svcs) == 0 && err != nil
	})
}
