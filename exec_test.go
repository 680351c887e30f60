package main

// End-to-end tests of jobrun exec against the real engine: the command runs
// in the job's own context, its exit code comes back, and nothing of it is
// left behind.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"jobrun/jobs"
)

// execJobs: migrate has an env var and a file secret of its own, and waits
// for /state/go when GATED is set (a migration in progress).
const execJobs = `version: "3.7"
secrets:
  pw:
    file: STATE/pw.txt
services:
  migrate:
    image: IMAGE
    command: ["sh", "-c", "echo migrating; while [ -n \"$$GATED\" ] && [ ! -e /state/go ]; do sleep 0.2; done; echo migrated"]
    environment:
      GREETING: hello-from-the-job
      GATED: "${GATED:-}"
    secrets: [pw]
    volumes: [{type: bind, source: STATE, target: /state}]
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 1}
  missing:
    image: jobrun-test/does-not-exist:1
`

// newExecStack is a stack with execJobs, its secret's file, and a db
// service on its overlay network that answers pong over HTTP on 8080.
func newExecStack(t *testing.T) (*engineStack, string) {
	t.Helper()
	s := newStack(t)
	if err := os.WriteFile(filepath.Join(s.dir, "pw.txt"), []byte("s3cret-from-the-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.engine.SecretRemove(context.Background(), s.name+"_pw", client.SecretRemoveOptions{}) })
	return s, s.writeStack("stack.yml", execJobs)
}

// startDB deploys the stack's db as docker stack deploy would: on the
// stack's network, by the name db (dnsrr: the sandbox may lack IPVS).
func (s *engineStack) startDB() {
	s.t.Helper()
	one := uint64(1)
	name := s.name + "_db"
	_, err := s.engine.ServiceCreate(context.Background(), client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name, Labels: map[string]string{jobs.LabelStackNamespace: s.name}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: testImage(), Command: []string{"sh", "-c", "mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 8080 -h /www"}},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: s.name + "_default", Aliases: []string{"db"}}},
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _, _ = s.engine.ServiceRemove(context.Background(), name, client.ServiceRemoveOptions{}) })
}

func TestExecRunsInTheJobsContext(t *testing.T) {
	s, f := newExecStack(t)
	s.startDB()
	// The db may take a moment to answer: the exec retries, as a person would.
	script := `echo "env $GREETING"; echo "secret $(cat /run/secrets/pw)"; ` +
		`for i in $(seq 50); do wget -qO- http://db:8080/ 2>/dev/null && exit 0; sleep 0.2; done; exit 9`
	r := s.jobrun(nil, "-c", f, "exec", "migrate", "--version", "v1", "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	if want := "env hello-from-the-job\nsecret s3cret-from-the-secret\npong\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q: the job's env, its secret, and db over the stack's network", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "exited 0") {
		t.Errorf("stderr does not say how it ended")
	}
	s.assertNoService()

	// Recorded as an exec, with its command and who ran it, never the
	// job's environment; shown by history and logs --exec; and it is not
	// a run: the version still runs.
	h := s.jobrun(nil, "history", "migrate", "-o", "json")
	var doc struct{ Runs []jobs.Record }
	if err := json.Unmarshal([]byte(h.stdout), &doc); err != nil || len(doc.Runs) != 1 || doc.Runs[0].Exec == nil {
		t.Fatalf("history: want one exec record: %v %s", err, h.stdout)
	}
	if got := doc.Runs[0].Exec.Command; len(got) != 3 || got[2] != script {
		t.Errorf("recorded command %q", got)
	}
	if strings.Contains(h.stdout, "hello-from-the-job") || strings.Contains(h.stdout, "s3cret") {
		t.Errorf("the record holds an env or secret value: %s", h.stdout)
	}
	if l := s.jobrun(nil, "logs", "migrate", "--exec"); !strings.Contains(l.stdout, "pong") {
		t.Errorf("logs --exec: stdout %q", l.stdout)
	}
	if run := s.jobrun(nil, "-c", f, "migrate", "--version", "v1"); run.code != 0 || strings.Contains(run.stderr, "already succeeded") || !strings.Contains(run.stdout, "migrated") {
		t.Errorf("the run after a successful exec: exit %d; it must run", run.code)
	}
}

