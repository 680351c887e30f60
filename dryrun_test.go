package main

// End-to-end tests of jobrun deploy --dry-run: what a release would do,
// read from the real engine, with nothing written to it.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/deploy"
	"jobrun/jobs"
)

// dryRunStack has a service that follows the version (app: its image, an
// env value that holds a secret), one that does not (db), a pre-deploy
// job with a plan, a file secret and a config.
const dryRunStack = `version: "3.7"
services:
  db:
    image: IMAGE
    command: ["sleep", "600"]
    volumes: ["STATE:/state"]
    ports: [{target: 80}]
    healthcheck: {test: ["CMD", "true"], interval: 5s}
    logging: {driver: json-file, options: {max-size: 1m}}
    stop_grace_period: 2s
    networks: {default: {aliases: [database]}}
    deploy:
      resources: {limits: {memory: 64M}, reservations: {cpus: "0.01"}}
      update_config: {failure_action: rollback, monitor: 3s, order: start-first}
      rollback_config: {parallelism: 2}
      restart_policy: {condition: on-failure, max_attempts: 3}
      placement: {preferences: [{spread: node.id}]}
  app:
    image: jobrun-test/app:${APP_VERSION}
    command: ["sleep", "600"]
    environment: {V: "${APP_VERSION}", API_TOKEN: "tok-${APP_VERSION}-hush"}
    secrets: [token]
    configs: [settings]
    depends_on: [db]
    deploy:
      labels: {team: core}
      update_config: {parallelism: 2}
      placement: {constraints: ["node.role == manager"]}
  migrate:
    image: jobrun-test/app:${APP_VERSION}
    command: ["true"]
    depends_on: [db]
    deploy:
      restart_policy: {condition: none}
    x-jobrun: {phase: pre-deploy, plan: [sh, -c, "echo would migrate to $$0", "${APP_VERSION}"]}
secrets:
  token: {file: ./token.txt}
configs:
  settings: {file: ./settings.txt}
`

// dryRunDoc is what -o json prints, read back.
type dryRunDoc struct {
	DryRun struct {
		LockedBy string          `json:"locked_by"`
		Create   []deploy.Object `json:"create"`
		Steps    []struct {
			Job     string              `json:"job"`
			Skip    bool                `json:"skip"`
			Plan    *dryRunPlan         `json:"plan"`
			Service *deploy.ServiceDiff `json:"service"`
		} `json:"steps"`
	} `json:"dry_run"`
}

// dryRunPlan is a job's plan in -o json, read back.
type dryRunPlan struct {
	Command  []string `json:"command"`
	ExitCode *int     `json:"exitCode"`
	Output   string   `json:"output"`
	RunID    string   `json:"run_id"`
	Warning  string   `json:"warning"`
}

