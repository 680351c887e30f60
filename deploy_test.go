package main

// End-to-end tests of jobrun deploy: the whole release against the real
// engine, with the jobs inside the stack file as teams write it.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/deploy"
	"jobrun/jobs"
)

// releaseStackHead is how the release stacks begin: the state folder each
// job and service appends to, and db.
const releaseStackHead = `version: "3.7"
x-state: &state
  type: bind
  source: STATE
  target: /state
services:
  db:
    image: IMAGE
    command: ["sh", "-c", "echo db >> /state/order; sleep 600"]
    volumes: [*state]
`

// releaseStack is the todobackend shape: db, migrate (a pre-deploy job that
// needs db), app (needs both), and a post-deploy smoke test. Each job and
// service appends to /state/order when it starts, so the order is the
// stack's own; migrate fails while FAILS is set.
const releaseStack = releaseStackHead + `  migrate:
    image: jobrun-test/app:${APP_VERSION}
    command: ["sh", "-c", "echo migrate-$${V} >> /state/order; test -z \"$${FAILS}\""]
    environment: {V: "${APP_VERSION}", FAILS: "${FAILS:-}"}
    volumes: [*state]
    depends_on: [db]
    deploy:
      restart_policy: {condition: none}
    x-jobrun: {phase: pre-deploy}
  app:
    image: jobrun-test/app:${APP_VERSION}
    command: ["sh", "-c", "echo app-${APP_VERSION} >> /state/order; test -z \"$${BROKEN}\" || exit 1; sleep 600"]
    environment: {BROKEN: "${BROKEN:-}"}
    volumes: [*state]
    depends_on: [db, migrate]
    deploy:
      update_config: {failure_action: rollback, monitor: 3s}
  smoke:
    image: IMAGE
    command: ["sh", "-c", "echo smoke >> /state/order"]
    volumes: [*state]
    depends_on: [app]
    deploy:
      restart_policy: {condition: none}
    x-jobrun: {phase: post-deploy}
`

// releaseEnv tags the test image as jobrun-test/app:<version> for each
// version, as a team's build would push it.
func releaseEnv(t *testing.T, s *engineStack, versions ...string) {
	t.Helper()
	for _, v := range versions {
		if _, err := s.engine.ImageTag(context.Background(), client.ImageTagOptions{Source: testImage(), Target: "jobrun-test/app:" + v}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		s.removeStackServices()
	})
}

// removeStackServices removes what docker stack deploy made for the stack.
func (s *engineStack) removeStackServices() {
	ctx := context.Background()
	svcsResult, _ := s.engine.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+s.name)})
	svcs := svcsResult.Items
	for _, svc := range svcs {
		_, _ = s.engine.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{})
	}
}

func (s *engineStack) stackService(name string) (swarm.Service, bool) {
	inspected, err := s.engine.ServiceInspect(context.Background(), s.name+"_"+name, client.ServiceInspectOptions{})
	svc := inspected.Service
	return svc, err == nil
}

func (s *engineStack) deployRecords() []deploy.Record {
	s.t.Helper()
	recs, err := deploy.Records{Engine: s.engine}.List(context.Background(), s.name)
	if err != nil {
		s.t.Fatal(err)
	}
	return recs
}

