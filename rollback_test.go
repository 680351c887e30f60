package main

// End-to-end tests of jobrun rollback: an earlier release's services put
// back on the real engine, from the deploy records, not the stack file.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/deploy"
	"jobrun/jobs"
)

func TestRollback(t *testing.T) {
	long(t)
	s := newStack(t)
	releaseEnv(t, s, "v1", "v2")
	f := s.writeStack("stack.yml", releaseStack)
	for _, v := range []string{"v1", "v2"} {
		if r := s.jobrun(nil, "deploy", "-c", f, "--version", v, "--restart-delay", "1s"); r.code != 0 {
			t.Fatalf("deploy %s: exit %d\n%s", v, r.code, r.stderr)
		}
		if v == "v1" {
			waitFor(t, func() bool { return strings.Contains(s.readState("order"), "app-v1") })
		}
	}
	recs := s.deployRecords()
	v1App := s.specAfter(t, recs[0], "app")
	if !strings.HasPrefix(v1App.TaskTemplate.ContainerSpec.Image, "jobrun-test/app:v1") {
		t.Fatalf("v1's kept spec runs %s", v1App.TaskTemplate.ContainerSpec.Image)
	}

	// migrate v2 ran since v1 was released: refused, nothing changed.
	r := s.jobrun(nil, "rollback")
	if r.code != jobs.ExitRefused {
		t.Fatalf("rollback past a migration: exit %d, want %d\n%s", r.code, jobs.ExitRefused, r.stderr)
	}
	for _, want := range []string{"since then: migrate v2 succeeded", "since then: smoke v2 succeeded", "rollback to version v1 refused: migrate v2 (run ", "--force"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refusal lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "refused: smoke") || strings.Contains(r.stderr, ", smoke v2 (run") {
		t.Errorf("a post-deploy job is named as a reason to refuse:\n%s", r.stderr)
	}
	if app, _ := s.stackService("app"); !strings.HasPrefix(app.Spec.TaskTemplate.ContainerSpec.Image, "jobrun-test/app:v2") || len(s.deployRecords()) != 2 {
		t.Errorf("a refused rollback changed something: app runs %s, %d deploy records", app.Spec.TaskTemplate.ContainerSpec.Image, len(s.deployRecords()))
	}

	// --force: the app is v1's again, spec for spec; no job runs.
	order := s.readState("order")
	r = s.jobrun(nil, "rollback", "--force", "-o", "json")
	if r.code != 0 {
		t.Fatalf("rollback --force: exit %d\n%s", r.code, r.stderr)
	}
	var doc struct{ Deploy deploy.Record }
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.stdout)
	}
	if doc.Deploy.Verdict != deploy.RolledBackTo || doc.Deploy.Version != "v1" || doc.Deploy.Restores != recs[0].ID {
		t.Errorf("rollback record %+v, want rolled-back to v1 restoring %s", doc.Deploy, recs[0].ID)
	}
	if app, _ := s.stackService("app"); !reflect.DeepEqual(app.Spec, v1App) {
		t.Errorf("after the rollback app's spec is\n%+v\nwant v1's\n%+v", app.Spec, v1App)
	}
	if !strings.Contains(r.stderr, "service app converged") || !strings.Contains(r.stderr, "service db unchanged") {
		t.Errorf("the verdict does not judge each service:\n%s", r.stderr)
	}
	waitFor(t, func() bool { return strings.Count(s.readState("order"), "app-v1") == 2 })
	if got := strings.TrimPrefix(s.readState("order"), order); strings.Contains(got, "migrate") || strings.Contains(got, "smoke") {
		t.Errorf("the rollback ran jobs: %q", got)
	}

	// Live is v1 now, put back from the first deploy: nothing older.
	if r := s.jobrun(nil, "rollback"); r.code != jobs.ExitUsage || !strings.Contains(r.stderr, "no released deploy before version v1") {
		t.Errorf("second rollback: exit %d, want %d saying there is nothing older\n%s", r.code, jobs.ExitUsage, r.stderr)
	}
	// Forward again with --to: no job ran since v2, so no --force.
	if r := s.jobrun(nil, "rollback", "--to", "v2"); r.code != 0 || !strings.Contains(r.stderr, "no job has succeeded since") {
		t.Errorf("rollback --to v2: exit %d\n%s", r.code, r.stderr)
	}
	if app, _ := s.stackService("app"); !strings.HasPrefix(app.Spec.TaskTemplate.ContainerSpec.Image, "jobrun-test/app:v2") {
		t.Errorf("after --to v2 the app runs %s", app.Spec.TaskTemplate.ContainerSpec.Image)
	}
	if h := s.jobrun(nil, "history"); strings.Count(h.stdout, "rolled-back") != 2 {
		t.Errorf("history does not show both rollbacks:\n%s", h.stdout)
	}
}

