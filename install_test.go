package main

// Installing and wiring jobrun (issue 12), end to end: the release binaries,
// the image run with the engine's socket mounted, the examples' command
// lines (the Makefile recipe, GitHub Actions, GitLab CI), docker contexts,
// DOCKER_HOST=ssh:// through a real sshd, and shell completion.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"gopkg.in/yaml.v3"
)

// demoVersion is the todobackend image scripts/images.sh builds offline.
const demoVersion = "3db46c4"

func needsIntegration(t *testing.T) {
	t.Helper()
	if os.Getenv("JOBRUN_INTEGRATION") != "1" {
		t.Skip("needs the jobrun binary and the engine: run scripts/test.sh (sets JOBRUN_INTEGRATION=1)")
	}
}

// runCmd runs a command, failing the test if it cannot start, and returns its
// combined output and exit code.
func runCmd(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	return string(out), exitCodeOf(err)
}

// TestRelease: make release gives the four static binaries and a
// SHA256SUMS that verifies; the linux/amd64 one says its version and the
// commit it was built from.
func TestRelease(t *testing.T) {
	long(t)
	needsIntegration(t)
	t.Parallel()
	cmd := exec.Command("make", "release")
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-it")
	if out, code := runCmd(t, cmd); code != 0 {
		t.Fatalf("make release: exit %d\n%s", code, out)
	}
	sums, err := os.ReadFile("dist/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"jobrun-linux-amd64": true, "jobrun-linux-arm64": true, "jobrun-darwin-amd64": true, "jobrun-darwin-arm64": true}
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != len(want) {
		t.Errorf("SHA256SUMS has %d lines, want %d:\n%s", len(lines), len(want), sums)
	}
	for _, line := range lines {
		sum, name, _ := strings.Cut(line, "  ")
		if !want[name] {
			t.Errorf("SHA256SUMS names %q", name)
			continue
		}
		delete(want, name)
		b, err := os.ReadFile(filepath.Join("dist", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 %x, SHA256SUMS says %s", name, got, sum)
		}
		if err := checkBinary(filepath.Join("dist", name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name := range want {
		t.Errorf("%s missing from dist/SHA256SUMS", name)
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return
	}
	out, err := exec.Command("dist/jobrun-linux-amd64", "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Version, Commit string
		Dirty           bool
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	head, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	if v.Version != "v0.0.0-it" || v.Commit != strings.TrimSpace(string(head)) {
		t.Errorf("version %q commit %q, want v0.0.0-it and HEAD %s", v.Version, v.Commit, head)
	}
	text, _ := exec.Command("dist/jobrun-linux-amd64", "version").Output()
	t.Logf("dist/jobrun-linux-amd64 version:\n%s", text)
	if !strings.Contains(string(text), "commit: "+v.Commit) {
		t.Errorf("version text lacks the commit:\n%s", text)
	}
}

// checkBinary says what is wrong with a release binary: its format and
// architecture must match its name, and a linux one must be static.
func checkBinary(path string) error {
	_, platform, _ := strings.Cut(filepath.Base(path), "-")
	goos, goarch, _ := strings.Cut(platform, "-")
	var arch string
	switch goos {
	case "linux":
		f, err := elf.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		arch = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				return fmt.Errorf("dynamically linked (has an interpreter): CGO_ENABLED=0 makes it static")
			}
		}
	case "darwin":
		f, err := macho.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		arch = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
	}
	if arch != goarch {
		return fmt.Errorf("built for %q, want %s", arch, goarch)
	}
	return nil
}

var demoSecret sync.Once

// exampleStack is a stack for the examples' todobackend stack file: its
// directory holds examples/stack.yml, its network <stack>_net exists (as
// after a deploy), the demo's external secret exists (it is the demo's
// too, and stays), and whatever a deploy makes of it (its database volume
// too) is removed at the end.
func exampleStack(t *testing.T) *engineStack {
	t.Helper()
	s := newStack(t)
	demoSecret.Do(func() {
		if _, err := s.engine.SecretInspect(context.Background(), "todobackend_mysql_password", client.SecretInspectOptions{}); err != nil {
			_, _ = s.engine.SecretCreate(context.Background(), client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "todobackend_mysql_password"}, Data: []byte("demo-password")}})
		}
	})
	stack, err := os.ReadFile("examples/stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	s.writeStack("stack.yml", string(stack))
	ctx := context.Background()
	if err := createStackNetwork(ctx, s.engine, s.name, s.name+"_net"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.removeStackVolumes) // runs last: once the services are gone
	t.Cleanup(func() {
		s.removeStackServices()
		f := make(client.Filters).Add("label", "com.docker.stack.namespace="+s.name)
		for i := 0; i < 50; i++ {
			netsResult, _ := s.engine.NetworkList(ctx, client.NetworkListOptions{Filters: f})
			nets := netsResult.Items
			left := 0
			for _, n := range nets {
				if n.Name != s.name+"_default" && removeNetwork(ctx, s.engine, n.ID) != nil {
					left++
				}
			}
			if left == 0 {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	return s
}

// engineSocket is the private engine's socket on this host.
func engineSocket(t *testing.T) string {
	t.Helper()
	sock, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://")
	if !ok {
		t.Skip("the image test mounts the engine's socket: DOCKER_HOST must be unix://")
	}
	return sock
}

// TestImage builds the image on the engine (FROM scratch: no registry, no
// BuildKit) and runs the demo's collectstatic job (it needs no database)
// with it as the README says, the engine's socket and the stack file's
// directory mounted.
func TestImage(t *testing.T) {
	long(t)
	s := exampleStack(t)
	sock := engineSocket(t)
	image := "jobrun-it/" + s.name + ":latest"
	build := exec.Command("make", "image", "IMAGE="+image)
	out, code := runCmd(t, build)
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", image).Run() })
	if code != 0 {
		t.Fatalf("make image: exit %d\n%s", code, out)
	}
	cfg, _ := exec.Command("docker", "image", "inspect", "--format", "{{json .Config.Entrypoint}} {{.Config.WorkingDir}}", image).Output()
	if got := strings.TrimSpace(string(cfg)); got != `["/jobrun"] /stack` {
		t.Errorf("image config %q, want entrypoint /jobrun and workdir /stack", got)
	}
	// --network none: the engine runs with --bridge=none, and a unix socket
	// needs no network.
	cmd := exec.Command("docker", "run", "--rm", "--network", "none",
		"-v", sock+":/var/run/docker.sock", "-v", s.dir+":/stack", "-w", "/stack",
		image, "--stack", s.name, "collectstatic", "--version", demoVersion, "--resolve-image", "never")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("docker run %s → %v\nstdout:\n%s\nstderr:\n%s", image, err, stdout.String(), stderr.String())
	if exitCodeOf(err) != 0 {
		t.Fatalf("exit %d, want 0", exitCodeOf(err))
	}
	if !strings.Contains(stdout.String(), "static files copied to '/public'") || !strings.Contains(stderr.String(), demoVersion+" succeeded") {
		t.Errorf("the job's output or verdict is missing")
	}
}

// TestExamplesMakefile runs the Makefile recipe as a team's checkout has it:
// APP_VERSION from git, jobrun deploy of the stack file beside it.
func TestExamplesMakefile(t *testing.T) {
	long(t)
	s := exampleStack(t)
	recipe, err := os.ReadFile("examples/Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "Makefile"), recipe, 0o644); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=it", "-c", "user.email=it@example.com"}, args...)...)
		cmd.Dir = s.dir
		out, code := runCmd(t, cmd)
		if code != 0 {
			t.Fatalf("git %v: %s", args, out)
		}
		return strings.TrimSpace(out)
	}
	git("init", "-q")
	git("add", "Makefile", "stack.yml")
	git("commit", "-q", "-m", "release")
	version := git("rev-parse", "--short", "HEAD")
	// The team's build pushed the image for this commit: tag the demo's.
	demo := "385605022855.dkr.ecr.us-east-1.amazonaws.com/docker-in-aws/todobackend"
	if _, err := s.engine.ImageTag(context.Background(), client.ImageTagOptions{Source: demo + ":" + demoVersion, Target: demo + ":" + version}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", demo+":"+version).Run() })

	makeIt := func(target string) string {
		cmd := exec.Command("make", "-C", s.dir, target, "STACK="+s.name, "JOBRUN="+jobrunBin, "JOBRUN_FLAGS=--resolve-image never")
		for _, kv := range os.Environ() { // APP_VERSION from git, as in a fresh shell
			if !strings.HasPrefix(kv, "APP_VERSION=") && !strings.HasPrefix(kv, "JOBRUN_VERSION=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, code := runCmd(t, cmd)
		t.Logf("make %s → exit %d\n%s", target, code, out)
		if code != 0 {
			t.Fatalf("make %s: exit %d", target, code)
		}
		return out
	}
	if out := makeIt("deploy"); !strings.Contains(out, version+" released") {
		t.Errorf("make deploy did not release %s", version)
	}
	if _, ok := s.stackService("app"); !ok {
		t.Errorf("make deploy left no service %s_app", s.name)
	}
	if out := makeIt("migrate"); !strings.Contains(out, version) {
		t.Errorf("make migrate did not name version %s", version)
	}
}

// ciCommands are the command lines of a CI file: GitHub Actions steps'
// run: blocks, or GitLab jobs' before_script, script and after_script.
func ciCommands(t *testing.T, path string) (lines []string, env map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	env = map[string]string{}
	addEnv := func(m any) {
		for k, v := range asMap(m) {
			env[k] = fmt.Sprint(v)
		}
	}
	addScript := func(s any) {
		switch s := s.(type) {
		case string: // a run: block, lines joined where they end in \
			lines = append(lines, strings.Split(strings.ReplaceAll(strings.TrimSpace(s), "\\\n", ""), "\n")...)
		case []any:
			for _, l := range s {
				lines = append(lines, fmt.Sprint(l))
			}
		}
	}
	if jobs, ok := doc["jobs"]; ok { // GitHub Actions
		for _, job := range asMap(jobs) {
			addEnv(asMap(job)["env"])
			steps, _ := asMap(job)["steps"].([]any)
			for _, step := range steps {
				addScript(asMap(step)["run"])
			}
		}
		return lines, env
	}
	for name, job := range doc { // GitLab CI: every mapping with a script is a job
		if _, ok := asMap(job)["script"]; !ok || strings.HasPrefix(name, ".") {
			continue
		}
		addEnv(asMap(job)["variables"])
		for _, key := range []string{"before_script", "script", "after_script"} {
			addScript(asMap(job)[key])
		}
	}
	return lines, env
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// TestExamplesCI parses the GitHub Actions and GitLab CI examples and runs
// their jobrun command lines as the runner would, against a "remote" swarm
// over ssh: the engine behind scripts/sshd.sh.
func TestExamplesCI(t *testing.T) {
	long(t)
	s := exampleStack(t)
	sshHost, sshPath := sshd(t)
	for _, file := range []string{"examples/ci/github-actions.yml", "examples/ci/gitlab-ci.yml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			lines, env := ciCommands(t, file)
			if !strings.HasPrefix(env["DOCKER_HOST"], "ssh://") {
				t.Errorf("DOCKER_HOST %q: the example reaches the swarm over ssh", env["DOCKER_HOST"])
			}
			var ran, deploys int
			for _, line := range lines {
				line = strings.TrimSpace(line)
				if !strings.HasPrefix(line, "jobrun ") {
					continue
				}
				if strings.Contains(line, "${{") {
					t.Errorf("%q: a jobrun line takes its values from the environment, not ${{ }}", line)
					continue
				}
				// The runner's environment, the CI file's own variables, and
				// what stands in for the team's: the ssh manager, this
				// test's stack, the offline image's version.
				cmd := exec.Command("bash", "-ec", line)
				cmd.Dir = s.dir
				cmd.Env = os.Environ()
				for k, v := range env {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				cmd.Env = append(cmd.Env, "DOCKER_HOST="+sshHost, "STACK="+s.name, "APP_VERSION="+demoVersion,
					"JOBRUN_RESOLVE_IMAGE=never", "PATH="+sshPath+":"+filepath.Dir(jobrunBin)+":"+os.Getenv("PATH"))
				out, code := runCmd(t, cmd)
				t.Logf("%s → exit %d\n%s", line, code, out)
				if code != 0 {
					t.Errorf("%s: exit %d", line, code)
				}
				ran++
				if strings.HasPrefix(line, "jobrun deploy ") {
					deploys++
				}
			}
			if ran == 0 || deploys == 0 {
				t.Errorf("%s: ran %d jobrun lines (%d deploys), want a release", file, ran, deploys)
			}
		})
	}
}

var sshdUp struct {
	sync.Once
	host, path string
	err        error
}

// sshd starts scripts/sshd.sh's sshd (idempotent; scripts/test.sh stops it)
// and returns the DOCKER_HOST that reaches the engine through it and the
// directory of its ssh wrapper, to put first on PATH.
func sshd(t *testing.T) (host, path string) {
	t.Helper()
	sshdUp.Do(func() {
		if out, err := exec.Command("bash", "scripts/sshd.sh", "up").CombinedOutput(); err != nil {
			sshdUp.err = fmt.Errorf("scripts/sshd.sh up: %v\n%s", err, out)
			return
		}
		out, err := exec.Command("bash", "scripts/sshd.sh", "env").Output()
		if err != nil {
			sshdUp.err = err
			return
		}
		for _, kv := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(string(out)), "export ")) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "JOBRUN_SSH_HOST":
				sshdUp.host = v
			case "JOBRUN_SSH_PATH":
				sshdUp.path = v
			}
		}
	})
	if sshdUp.err != nil || sshdUp.host == "" {
		t.Fatalf("sshd: %v (env: %q %q)", sshdUp.err, sshdUp.host, sshdUp.path)
	}
	return sshdUp.host, sshdUp.path
}

// sshStarts counts the ssh processes the wrapper logged.
func sshStarts(t *testing.T, log string) int {
	t.Helper()
	f, err := os.Open(log)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	return n
}

// TestSSH runs a job to its verdict over DOCKER_HOST=ssh:// (docker/cli's
// connection helper: ssh ... docker system dial-stdio), and through a docker
// context whose endpoint is ssh://, with few connections: each is an ssh
// process and a login.
func TestSSH(t *testing.T) {
	long(t)
	s := newStack(t)
	host, path := sshd(t)
	f := s.writeStack("stack.yml", countingJobs)
	log := filepath.Join(t.TempDir(), "ssh.log")
	env := []string{"DOCKER_HOST=" + host, "PATH=" + path + ":" + os.Getenv("PATH"), "JOBRUN_SSH_LOG=" + log}
	r := s.jobrun(env, "-c", f, "migrate", "--version", "v1")
	if r.code != 0 || r.stdout != "migrate attempt 1\n" || !strings.Contains(r.stderr, "jobrun: migrate: engine "+host+" (docker context default)") {
		t.Fatalf("over ssh: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// One connection for requests, one for the die events, one for the
	// attempt's followed output; a fourth when two requests overlap.
	n := sshStarts(t, log)
	t.Logf("ssh processes for one run of one attempt: %d", n)
	if n == 0 || n > 4 {
		t.Errorf("%d ssh processes for one run, want 1 to 4", n)
	}
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	r = s.jobrun(env, "history")
	if r.code != 0 || !strings.Contains(r.stdout, "migrate") || sshStarts(t, log) != 1 {
		t.Errorf("history over ssh: exit %d, %d ssh processes (want 1), stdout %q", r.code, sshStarts(t, log), r.stdout)
	}

	// The same engine as a docker context: docker context create ... ssh://
	cfg := t.TempDir()
	docker(t, cfg, "context", "create", "it-ssh", "--docker", "host="+host)
	r = s.jobrun([]string{"DOCKER_HOST=", "DOCKER_CONFIG=" + cfg, "DOCKER_CONTEXT=it-ssh", "PATH=" + path + ":" + os.Getenv("PATH")}, "-c", f, "collectstatic", "--version", "v1")
	if r.code != 0 || r.stdout != "collected static files\n" {
		t.Errorf("through context it-ssh: exit %d, stdout %q", r.code, r.stdout)
	}
}

// docker runs the docker CLI with its config in cfg.
func docker(t *testing.T, cfg string, args ...string) {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfg)
	if out, code := runCmd(t, cmd); code != 0 {
		t.Fatalf("docker %v: exit %d\n%s", args, code, out)
	}
}

// TestContext: jobrun picks the engine as the docker CLI does, from
// contexts made and chosen with the docker CLI itself: the current context
// (docker context use), DOCKER_CONTEXT over it, DOCKER_HOST over both,
// --context over all; the run's first line names the engine.
func TestContext(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	cfg := t.TempDir()
	engine := os.Getenv("DOCKER_HOST")
	nowhere := "unix:///run/jobrun-nowhere/docker.sock"
	docker(t, cfg, "context", "create", "it-engine", "--docker", "host="+engine)
	docker(t, cfg, "context", "create", "it-nowhere", "--docker", "host="+nowhere)
	docker(t, cfg, "context", "use", "it-engine")
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		want string // in stderr
	}{
		{"the current context", nil, nil, 0, "jobrun: collectstatic: engine " + engine + " (docker context it-engine): swarm manager "},
		{"DOCKER_CONTEXT over the current context", []string{"DOCKER_CONTEXT=it-nowhere"}, nil, 7, nowhere + " (docker context it-nowhere)"},
		{"DOCKER_HOST over DOCKER_CONTEXT", []string{"DOCKER_CONTEXT=it-nowhere", "DOCKER_HOST=" + engine}, nil, 0, "engine " + engine + " (docker context default)"},
		{"DOCKER_HOST over the current context", []string{"DOCKER_HOST=" + nowhere}, nil, 7, "at " + nowhere + " within"},
		{"--context over DOCKER_HOST", []string{"DOCKER_HOST=" + nowhere, "DOCKER_CONTEXT=it-nowhere"}, []string{"--context", "it-engine"}, 0, "(docker context it-engine)"},
		{"JOBRUN_CONTEXT is --context", []string{"JOBRUN_CONTEXT=it-nowhere"}, nil, 7, "(docker context it-nowhere)"},
		{"a context that does not exist", []string{"DOCKER_CONTEXT=it-nosuch"}, nil, 2, `docker context "it-nosuch" (DOCKER_CONTEXT) does not exist`},
		{"--context that does not exist", nil, []string{"--context", "it-nosuch"}, 2, `docker context "it-nosuch" (--context) does not exist`},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := append([]string{"DOCKER_HOST=", "DOCKER_CONTEXT=", "JOBRUN_CONTEXT=", "DOCKER_CONFIG=" + cfg}, c.env...)
			r := s.jobrun(env, append([]string{"-c", f, "collectstatic", "--version", "v1", "--force", "--connect-timeout", "2s"}, c.args...)...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, want %d with %q in stderr", r.code, c.code, c.want)
			}
			if c.code == 0 && r.stdout != "collected static files\n" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
}

// TestInstallCompletion: `jobrun completion bash`, loaded in bash, completes
// a job name of the stack file in the current directory.
func TestInstallCompletion(t *testing.T) {
	needsIntegration(t)
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stack.yml"), []byte("version: \"3.7\"\nservices:\n  migrate:\n    image: app\n  collectstatic:\n    image: app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", `source <(jobrun completion bash) && COMP_WORDS=(jobrun --stack todo mi) COMP_CWORD=3 && _jobrun && echo "${COMPREPLY[*]}"`)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(jobrunBin)+":"+os.Getenv("PATH"))
	out, code := runCmd(t, cmd)
	if code != 0 || strings.TrimSpace(out) != "migrate" {
		t.Errorf("jobrun --stack todo mi<TAB>: exit %d, %q, want migrate", code, out)
	}
	if out, _ := exec.Command(jobrunBin, "completion", "zsh").Output(); !strings.Contains(string(out), "compdef _jobrun jobrun") {
		t.Errorf("completion zsh: no compdef in\n%s", out)
	}
}