func TestDeployRelease(t *testing.T) {
	long(t)
	s := newStack(t)
	releaseEnv(t, s, "v1", "v2", "v3", "v4")
	f := s.writeStack("stack.yml", releaseStack)

	// First deploy: nothing exists yet.
	r := s.jobrun(nil, "deploy", "-c", f, "--version", "v1", "--restart-delay", "1s")
	if r.code != 0 {
		t.Fatalf("first deploy: exit %d", r.code)
	}
	waitFor(t, func() bool { return strings.Contains(s.readState("order"), "app-v1") })
	order := strings.Fields(s.readState("order"))
	if want := []string{"db", "migrate-v1", "app-v1", "smoke"}; !reflect.DeepEqual(order, want) {
		t.Errorf("order %q, want %q: db before the migration, the app after it, the smoke test last", order, want)
	}
	for _, name := range []string{"migrate", "smoke"} {
		if _, ok := s.stackService(name); ok {
			t.Errorf("job %s was deployed as a stack service", name)
		}
	}
	if !strings.Contains(r.stderr, "v1 released") {
		t.Errorf("stderr lacks the verdict")
	}

	// A second version: the migration runs for it, the app is updated.
	r = s.jobrun(nil, "deploy", "-c", f, "--version", "v2", "-o", "json")
	if r.code != 0 {
		t.Fatalf("second deploy: exit %d", r.code)
	}
	var doc struct {
		Deploy deploy.Record
		Runs   []jobs.Record
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("-o json: %v", err)
	}
	if doc.Deploy.Verdict != deploy.Released || len(doc.Runs) != 2 || len(doc.Deploy.Services) != 2 {
		t.Errorf("deploy record %+v with %d runs, want released with migrate and smoke, db and app", doc.Deploy, len(doc.Runs))
	}
	if app, _ := s.stackService("app"); !strings.HasPrefix(app.Spec.TaskTemplate.ContainerSpec.Image, "jobrun-test/app:v2") {
		t.Errorf("app runs %s, want v2", app.Spec.TaskTemplate.ContainerSpec.Image)
	}

	// A migration that fails stops the release before the app changes.
	r = s.jobrun([]string{"FAILS=1"}, "deploy", "-c", f, "--version", "v3")
	if r.code != jobs.ExitFailed {
		t.Errorf("failing migration: exit %d, want %d", r.code, jobs.ExitFailed)
	}
	if !strings.Contains(r.stderr, "the release stopped; only what it depends on was deployed: db") {
		t.Errorf("stderr does not say the release stopped before the app")
	}
	if app, _ := s.stackService("app"); !strings.HasPrefix(app.Spec.TaskTemplate.ContainerSpec.Image, "jobrun-test/app:v2") {
		t.Errorf("after a failed migration the app runs %s, want v2 untouched", app.Spec.TaskTemplate.ContainerSpec.Image)
	}

	// An app that cannot start is rolled back: its own exit code, and the
	// migration that ran is named.
	r = s.jobrun([]string{"BROKEN=1"}, "deploy", "-c", f, "--version", "v4", "--deploy-timeout", "3m")
	if r.code != jobs.ExitRolledBack {
		t.Errorf("broken app: exit %d, want %d", r.code, jobs.ExitRolledBack)
	}
	for _, want := range []string{"app rolled-back", "the pre-deploy jobs ran and stay applied: migrate"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if app, _ := s.stackService("app"); !strings.HasPrefix(app.Spec.TaskTemplate.ContainerSpec.Image, "jobrun-test/app:v2") {
		t.Errorf("after the rollback the app runs %s, want v2", app.Spec.TaskTemplate.ContainerSpec.Image)
	}
	recs := s.deployRecords()
	if len(recs) != 4 || recs[3].Verdict != deploy.ServicesFailed || recs[2].Verdict != deploy.JobFailed {
		t.Errorf("deploy records %+v, want 4 ending job-failed then services-failed", recs)
	}
	if h := s.jobrun(nil, "history"); !strings.Contains(h.stdout, "DEPLOY") || !strings.Contains(h.stdout, "services-failed") {
		t.Errorf("history does not show the deploys:\n%s", h.stdout)
	}
}

// TestDeployMatchesDockerStackDeploy: the services jobrun deploys are what
// docker stack deploy makes of the same file without the jobs — deploying
// that file again with docker stack deploy changes nothing.
func TestDeployMatchesDockerStackDeploy(t *testing.T) {
	long(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("needs the docker CLI (Debian's docker.io installs it)")
	}
	s := newStack(t)
	releaseEnv(t, s, "v1")
	f := s.writeStack("stack.yml", releaseStack)
	if r := s.jobrun(nil, "deploy", "-c", f, "--version", "v1", "--resolve-image", "never"); r.code != 0 {
		t.Fatalf("deploy: exit %d", r.code)
	}
	before := map[string]swarm.Service{}
	for _, name := range []string{"db", "app"} {
		before[name], _ = s.stackService(name)
	}
	plain := s.writeStack("plain.yml", strings.NewReplacer(
		"    x-jobrun: {phase: pre-deploy}\n", "", "    x-jobrun: {phase: post-deploy}\n", "").Replace(withoutServices(releaseStack, "migrate", "smoke")))
	cmd := exec.Command("docker", "stack", "deploy", "--resolve-image", "never", "-c", plain, s.name)
	cmd.Env = append(cmd.Environ(), "APP_VERSION=v1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker stack deploy: %v\n%s", err, out)
	}
	for name, b := range before {
		after, _ := s.stackService(name)
		if !reflect.DeepEqual(b.Spec, after.Spec) {
			t.Errorf("%s: docker stack deploy changed the spec jobrun deployed:\njobrun: %+v\ndocker: %+v", name, b.Spec, after.Spec)
		}
	}
}