// TestDryRun: a dry run says what each release would do and changes
// nothing in the swarm: byte for byte, its services, networks, secrets and
// configs are as they were, but for the record of each plan's exec, which
// is an exec's (never a run of the job), and nothing more.
func TestDryRun(t *testing.T) {
	long(t)
	s := newStack(t)
	releaseEnv(t, s, "v1", "v2")
	t.Cleanup(s.removeStackObjects)
	for name, data := range map[string]string{"token.txt": "s3cret-file-value", "settings.txt": "mode=fast"} {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := s.writeStack("stack.yml", dryRunStack)
	if r := s.jobrun(nil, "deploy", "-c", f, "--version", "v1"); r.code != 0 {
		t.Fatalf("deploy v1: exit %d", r.code)
	}
	// Another deploy holds the lock: the dry run says so, and takes none.
	lock := &deploy.Lock{Engine: s.engine, Stack: s.name, Now: time.Now, After: time.After}
	if err := lock.Acquire(context.Background(), "v9", 0); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Release(context.Background()) }()
	before := s.snapshot()

	same := s.jobrun(nil, "deploy", "-c", f, "--version", "v1", "--dry-run")
	if same.code != 0 {
		t.Fatalf("dry run of v1: exit %d", same.code)
	}
	for _, want := range []string{"= service db: unchanged\n", "= job migrate (pre-deploy): skip, version v1 already succeeded", "= service app: unchanged\n"} {
		if !strings.Contains(same.stdout, want) {
			t.Errorf("dry run of the deployed version lacks %q", want)
		}
	}
	if strings.Contains(same.stdout, "~ ") || strings.Contains(same.stdout, "+ ") {
		t.Errorf("dry run of the deployed version would change something")
	}
	if !strings.Contains(same.stderr, "WARNING: another deploy of stack "+s.name+" holds its lock (version v9") {
		t.Errorf("stderr does not say another deploy holds the lock")
	}

	next := s.jobrun(nil, "deploy", "-c", f, "--version", "v2", "--dry-run", "-o", "json")
	if next.code != 0 {
		t.Fatalf("dry run of v2: exit %d", next.code)
	}
	execs := []string{checkDryRunV2(t, next.stdout)}
	text := s.jobrun(nil, "deploy", "-c", f, "--version", "v2", "--dry-run")
	for _, want := range []string{"+ job migrate (pre-deploy): run\n    plan sh -c \"echo would migrate to $0\" v2: exit 0\n    | would migrate to v2\n", "~ service app: update\n    image: jobrun-test/app:v1", " → jobrun-test/app:v2\n", "    env API_TOKEN: changed\n", "    env V: changed\n", "= service db: unchanged\n"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("dry run of v2 lacks %q", want)
		}
	}
	pruned := s.writeStack("pruned.yml", withoutServices(dryRunStack, "app"))
	prune := s.jobrun(nil, "deploy", "-c", pruned, "--version", "v2", "--dry-run", "--prune")
	if !strings.Contains(prune.stdout, "- service app: remove\n") {
		t.Errorf("dry run with --prune does not remove app")
	}
	for _, r := range []result{same, next, text, prune} {
		if strings.Contains(r.stdout+r.stderr, "hush") || strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("a dry run shows a secret value")
		}
	}
	for _, r := range []result{same, text, prune} {
		execs = append(execs, planExecs(t, r.stdout)...)
	}
	if after := s.snapshot(execs...); after != before {
		t.Errorf("the dry runs changed the engine:\nbefore: %s\nafter:  %s", before, after)
	}
	s.assertExecRecords("migrate", execs)
}

// planExecs are the run IDs of the plans' execs that a dry run's last
// line names.
func planExecs(t *testing.T, stdout string) []string {
	t.Helper()
	m := regexp.MustCompile(`\nnothing was changed \(dry run\) but the records of the plans' execs \(run ([^;]+); jobrun logs JOB --exec\)\n$`).FindStringSubmatch(stdout)
	if m == nil {
		t.Errorf("the dry run does not name its plans' execs:\n%s", stdout)
		return nil
	}
	return strings.Split(m[1], ", ")
}

// assertExecRecords: each run is an exec of job, with its record (and its
// output's) in the swarm, and never a run of the job.
func (s *engineStack) assertExecRecords(job string, runIDs []string) {
	s.t.Helper()
	for _, id := range runIDs {
		recs, err := jobs.Records{Engine: s.engine}.Find(context.Background(), jobs.RecordFilter{Stack: s.name, RunID: id}, 0)
		if err != nil || len(recs) != 1 || recs[0].Exec == nil || recs[0].Job != job {
			s.t.Errorf("run %s: records %+v (%v), want one exec of %s", id, recs, err, job)
		}
	}
}

