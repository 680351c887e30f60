package main

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// multiNodeRelease places db and the app on one worker and the migration on
// the other: jobrun deploy must order them across nodes.
const multiNodeRelease = releaseStackHead + `    deploy: {placement: {constraints: ["node.hostname == WORKER1"]}}
  migrate:
    image: jobrun-test/app:${APP_VERSION}
    command: ["sh", "-c", "echo migrate-$$(hostname) >> /state/order"]
    hostname: "{{.Node.Hostname}}"
    volumes: [*state]
    depends_on: [db]
    x-jobrun: {phase: pre-deploy}
    deploy:
      placement: {constraints: ["node.hostname == WORKER2"]}
      restart_policy: {condition: none}
  app:
    image: jobrun-test/app:${APP_VERSION}
    command: ["sh", "-c", "echo app >> /state/order; sleep 600"]
    volumes: [*state]
    depends_on: [db, migrate]
    deploy: {placement: {constraints: ["node.hostname == WORKER1"]}}
`

// TestMultiNodeDeploy: a release across nodes runs db first, the migration
// on its worker, then the app on the other.
func TestMultiNodeDeploy(t *testing.T) {
	mn := multiNodeSwarm(t)
	s := mn.stack(t)
	for _, n := range []mnNode{mn.manager, mn.worker1, mn.worker2} {
		c, err := client.New(client.WithHost(n.host))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ImageTag(context.Background(), client.ImageTagOptions{Source: testImage(), Target: "jobrun-test/app:v1"}); err != nil {
			t.Fatalf("tag the app image on %s: %v", n.hostname, err)
		}
		c.Close()
	}
	t.Cleanup(s.removeStackServices)
	f := s.writeStack("stack.yml", strings.NewReplacer("WORKER1", mn.worker1.hostname, "WORKER2", mn.worker2.hostname).Replace(multiNodeRelease))
	r := s.jobrun(mn.onManager(), "deploy", "-c", f, "--version", "v1", "--resolve-image", "never")
	if r.code != 0 {
		t.Fatalf("deploy: exit %d", r.code)
	}
	waitFor(t, func() bool { return strings.Contains(s.readState("order"), "app") })
	if got, want := strings.Fields(s.readState("order")), []string{"db", "migrate-" + mn.worker2.hostname, "app"}; !reflect.DeepEqual(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
	if rec := mn.recordOf(s, "migrate"); len(rec.Attempts) != 1 || rec.Attempts[0].NodeID != mn.worker2.id {
		t.Errorf("migrate's record %+v, want one attempt on %s", rec.Attempts, mn.worker2.hostname)
	}
	list, err := s.engine.TaskList(context.Background(), client.TaskListOptions{Filters: make(client.Filters).Add("service", s.name+"_app").Add("desired-state", "running")})
	tasks := list.Items
	if err != nil || len(tasks) != 1 || tasks[0].NodeID != mn.worker1.id {
		t.Errorf("app's tasks %d (%v), want one on %s", len(tasks), err, mn.worker1.hostname)
	}
}
