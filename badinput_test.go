package main

// Every mistake a user can make gets one line that names the fix, its own
// exit code, and leaves nothing behind on the engine. (--attempt out of
// range is in TestRunAlwaysFails, which has a run to look into; a non-swarm
// engine and a worker are in multinode_test.go.)

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"jobrun/jobs"
	"jobrun/logs/cwlogstest"

	"github.com/moby/moby/client"
)

func TestBadInput(t *testing.T) {
	s := newStack(t)
	srv := cwlogstest.NewServer()
	defer srv.Close()
	good := s.writeStack("stack.yml", countingJobs)
	writeBad := func(name, yaml string) string {
		return s.writeStack(name, strings.NewReplacer("ENDPOINT", srv.URL).Replace(yaml))
	}
	awslogsJob := func(extra string) string {
		return `version: "3.7"
services:
  migrate:
    image: IMAGE
    logging:
      driver: awslogs
      options: {awslogs-endpoint: ENDPOINT, awslogs-group: no-such-group` + extra + `}
`
	}
	netFile := writeBad("net.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: IMAGE\n    networks: [backend]\nnetworks:\n  backend: {}\n")
	noAWS := []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_PROFILE=", "AWS_REGION=", "AWS_DEFAULT_REGION=",
		"AWS_CONFIG_FILE=" + filepath.Join(s.dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(s.dir, "none"), "AWS_EC2_METADATA_DISABLED=true"}

	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want []string // words the one-line message must hold
	}{
		{"stack file missing", nil, []string{"-c", "nope.yml", "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"nope.yml", "-c"}},
		{"not YAML", nil, []string{"-c", writeBad("notyaml.yml", "services: [migrate\n  : :"), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"YAML"}},
		{"invalid Compose", nil, []string{"-c", writeBad("schema.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: x\n    deploy: {replicas: lots}\n"), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"services.migrate.deploy.replicas"}},
		{"job not in the stack file", nil, []string{"-c", good, "migrat", "--version", "v1"}, jobs.ExitUsage, []string{`"migrat"`, "collectstatic, migrate"}},
		{"global mode", nil, []string{"-c", writeBad("global.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: IMAGE\n    deploy: {mode: global}\n"), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"global", "replicated"}},
		{"network missing", nil, []string{"-c", good, "-c", netFile, "migrate", "--version", "v1"}, jobs.ExitUsage, []string{
			"jobrun: job migrate: network " + s.name + "_backend does not exist: deploy the stack first (docker stack deploy -c " + good + " -c " + netFile + " " + s.name + ")\n"}},
		{"external network missing", nil, []string{"-c", writeBad("extnet.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: IMAGE\n    networks: [edge]\nnetworks:\n  edge: {external: true, name: jobrun-no-such-net}\n"), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{
			"jobrun: job migrate: network jobrun-no-such-net does not exist; it is external, so create it first: docker network create --driver overlay --attachable jobrun-no-such-net\n"}},
		{"external secret missing", nil, []string{"-c", writeBad("secret.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: IMAGE\n    secrets: [pw]\nsecrets:\n  pw: {external: true}\n"), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{
			"jobrun: job migrate: secret pw does not exist; it is external, so create it first: docker secret create pw FILE (or - to read it from stdin)\n"}},
		{"external config missing", nil, []string{"-c", writeBad("config.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: IMAGE\n    configs: [cfg]\nconfigs:\n  cfg: {external: true}\n"), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{
			"jobrun: job migrate: config cfg does not exist; it is external, so create it first: docker config create cfg FILE\n"}},
		{"image variable unset", []string{"TAG="}, []string{"-c", writeBad("tag.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: \"repo/app:${TAG}\"\n"), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{
			"jobrun: job migrate: image \"repo/app:\" needs TAG, which is not set: set it in jobrun's environment (TAG=... jobrun migrate)\n"}},
		{"APP_VERSION unresolved", []string{"APP_VERSION=", "JOBRUN_VERSION="}, []string{"-c", good, "migrate"}, jobs.ExitUsage, []string{"--version", "APP_VERSION"}},
		{"version not an image tag", nil, []string{"-c", good, "migrate", "--version", "v1/evil"}, jobs.ExitUsage, []string{"v1/evil", "image tag"}},
		{"timeout zero", nil, []string{"-c", good, "migrate", "--version", "v1", "--timeout", "0s"}, jobs.ExitUsage, []string{"--timeout", "positive"}},
		{"timeout negative", nil, []string{"-c", good, "migrate", "--version", "v1", "--timeout", "-5m"}, jobs.ExitUsage, []string{"--timeout", "positive"}},
		{"timeout unparsable", nil, []string{"-c", good, "migrate", "--version", "v1", "--timeout", "soon"}, jobs.ExitUsage, []string{"soon", "timeout"}},
		{"restart delay unparsable", nil, []string{"-c", writeBad("delay.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: IMAGE\n    deploy: {restart_policy: {delay: soon}}\n"), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"restart_policy.delay", "duration"}},
		{"restart delay flag unparsable", nil, []string{"-c", good, "migrate", "--version", "v1", "--restart-delay", "soon"}, jobs.ExitUsage, []string{"--restart-delay", "30s"}},
		{"output unknown", nil, []string{"-c", good, "migrate", "--version", "v1", "-o", "yaml"}, jobs.ExitUsage, []string{"yaml", "text or json"}},
		{"stack empty", []string{"JOBRUN_STACK="}, []string{"--stack", "", "-c", good, "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"--stack", "required"}},
		{"stack invalid", nil, []string{"--stack", "my stack!", "-c", good, "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"my stack!", "letters"}},
		{"DOCKER_HOST malformed", []string{"DOCKER_HOST=nonsense://x"}, []string{"-c", good, "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"DOCKER_HOST", "unix://"}},
		{"no AWS credentials", append([]string{"AWS_REGION=us-east-1"}, noAWS[:3]...), []string{"-c", writeBad("aws1.yml", awslogsJob("")), "migrate", "--version", "v1"}, jobs.ExitCloudWatch, []string{"credentials", "--logs docker"}},
		{"no AWS region", append(noAWS, "AWS_ACCESS_KEY_ID=AKIDJOBRUNTEST", "AWS_SECRET_ACCESS_KEY=x"), []string{"-c", writeBad("aws2.yml", awslogsJob("")), "migrate", "--version", "v1"}, jobs.ExitCloudWatch, []string{"region", "--region"}},
		{"log group missing", awsEnv, []string{"-c", writeBad("aws3.yml", awslogsJob("")), "migrate", "--version", "v1"}, jobs.ExitCloudWatch, []string{"no-such-group", "does not exist"}},
		{"log stream template invalid", awsEnv, []string{"-c", writeBad("aws4.yml", awslogsJob(`, tag: "{{.Name"`)), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"template", "tag"}},
		{"logs of a job that never ran", nil, []string{"logs", "collectstatic"}, jobs.ExitUsage, []string{"no recorded run", "jobrun collectstatic"}},
		{"unknown flag", nil, []string{"-c", good, "migrate", "--stak", "x"}, jobs.ExitUsage, []string{"-stak", "--stack"}},
		{"unknown command", nil, []string{"histroy"}, jobs.ExitUsage, []string{"histroy", "jobrun history"}},
		{"job name Swarm rejects", nil, []string{"-c", writeBad("name.yml", "version: \"3.7\"\nservices:\n  app.migrate:\n    image: IMAGE\n"), "app.migrate", "--version", "v1"}, jobs.ExitUsage, []string{"app.migrate", "letters"}},
		{"image reference unparsable", nil, []string{"-c", writeBad("image.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: \"UPPER/Case:${APP_VERSION}\"\n"), "migrate", "--version", "v1"}, jobs.ExitUsage, []string{"UPPER/Case:v1", "image"}},
		{"no job named", nil, []string{"-c", good, "--version", "v1"}, jobs.ExitUsage, []string{"no job"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.jobrunQuiet(c.env, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(lines) > 1 && strings.Contains(lines[0], ": engine ") && strings.Contains(lines[0], "(docker context ") {
				lines = lines[1:] // the run's first line names the engine it reached
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "jobrun: ") {
				t.Errorf("want one line on stderr, got %q", r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("message %q lacks %q", r.stderr, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if strings.Contains(r.stderr, "job migrate: service migrate") {
				t.Errorf("message names the job twice: %q", r.stderr)
			}
		})
	}
	if svcs := s.jobServices(); len(svcs) != 0 {
		t.Errorf("bad input left service %s behind", svcs[0].Spec.Name)
	}
	if n := len(allServices(t, s)); n != 0 {
		t.Errorf("%d services of this stack left behind", n)
	}
}

func allServices(t *testing.T, s *engineStack) []string {
	t.Helper()
	list, err := s.engine.ServiceList(context.Background(), client.ServiceListOptions{})
	svcs := list.Items
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range svcs {
		if strings.Contains(svc.Spec.Name, s.name) {
			names = append(names, svc.Spec.Name)
		}
	}
	return names
}