// checkDryRunV2: the next version changes app's image and env only, and
// runs the migration, whose plan ran; it returns the plan's exec.
func checkDryRunV2(t *testing.T, stdout string) string {
	t.Helper()
	var doc dryRunDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("-o json: %v", err)
	}
	var jobsRun, services []string
	var exec string
	for _, step := range doc.DryRun.Steps {
		if step.Service == nil {
			jobsRun = append(jobsRun, step.Job)
			if p := step.Plan; p == nil || p.ExitCode == nil || *p.ExitCode != 0 || p.Output != "would migrate to v2\n" || p.Warning != "" || p.RunID == "" {
				t.Errorf("plan of %s: %+v, want exit 0, its output, its exec", step.Job, p)
			} else {
				exec = p.RunID
			}
			if step.Skip {
				t.Errorf("job %s skipped, but v2 never ran", step.Job)
			}
			continue
		}
		services = append(services, step.Service.Service+" "+string(step.Service.Action))
		if step.Service.Service != "app" {
			continue
		}
		var fields []string
		for _, c := range step.Service.Changes {
			fields = append(fields, c.Field+" "+c.Key)
			if c.Field == "image" && (!strings.HasPrefix(c.Old, "jobrun-test/app:v1") || c.New != "jobrun-test/app:v2") {
				t.Errorf("image change %q → %q, want jobrun-test/app:v1… → jobrun-test/app:v2", c.Old, c.New)
			}
		}
		if want := []string{"image ", "env API_TOKEN", "env V"}; !slices.Equal(fields, want) {
			t.Errorf("app changes %q, want %q", fields, want)
		}
	}
	if want := []string{"db unchanged", "app update"}; !slices.Equal(services, want) {
		t.Errorf("services %q, want %q", services, want)
	}
	if !slices.Equal(jobsRun, []string{"migrate"}) || doc.DryRun.LockedBy == "" || len(doc.DryRun.Create) != 0 {
		t.Errorf("jobs %q, lock %q, create %v: want migrate, the lock's holder, nothing to create", jobsRun, doc.DryRun.LockedBy, doc.DryRun.Create)
	}
	return exec
}

// snapshot is everything of the stack on the engine, specs and versions:
// its services, networks, secrets and configs (records and locks too), but
// the records of the runs named.
func (s *engineStack) snapshot(except ...string) string {
	s.t.Helper()
	ctx := context.Background()
	byNS := make(client.Filters).Add("label", "com.docker.stack.namespace="+s.name)
	byJobrun := make(client.Filters).Add("label", jobs.LabelStack+"="+s.name)
	var parts []any
	for _, f := range []client.Filters{byNS, byJobrun} {
		svcsResult, err1 := s.engine.ServiceList(ctx, client.ServiceListOptions{Filters: f})
		svcs := svcsResult.Items
		netsResult, err2 := s.engine.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		nets := netsResult.Items
		secretsResult, err3 := s.engine.SecretList(ctx, client.SecretListOptions{Filters: f})
		secrets := secretsResult.Items
		configsResult, err4 := s.engine.ConfigList(ctx, client.ConfigListOptions{Filters: f})
		configs := configsResult.Items
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil {
				s.t.Fatal(err)
			}
		}
		slices.SortFunc(svcs, func(a, b swarm.Service) int { return strings.Compare(a.ID, b.ID) })
		slices.SortFunc(nets, func(a, b network.Summary) int { return strings.Compare(a.ID, b.ID) })
		slices.SortFunc(secrets, func(a, b swarm.Secret) int { return strings.Compare(a.ID, b.ID) })
		configs = slices.DeleteFunc(configs, func(c swarm.Config) bool { return slices.Contains(except, c.Spec.Labels[jobs.LabelRunID]) })
		slices.SortFunc(configs, func(a, b swarm.Config) int { return strings.Compare(a.ID, b.ID) })
		parts = append(parts, svcs, nets, secrets, configs)
	}
	data, err := json.Marshal(parts)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(data)
}

// removeStackObjects removes the secrets and configs docker stack deploy
// made for the stack.
func (s *engineStack) removeStackObjects() {
	ctx := context.Background()
	f := make(client.Filters).Add("label", "com.docker.stack.namespace="+s.name)
	s.removeStackServices()
	secretsResult, _ := s.engine.SecretList(ctx, client.SecretListOptions{Filters: f})
	secrets := secretsResult.Items
	for _, sec := range secrets {
		_, _ = s.engine.SecretRemove(ctx, sec.ID, client.SecretRemoveOptions{})
	}
	configsResult, _ := s.engine.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	configs := configsResult.Items
	for _, c := range configs {
		_, _ = s.engine.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{})
	}
}

