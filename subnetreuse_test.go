package main

// The subnet of a network just removed, handed to the next network at once
// (issue 31): the engine rejects the job's first attempts ("Pool overlaps
// with other one on this address space") while the node still holds the
// old network, and jobrun waits for the attempt that runs.

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// TestRejectedForASubnetStillHeld: a service on network old, stopping
// slowly (its command ignores SIGTERM), is removed with its network; a new
// network takes old's subnet at once, as the swarm's default pool hands it
// out; the job on it runs once its node let go of old. That took some 20 s
// on Engine 29 here: the job may run 16 times, 3 s apart.
func TestRejectedForASubnetStillHeld(t *testing.T) {
	long(t)
	s := newStack(t)
	ctx := context.Background()
	n := stackSubnets.Add(1) % (1 << 15)
	subnet := fmt.Sprintf("10.%d.%d.0/24", 128+n>>8, n&0xff)
	old, reused := s.name+"-old", s.name+"-new"
	s.createNetwork(ctx, old, subnet)
	grace := 3 * time.Second
	holder, err := s.engine.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: s.name + "-holder", Labels: map[string]string{jobs.LabelStack: s.name}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: testImage(), Command: []string{"sleep", "600"}, StopGracePeriod: &grace},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: old}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return runningContainers(t, s.engine, s.name+"-holder") == 1 })
	if _, err := s.engine.ServiceRemove(ctx, holder.ID, client.ServiceRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return removeNetwork(ctx, s.engine, old) == nil })
	s.createNetwork(ctx, reused, subnet)
	t.Cleanup(func() { waitFor(t, func() bool { return removeNetwork(ctx, s.engine, reused) == nil }) })

	f := s.writeStack("stack.yml", `version: "3.7"
services:
  migrate:
    image: IMAGE
    command: ["sh", "-c", "echo run >> /state/runs"]
    networks: [held]
    volumes: [{type: bind, source: STATE, target: /state}]
    deploy:
      restart_policy: {condition: on-failure, delay: 3s, max_attempts: 15}
networks:
  held: {external: true, name: `+reused+`}
`)
	r := s.jobrun(nil, "-c", f, "migrate", "--version", "v1")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0: the attempts the engine rejected are lost ones, not the job's: %s", r.code, tail(r.stderr, 6))
	}
	if !strings.Contains(r.stderr, "rejected") || !strings.Contains(r.stderr, "Pool overlaps") {
		t.Errorf("no attempt was rejected for the subnet: the engine let go of it first, so this proved nothing:\n%s", r.stderr)
	}
	if runs := strings.Count(s.readState("runs"), "run"); runs != 1 {
		t.Errorf("the job ran %d times, want once", runs)
	}
}

// createNetwork makes an attachable overlay network of the stack on subnet.
func (s *engineStack) createNetwork(ctx context.Context, name, subnet string) {
	s.t.Helper()
	_, err := s.engine.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "overlay", Attachable: true, Labels: map[string]string{"com.docker.stack.namespace": s.name},
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix(subnet)}}},
	})
	if err != nil {
		s.t.Fatalf("create network %s: %v", name, err)
	}
}