func TestExecExitCodes(t *testing.T) {
	long(t)
	s, f := newExecStack(t)
	tests := []struct {
		name string
		args []string
		code int
		want string // on stderr
	}{
		{"the command succeeds", []string{"migrate", "--", "true"}, 0, "exited 0"},
		{"the command says no", []string{"migrate", "--", "sh", "-c", "echo no >&2; exit 3"}, 3, "exited 3"},
		{"cannot be invoked", []string{"migrate", "--", "/etc/passwd"}, 126, "permission denied"},
		{"not found", []string{"migrate", "--", "no-such-command"}, 127, "executable file not found"},
		{"no such image", []string{"missing", "--", "true"}, 125, "No such image"},
		{"--entrypoint", []string{"migrate", "--entrypoint", "sh", "--", "-c", "exit 5"}, 5, "exited 5"},
		{"--timeout stops it", []string{"migrate", "--timeout", "2s", "--", "sleep", "60"}, 124, "--timeout 2s"},
		{"a secret in the command is not printed", []string{"migrate", "--", "sh", "-c", "exit 0", "--password=hunter22"}, 0, "--password=***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.jobrun(nil, append([]string{"-c", f, "exec", "--version", "v1"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want %d and %q on stderr", r.code, tt.code, tt.want)
			}
			if strings.Contains(r.stderr, "hunter22") {
				t.Errorf("the password was printed")
			}
		})
	}
	s.assertNoService()
}

// Every mistake on jobrun exec's command line: one line naming the fix,
// exit 2, nothing started.
func TestExecBadInput(t *testing.T) {
	s, f := newExecStack(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no --", []string{"migrate", "python3", "manage.py", "showmigrations", "--plan"}, "put the command after --: jobrun exec migrate -- CMD"},
		{"no command", []string{"migrate", "--"}, "no command after --"},
		{"no job", nil, "name a job and the command"},
		{"unknown job", []string{"migrat", "--", "true"}, `job "migrat" is not a service in the stack file; it has: migrate, missing`},
		{"-t without a terminal", []string{"-t", "migrate", "--", "sh"}, "-t needs a terminal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.jobrun(nil, append([]string{"-c", f, "exec", "--version", "v1"}, tt.args...)...)
			if r.code != jobs.ExitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q: want %d and one line with %q", r.code, r.stderr, jobs.ExitUsage, tt.want)
			}
		})
	}
	if svcs := s.jobServices(); len(svcs) > 0 {
		t.Errorf("bad input started %s", svcs[0].Spec.Name)
	}
}

func TestExecBesideARunningMigration(t *testing.T) {
	s, f := newExecStack(t)
	run, runOut, _ := s.start([]string{"GATED=1"}, "-c", f, "migrate", "--version", "v1")
	waitFor(t, func() bool { return strings.Contains(runOut.String(), "migrating") })
	r := s.jobrun(nil, "-c", f, "exec", "migrate", "--version", "v1", "--", "echo", "beside")
	if r.code != 0 || r.stdout != "beside\n" || !strings.Contains(r.stderr, "WARNING: a run of migrate is in progress (version v1") {
		t.Errorf("exec: exit %d, stdout %q: want 0, its output and a WARNING", r.code, r.stdout)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := exitCodeOf(run.Wait()); code != 0 || !strings.Contains(runOut.String(), "migrated") {
		t.Errorf("the migration beside the exec: exit %d, want 0", code)
	}
	s.assertNoService()
}

func TestExecInterruptLeavesNothing(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { testExecSignal(t, sig) })
	}
}

func testExecSignal(t *testing.T, sig syscall.Signal) {
	s, f := newExecStack(t)
	cmd, out, errb := s.start(nil, "-c", f, "exec", "migrate", "--version", "v1", "--", "sh", "-c", "echo started; exec sleep 300")
	waitFor(t, func() bool { return strings.Contains(out.String(), "started") })
	s.interrupt(cmd, sig, errb, "stopped the job: Swarm reports no attempt of it running on any node")
	// Swarm reported the task ended before jobrun removed the service:
	// no container of it runs.
	list, err := s.engine.ContainerList(context.Background(), client.ContainerListOptions{Filters: make(client.Filters).Add("label", jobs.LabelExec)})
	running := list.Items
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range running {
		if strings.Contains(strings.Join(c.Names, ","), s.name) {
			t.Errorf("container %s of the exec still runs", c.ID)
		}
	}
}

