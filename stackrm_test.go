package main

// End-to-end tests of a release right after docker stack rm: the stack's
// network is gone from the swarm while the engine still lists its copy on
// this node, until the removed tasks' containers have stopped.

import (
	"os/exec"
	"strings"
	"testing"
)

// removedStack is a stack whose app takes 3 s to stop (it ignores SIGTERM),
// so its network's copy outlives docker stack rm by that long; migrate is
// its pre-deploy job.
const removedStack = `version: "3.7"
services:
  app:
    image: IMAGE
    command: ["sleep", "600"]
    stop_grace_period: 3s
  migrate:
    image: IMAGE
    command: ["sh", "-c", "echo migrate-${APP_VERSION} >> /state/order"]
    volumes: [{type: bind, source: STATE, target: /state}]
    deploy:
      restart_policy: {condition: none}
    x-jobrun: {phase: pre-deploy}
`

// TestReleaseRightAfterStackRm: docker stack rm, then at once jobrun
// deploy: the release waits for the network's removal to end, says so, and
// creates it again, for a pre-deploy job and for services alike; the hook
// form, which never creates networks, asks for a deploy (exit 2) instead
// of failing at the engine (exit 7).
func TestReleaseRightAfterStackRm(t *testing.T) {
	long(t)
	tests := []struct {
		name     string
		args     []string // after the stack file
		onlyApp  bool     // the stack file without its job
		wantCode int
		want     string
	}{
		{name: "deploy with a pre-deploy job", args: []string{"deploy"}, want: "is being removed (docker stack rm under way): waiting for its removal to end, then creating it again"},
		{name: "deploy of services only", args: []string{"deploy"}, onlyApp: true, want: "is being removed (docker stack rm under way): waiting for its removal to end, then creating it again"},
		{name: "the hook form", args: []string{"migrate"}, wantCode: 2, want: "was removed as the job started (docker stack rm): deploy the stack first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t)
			t.Cleanup(s.removeStackServices)
			yaml := removedStack
			if tt.onlyApp {
				yaml = yaml[:strings.Index(yaml, "  migrate:")]
			}
			f := s.writeStack("stack.yml", yaml)
			if r := s.jobrun(nil, "-c", f, "deploy", "--version", "v1", "--resolve-image", "never"); r.code != 0 {
				t.Fatalf("first deploy: exit %d", r.code)
			}
			if out, err := exec.Command("docker", "stack", "rm", s.name).CombinedOutput(); err != nil {
				t.Fatalf("docker stack rm: %v\n%s", err, out)
			}
			r := s.jobrun(nil, append([]string{"-c", f}, append(tt.args, "--version", "v2", "--resolve-image", "never")...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want %d and %q said", r.code, tt.wantCode, tt.want)
			}
			if tt.wantCode == 0 && !tt.onlyApp && !strings.Contains(s.readState("order"), "migrate-v2") {
				t.Errorf("migrate v2 did not run: order %q", s.readState("order"))
			}
		})
	}
}
