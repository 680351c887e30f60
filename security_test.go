package main

// Credentials never reach jobrun's output, errors or run records.

import (
	"context"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
	"jobrun/logs/cwlogstest"
)

func TestSecretsNeverShown(t *testing.T) {
	long(t)
	s := newStack(t)
	srv := cwlogstest.NewServer()
	defer srv.Close()
	const (
		hostPassword   = "HostPassw0rdXyz"
		awsSecret      = "AwsSecretKeyXyz"
		registrySecret = "RegistryPassXyz"
		secretValue    = "SwarmSecretXyz"
		envPassword    = "EnvPasswordXyz"
	)
	ctx := context.Background()
	if _, err := s.engine.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: s.name + "_pw", Labels: map[string]string{jobs.LabelStack: s.name}},
		Data:        []byte(secretValue),
	}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.engine.SecretRemove(context.Background(), s.name+"_pw", client.SecretRemoveOptions{}) })

	// The engine reached over TCP with a password in DOCKER_HOST.
	addr := unixProxy(t, strings.TrimPrefix(os.Getenv("DOCKER_HOST"), "unix://"))
	// Registry credentials for the image's registry (Docker Hub).
	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("deploy:" + registrySecret))
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"DOCKER_HOST=tcp://deploy:" + hostPassword + "@" + addr,
		"DOCKER_CONFIG=" + cfgDir,
		"AWS_ACCESS_KEY_ID=AKIDJOBRUNTEST", "AWS_SECRET_ACCESS_KEY=" + awsSecret, "AWS_REGION=us-east-1",
		"JOBRUN_FLUSH_WAIT=1s", "DB_PASSWORD=" + envPassword,
	}
	f := s.writeStack("stack.yml", strings.NewReplacer("STACK", s.name, "ENDPOINT", srv.URL).Replace(`version: "3.7"
services:
  migrate:
    image: IMAGE
    command: ["sh", "-c", "test -s /run/secrets/pw && echo migrated; exit $${FAIL:-0}"]
    environment: {MYSQL_PASSWORD: "${DB_PASSWORD}", FAIL: "${FAIL:-0}"}
    secrets: [{source: pw, target: pw}]
    logging:
      driver: awslogs
      options: {awslogs-endpoint: ENDPOINT, awslogs-group: docker-swarm-lg, awslogs-region: us-east-1, awslogs-create-group: "true"}
    deploy:
      restart_policy: {condition: none}
    x-jobrun: {plan: [sh, -c, "echo planned", "${DB_PASSWORD}"]}
  app:
    image: IMAGE
    command: ["sleep", "600"]
    environment: {MYSQL_PASSWORD: "${DB_PASSWORD}", V: "${APP_VERSION}"}
    secrets: [{source: pw, target: pw}]
secrets:
  pw: {external: true, name: STACK_pw}
`))
	t.Cleanup(s.removeStackServices)

	var all strings.Builder
	for _, args := range [][]string{
		{"-c", f, "migrate", "--version", "v1"},
		{"-c", f, "migrate", "--version", "v2", "-o", "json", "--logs", "docker"},
		{"-c", f, "migrate", "--version", "v3"}, // FAIL=3 below: a failed run
		{"history"},
		{"-o", "json", "history"},
		{"logs", "migrate"},
		{"logs", "migrate", "--version", "v2"},
		{"-c", f, "nosuchjob", "--version", "v1"},
		// An exec whose command line holds the job's password: redacted
		// wherever jobrun prints or records the command.
		{"-c", f, "exec", "migrate", "--version", "v4", "--", "sh", "-c", "test -s /run/secrets/pw && echo migrated", envPassword},
		{"logs", "migrate", "--exec"},
		// A release, its dry run (env changes are named, never shown) and
		// a rollback, whose specs hold the app's environment.
		{"-c", f, "deploy", "--job", "migrate", "--version", "v5"},
		{"-c", f, "deploy", "--job", "migrate", "--version", "v6", "--dry-run"},
		{"-c", f, "deploy", "--job", "migrate", "--version", "v6", "--dry-run", "-o", "json"},
		// The job's plan, whose command holds its password too.
		{"-c", f, "plan", "migrate", "--version", "v6", "-o", "json"},
		{"-c", f, "deploy", "--job", "migrate", "--version", "v6", "-o", "json"},
		{"rollback", "--force", "-o", "json"},
	} {
		e := env
		if args[len(args)-1] == "v3" {
			e = append(e, "FAIL=3")
		}
		r := s.jobrun(e, args...)
		all.WriteString(r.stdout + r.stderr)
	}
	// A bad DOCKER_HOST's error names it, without the password.
	bad := s.jobrunQuiet([]string{"DOCKER_HOST=tcp://deploy:" + hostPassword + "@127.0.0.1:1"}, "-c", f, "migrate", "--version", "v1", "--connect-timeout", "2s")
	all.WriteString(bad.stdout + bad.stderr)
	if !strings.Contains(all.String(), "migrated") || !strings.Contains(all.String(), "| planned\n") || !strings.Contains(bad.stderr, "127.0.0.1:1") || !strings.Contains(all.String(), "v5 rolled-back") {
		t.Fatalf("the runs did not run as planned:\n%s", all.String())
	}
	// And the run records kept in the swarm.
	list, err := s.engine.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", jobs.LabelStack+"="+s.name)})
	cfgs := list.Items
	if err != nil || len(cfgs) < 3 {
		t.Fatalf("run records: %v (%d)", err, len(cfgs))
	}
	specs, runSpecs := 0, 0
	for _, c := range cfgs {
		// A release's service specs, and a run's kept for its replay, hold
		// what service inspect shows, env values among it, by design
		// (README: Security): only their labels are searched.
		switch c.Spec.Labels[jobs.LabelKind] {
		case "deploy-specs":
			specs, c.Spec.Data = specs+1, nil
		case "spec":
			runSpecs, c.Spec.Data = runSpecs+1, nil
		}
		all.Write(c.Spec.Data)
		for k, v := range c.Spec.Labels {
			all.WriteString(k + "=" + v + "\n")
		}
	}
	if specs != 2 || runSpecs == 0 {
		t.Errorf("%d releases kept their specs, want v5 and v6; %d runs kept theirs, want some", specs, runSpecs)
	}
	for _, secret := range []string{hostPassword, awsSecret, registrySecret, auth, secretValue, envPassword} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("%q appears in jobrun's output or run records", secret)
		}
	}
}

// unixProxy serves the unix socket at path on a loopback TCP port.
func unixProxy(t *testing.T, path string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go forward(l, "unix", path)
	return l.Addr().String()
}