// interrupt sends jobrun sig and checks that it exits 130, says stopped
// (words on stderr), and leaves no service of the stack.
func (s *engineStack) interrupt(cmd *exec.Cmd, sig syscall.Signal, errb *syncBuffer, stopped string) {
	s.t.Helper()
	_ = cmd.Process.Signal(sig)
	if code := exitCodeOf(cmd.Wait()); code != jobs.ExitInterrupted {
		s.t.Errorf("exit %d, want %d", code, jobs.ExitInterrupted)
	}
	if !strings.Contains(errb.String(), stopped) {
		s.t.Errorf("stderr does not say %q:\n%s", stopped, errb.String())
	}
	s.assertNoService()
}

// An interactive exec through a pseudo-terminal: what is typed reaches the
// shell, its output comes back, the window's size and its changes are the
// container's, Ctrl-C goes to the command and not to jobrun, and the
// shell's exit code is jobrun's.
func TestExecInteractiveTerminal(t *testing.T) {
	s, f := newExecStack(t)
	cmd := s.command(nil, "-c", f, "exec", "-it", "migrate", "--version", "v1", "--", "sh")
	master, screen, shown := startInTerminal(t, cmd, 30, 100)
	typeIn := func(keys string) {
		if _, err := master.Write([]byte(keys)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return strings.Contains(screen.String(), "/ # ") })
	typeIn("echo typed-$((40+2))\r")
	waitFor(t, func() bool { return strings.Contains(screen.String(), "typed-42") })
	// The size lands once the container runs: ask until it shows.
	waitFor(t, func() bool { typeIn("stty size\r"); return strings.Contains(screen.String(), "30 100") })
	setSize(t, master, 50, 120) // the kernel sends jobrun SIGWINCH
	waitFor(t, func() bool { typeIn("stty size\r"); return strings.Contains(screen.String(), "50 120") })
	typeIn("sh -c 'echo sleeping-$((1+1)); exec sleep 300'\r")
	waitFor(t, func() bool { return strings.Contains(screen.String(), "sleeping-2") })
	typeIn("\x03")
	typeIn("echo after-sleep-$?\r")
	waitFor(t, func() bool { return strings.Contains(screen.String(), "after-sleep-130") })
	typeIn("exit 4\r")
	code := exitCodeOf(cmd.Wait())
	<-shown
	if code != 4 {
		t.Errorf("exit %d, want the shell's 4; screen:\n%s", code, screen.String())
	}
	if !strings.Contains(screen.String(), "exited 4") {
		t.Errorf("jobrun's last line missing; screen:\n%s", screen.String())
	}
	s.assertNoService()
}

// -i alone pipes stdin to the command. Swarm gives a task no StdinOnce, so
// the input ends with the command's own exit.
func TestExecPipesStdin(t *testing.T) {
	s, f := newExecStack(t)
	cmd := s.command(nil, "-c", f, "exec", "-i", "migrate", "--version", "v1", "--", "sh")
	cmd.Stdin = strings.NewReader("echo piped-$GREETING\nexit 6\n")
	r := s.jobrunCmd(cmd)
	if r.code != 6 || r.stdout != "piped-hello-from-the-job\n" {
		t.Errorf("exit %d, stdout %q: want 6 and the piped script's output", r.code, r.stdout)
	}
	s.assertNoService()
}

// startInTerminal starts cmd as the session leader of a new pseudo-terminal
// of rows x cols; the screen collects what it shows, master types into it,
// and shown is closed once everything cmd wrote was read (after it ended).
func startInTerminal(t *testing.T, cmd *exec.Cmd, rows, cols uint16) (master *os.File, screen *syncBuffer, shown <-chan struct{}) {
	t.Helper()
	master, tty := openPTY(t)
	setSize(t, master, rows, cols)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	screen = &syncBuffer{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(screen, master) // EIO once no process holds the terminal
	}()
	return master, screen, copied
}

// openPTY opens a pseudo-terminal pair, as creack/pty does, with
// golang.org/x/sys alone.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return master, tty
}

func setSize(t *testing.T, master *os.File, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
}