// specAfter is the spec a deploy kept of a service, for jobrun rollback.
func (s *engineStack) specAfter(t *testing.T, rec deploy.Record, service string) swarm.ServiceSpec {
	t.Helper()
	specs, ok, err := deploy.Records{Engine: s.engine}.Specs(context.Background(), s.name, rec.ID)
	if err != nil || !ok {
		t.Fatalf("deploy %s kept no specs: %v", rec.ID, err)
	}
	return specs[service]
}

// TestRollbackPinnedDigest: the tag was pushed again since; a rollback puts
// back the digest the release ran, not what the tag names today.
func TestRollbackPinnedDigest(t *testing.T) {
	long(t)
	reg := registryFromEnv(t)
	s := newStack(t)
	t.Cleanup(s.removeStackServices)
	var b [4]byte
	_, _ = rand.Read(b[:])
	repo := reg.addr + "/jobrun-test/busybox:rb" + hex.EncodeToString(b[:])
	reg.push(t, s.engine, testImage(), repo)
	f := s.writeStack("stack.yml", `version: "3.7"
services:
  web:
    image: `+repo+`
    command: ["sleep", "600"]
    environment: {V: "${APP_VERSION}"}
`)
	env := []string{"DOCKER_CONFIG=" + reg.dockerConfig(t)}
	if r := s.jobrun(env, "deploy", "-c", f, "--version", "v1"); r.code != 0 {
		t.Fatalf("deploy v1: exit %d\n%s", r.code, r.stderr)
	}
	web, _ := s.stackService("web")
	first := web.Spec.TaskTemplate.ContainerSpec.Image
	// The test engines never pull for a task (DOCKER_SERVICE_PREFER_OFFLINE_IMAGE),
	// and Engine 29's containerd image store forgets a digest no name points
	// at: a second tag keeps v1's image on the node, as a pull by digest would.
	kept := repo + "-v1"
	if _, err := s.engine.ImageTag(context.Background(), client.ImageTagOptions{Source: repo, Target: kept}); err != nil {
		t.Fatalf("keep v1's image: %v", err)
	}
	t.Cleanup(func() {
		_, _ = s.engine.ImageRemove(context.Background(), kept, client.ImageRemoveOptions{})
		_, _ = s.engine.ImageTag(context.Background(), client.ImageTagOptions{Source: testImage(), Target: repo})
	})
	moved := reg.push(t, s.engine, s.buildImage(), repo)
	if r := s.jobrun(env, "deploy", "-c", f, "--version", "v2"); r.code != 0 {
		t.Fatalf("deploy v2: exit %d\n%s", r.code, r.stderr)
	}
	if web, _ := s.stackService("web"); web.Spec.TaskTemplate.ContainerSpec.Image != repo+"@"+moved {
		t.Fatalf("v2 runs %s, want the tag's new digest %s", web.Spec.TaskTemplate.ContainerSpec.Image, moved)
	}
	bodies := make(chan []byte, 2)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
	}))
	defer hook.Close()
	if r := s.jobrun(env, "rollback", "--notify", hook.URL); r.code != 0 {
		t.Fatalf("rollback: exit %d\n%s", r.code, r.stderr)
	}
	var ev map[string]any
	if err := json.Unmarshal(<-bodies, &ev); err != nil || ev["kind"] != "rollback" || ev["verdict"] != "rolled-back" || ev["version"] != "v1" {
		t.Errorf("announced %v (%v), want the rollback to v1", ev, err)
	}
	web, _ = s.stackService("web")
	if got := web.Spec.TaskTemplate.ContainerSpec.Image; got != first || !strings.Contains(first, "@sha256:") {
		t.Errorf("after the rollback web runs %s, want v1's pinned %s", got, first)
	}
	if env := web.Spec.TaskTemplate.ContainerSpec.Env; !reflect.DeepEqual(env, []string{"V=v1"}) {
		t.Errorf("after the rollback web's env is %q, want v1's", env)
	}
}