// TestDryRunPinnedImage: a service whose image the deploy pinned to its
// registry digest is unchanged while its tag is; a new tag is the image
// change, from the pinned image.
func TestDryRunPinnedImage(t *testing.T) {
	reg := registryFromEnv(t)
	s := newStack(t)
	t.Cleanup(s.removeStackServices)
	var b [4]byte
	_, _ = rand.Read(b[:])
	repo := reg.addr + "/jobrun-test/busybox:dr" + hex.EncodeToString(b[:])
	for _, v := range []string{"v1", "v2"} {
		reg.push(t, s.engine, testImage(), repo+"-"+v)
	}
	f := s.writeStack("stack.yml", `version: "3.7"
services:
  web:
    image: `+repo+`-${APP_VERSION}
    command: ["sleep", "600"]
`)
	env := []string{"DOCKER_CONFIG=" + reg.dockerConfig(t)}
	if r := s.jobrun(env, "deploy", "-c", f, "--version", "v1"); r.code != 0 {
		t.Fatalf("deploy v1: exit %d", r.code)
	}
	web, _ := s.stackService("web")
	pinned := web.Spec.TaskTemplate.ContainerSpec.Image
	if !strings.HasPrefix(pinned, repo+"-v1@sha256:") {
		t.Fatalf("web runs %s, want it pinned to a digest", pinned)
	}
	if r := s.jobrun(env, "deploy", "-c", f, "--version", "v1", "--dry-run"); !strings.Contains(r.stdout, "= service web: unchanged\n") {
		t.Errorf("dry run of the pinned version is not unchanged")
	}
	r := s.jobrun(env, "deploy", "-c", f, "--version", "v2", "--dry-run")
	if want := "~ service web: update\n    image: " + pinned + " → " + repo + "-v2\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("dry run of v2 lacks %q", want)
	}

	// v1 pushed again: --resolve-image always (the default) would pin the
	// new digest, changed keeps the pinned image.
	// push removes its tag when the test ends: the tag is put back between
	// the two removals, so that each finds it.
	t.Cleanup(func() {
		_, _ = s.engine.ImageTag(context.Background(), client.ImageTagOptions{Source: testImage(), Target: repo + "-v1"})
	})
	moved := reg.push(t, s.engine, s.buildImage(), repo+"-v1")
	if r := s.jobrun(env, "deploy", "-c", f, "--version", "v1", "--dry-run"); !strings.Contains(r.stdout, "~ service web: update\n    image: "+pinned+" → "+repo+"-v1@"+moved+"\n") {
		t.Errorf("dry run does not show the tag pushed again (%s)", moved)
	}
	if r := s.jobrun(env, "deploy", "-c", f, "--version", "v1", "--dry-run", "--resolve-image", "changed"); !strings.Contains(r.stdout, "= service web: unchanged\n") {
		t.Errorf("dry run with --resolve-image changed is not unchanged")
	}
}

// buildImage builds an image of its own from the test image (a new ID,
// no pull), and returns its tag; it is removed when the test ends.
func (s *engineStack) buildImage() string {
	s.t.Helper()
	tag := "jobrun-test/dryrun:" + s.name
	dockerfile := "FROM " + testImage() + "\nLABEL jobrun-test=" + s.name + "\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))}); err != nil {
		s.t.Fatal(err)
	}
	_, _ = tw.Write([]byte(dockerfile))
	_ = tw.Close()
	resp, err := s.engine.ImageBuild(context.Background(), &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true})
	if err != nil {
		s.t.Fatalf("build: %v", err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(out, []byte(`"error"`)) {
		s.t.Fatalf("build: %s", out)
	}
	s.t.Cleanup(func() {
		_, _ = s.engine.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{})
	})
	return tag
}