// withoutServices drops the named services (and their depends_on entries)
// from a stack file written as releaseStack is (services indented by two
// spaces, their fields by four).
func withoutServices(yaml string, names ...string) string {
	lines := strings.Split(yaml, "\n")
	var out []string
	skip := false
	for _, l := range lines {
		// A service's block ends at the next service or at a top-level key
		// (secrets: after the last service).
		if !strings.HasPrefix(l, "    ") && (strings.HasPrefix(l, "  ") || l != "" && l[0] != ' ') {
			skip = false
			for _, n := range names {
				if l == "  "+n+":" {
					skip = true
				}
			}
		}
		if !skip {
			for _, n := range names {
				l = strings.ReplaceAll(l, ", "+n+"]", "]")
			}
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDeployLock: two deploys of a stack at once never interleave: the
// second is refused, or with --wait-lock waits for the first.
func TestDeployLock(t *testing.T) {
	long(t)
	s := newStack(t)
	releaseEnv(t, s, "v1")
	f := s.writeStack("stack.yml", releaseStack)
	first, _, _ := s.start(nil, "deploy", "-c", f, "--version", "v1")
	waitFor(t, func() bool { return strings.Contains(s.readState("order"), "migrate") })
	r := s.jobrun(nil, "deploy", "-c", f, "--version", "v1")
	if r.code != jobs.ExitConflict || !strings.Contains(r.stderr, "another deploy of stack "+s.name+" is in progress (version v1") {
		t.Errorf("second deploy: exit %d, want %d and the holder named", r.code, jobs.ExitConflict)
	}
	var wg sync.WaitGroup
	var waited result
	wg.Add(1)
	go func() {
		defer wg.Done()
		waited = s.jobrunQuiet(nil, "deploy", "-c", f, "--version", "v1", "--wait-lock", "3m")
	}()
	if code := exitCodeOf(first.Wait()); code != 0 {
		t.Errorf("first deploy: exit %d", code)
	}
	wg.Wait()
	if waited.code != 0 {
		t.Errorf("deploy with --wait-lock: exit %d: %s", waited.code, waited.stderr)
	}
	if n := strings.Count(s.readState("order"), "migrate"); n != 1 {
		t.Errorf("migrate ran %d times, want once: the waiting deploy found v1 done", n)
	}
}

// TestDeployOldJobService: a <stack>_migrate service left by deploying the
// job with docker stack deploy is reported, and --prune removes it.
func TestDeployOldJobService(t *testing.T) {
	long(t)
	s := newStack(t)
	releaseEnv(t, s, "v1")
	f := s.writeStack("stack.yml", releaseStack)
	old := swarm.ServiceSpec{Annotations: swarm.Annotations{Name: s.name + "_migrate", Labels: map[string]string{"com.docker.stack.namespace": s.name}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: testImage(), Command: []string{"sleep", "600"}}}}
	if _, err := s.engine.ServiceCreate(context.Background(), client.ServiceCreateOptions{Spec: old}); err != nil {
		t.Fatal(err)
	}
	r := s.jobrun(nil, "deploy", "-c", f, "--version", "v1")
	if r.code != 0 || strings.Count(r.stderr, "WARNING: service "+s.name+"_migrate runs job migrate as an ordinary service") != 1 ||
		strings.Contains(r.stderr, "runs on every docker stack deploy") {
		t.Errorf("exit %d, want 0 and the old service reported once, by the release", r.code)
	}
	if _, ok := s.stackService("migrate"); !ok {
		t.Errorf("without --prune the old service was removed")
	}
	r = s.jobrun(nil, "deploy", "-c", f, "--version", "v1", "--prune")
	if r.code != 0 {
		t.Errorf("--prune: exit %d", r.code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, ok := s.stackService("migrate"); ok && time.Now().Before(deadline); _, ok = s.stackService("migrate") {
		time.Sleep(100 * time.Millisecond)
	}
	if _, ok := s.stackService("migrate"); ok {
		t.Errorf("--prune left the old %s_migrate service", s.name)
	}
}

// noCPU is a service no node can run: it reserves more CPUs than any has,
// as a stack whose services outgrew the cluster does.
const noCPU = `  big:
    image: IMAGE
    command: ["sleep", "600"]
    deploy:
      resources: {reservations: {cpus: "1000"}}
`

// TestDeployUnconvergedRedeploy: a service that does not run is not
// released, on its first deploy or when deployed again unchanged; the
// verdict names it and why, and the exit code is the timed-out one.
func TestDeployUnconvergedRedeploy(t *testing.T) {
	long(t)
	s := newStack(t)
	releaseEnv(t, s)
	f := s.writeStack("stack.yml", releaseStackHead+noCPU)
	for _, version := range []string{"v1", "v2"} {
		r := s.jobrun(nil, "deploy", "-c", f, "--version", version, "--deploy-timeout", "5s")
		if r.code != jobs.ExitTimedOut || strings.Contains(r.stderr, "released") {
			t.Errorf("%s: exit %d, want %d and not released", version, r.code, jobs.ExitTimedOut)
		}
		if !strings.Contains(r.stderr, "big timed-out (") || !strings.Contains(r.stderr, "0/1 tasks running; a task waits: no suitable node (insufficient resources on 1 node)") {
			t.Errorf("%s: the verdict does not name big and why it does not run", version)
		}
		recs := s.deployRecords()
		if last := recs[len(recs)-1]; last.Verdict != deploy.ServicesFailed {
			t.Errorf("%s: deploy record says %s, want %s", version, last.Verdict, deploy.ServicesFailed)
		}
	}
	if r := s.jobrun(nil, "deploy", "-c", f, "--version", "v2", "--deploy-timeout", "5s"); !strings.Contains(r.stderr, "big timed-out (deployed again as it was;") ||
		!strings.Contains(r.stderr, "service db unchanged") {
		t.Errorf("exit %d: the verdict does not say big was deployed again as it was, and db unchanged", r.code)
	}
}

// TestDeployPostDeployWaitsForServices: a post-deploy job never runs while
// a service of the stack does not, changed or not.
func TestDeployPostDeployWaitsForServices(t *testing.T) {
	s := newStack(t)
	releaseEnv(t, s)
	smokeAfterBig := strings.Replace(withoutServices(releaseStack, "migrate", "app"), "depends_on: [app]", "depends_on: [big]", 1)
	f := s.writeStack("stack.yml", smokeAfterBig+"\n"+noCPU)
	for _, version := range []string{"v1", "v2"} {
		r := s.jobrun(nil, "deploy", "-c", f, "--version", version, "--deploy-timeout", "5s")
		if r.code != jobs.ExitTimedOut || strings.Contains(r.stderr, "converged, but a post-deploy job") {
			t.Errorf("%s: exit %d, want %d, and no word of a post-deploy job", version, r.code, jobs.ExitTimedOut)
		}
		recs := s.deployRecords()
		if strings.Contains(s.readState("order"), "smoke") || len(recs) == 0 || len(recs[len(recs)-1].Jobs) != 0 {
			t.Errorf("%s: the post-deploy job ran while big did not", version)
		}
	}
}

// TestDeployNoJob: a stack without jobs is deployed, with a verdict for
// each service, and the release says it had no job.
func TestDeployNoJob(t *testing.T) {
	s := newStack(t)
	releaseEnv(t, s)
	f := s.writeStack("stack.yml", releaseStackHead+`  app:
    image: IMAGE
    command: ["sleep", "600"]
    depends_on: [db]
`)
	for _, want := range []string{"no job, service db converged, service app converged", "no job, service db unchanged, service app unchanged"} {
		r := s.jobrun(nil, "deploy", "-c", f, "--version", "v1")
		if r.code != 0 || !strings.Contains(r.stderr, "jobrun: deploy: "+deploy.NoJob+"\n") || !strings.Contains(r.stderr, "v1 released: "+want+"\n") {
			t.Errorf("exit %d, want 0, that there was no job, and %q", r.code, want)
		}
	}
	for _, name := range []string{"db", "app"} {
		if _, ok := s.stackService(name); !ok {
			t.Errorf("service %s was not deployed", name)
		}
	}
}

// TestDeployDanglingDependsOn: a depends_on naming what the file lacks is
// ignored with a warning, as docker stack deploy ignores it, unless a job's
// order needs it. Every warning, docker's own included, is said once.
func TestDeployDanglingDependsOn(t *testing.T) {
	long(t)
	s := newStack(t)
	releaseEnv(t, s, "v1")
	app := `  app:
    image: IMAGE
    command: ["sleep", "600"]
    depends_on: [db, redis, migrate]
    restart: always
    expose: ["80"]
`
	f := s.writeStack("stack.yml", withoutServices(releaseStack, "app", "smoke")+"\n"+app)
	r := s.jobrun(nil, "deploy", "-c", f, "--version", "v1")
	if r.code != 0 || !strings.Contains(r.stderr, "v1 released") {
		t.Fatalf("exit %d, want 0 and released", r.code)
	}
	for _, want := range []string{
		"jobrun: deploy: WARNING: depends_on names services the stack file does not have: app -> redis: ignored, as docker stack deploy ignores them",
		"jobrun: deploy: WARNING: Ignoring unsupported options: restart",
		"jobrun: deploy: WARNING: Ignoring deprecated options: expose: ",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, "WARNING") && seen[line] {
			t.Errorf("said twice: %q", line)
		}
		seen[line] = true
	}
	f = s.writeStack("stack.yml", strings.Replace(releaseStack, "    depends_on: [db]\n", "    depends_on: [db, cache]\n", 1))
	if r := s.jobrun(nil, "deploy", "-c", f, "--version", "v1"); r.code != jobs.ExitUsage ||
		strings.TrimSpace(r.stderr) != "jobrun: depends_on names services the stack file does not have, and the jobs' order needs them: migrate -> cache: add them to the stack file, or drop them from depends_on" {
		t.Errorf("a job's dangling depends_on: exit %d, want %d and one line naming it", r.code, jobs.ExitUsage)
	}
}

// TestDeployChangedSecret: Swarm never changes a secret's data, so a
// release whose secret file changed stops before its pre-deploy job runs,
// with exit 2 and the fix; the job ran for the first release only.
func TestDeployChangedSecret(t *testing.T) {
	s := newStack(t)
	releaseEnv(t, s, "v1", "v2")
	t.Cleanup(func() {
		_, _ = s.engine.SecretRemove(context.Background(), s.name+"_token", client.SecretRemoveOptions{})
	})
	token := filepath.Join(s.dir, "token.txt")
	f := s.writeStack("stack.yml", releaseStackHead+`  migrate:
    image: jobrun-test/app:${APP_VERSION}
    command: ["sh", "-c", "echo migrate-${APP_VERSION} >> /state/order"]
    secrets: [token]
    volumes: [*state]
    deploy:
      restart_policy: {condition: none}
    x-jobrun: {phase: pre-deploy}
secrets:
  token: {file: ./token.txt}
`)
	for _, v := range []string{"v1", "v2"} {
		if err := os.WriteFile(token, []byte("token-"+v), 0o600); err != nil {
			t.Fatal(err)
		}
		r := s.jobrun([]string{"APP_VERSION=" + v}, "deploy", "-c", f, "--version", v)
		if v == "v1" && (r.code != 0 || !strings.Contains(r.stderr, "v1 released")) {
			t.Fatalf("v1: exit %d, want 0 and released: %s", r.code, tail(r.stderr, 5))
		}
		want := "secret " + s.name + "_token in the stack file has other data than the swarm's, and Swarm cannot change a secret's data: give it a new name in the stack file (name: " + s.name + "_token_v2, say) and deploy again"
		if v == "v2" && (r.code != jobs.ExitUsage || !strings.Contains(r.stderr, want)) {
			t.Errorf("v2 with another token: exit %d, want %d and %q: %s", r.code, jobs.ExitUsage, want, tail(r.stderr, 5))
		}
	}
	if order := s.readState("order"); strings.Contains(order, "migrate-v2") || !strings.Contains(order, "migrate-v1") {
		t.Errorf("the jobs that ran: %q, want migrate-v1 and not migrate-v2", order)
	}
}
