package main

// End-to-end tests on the real todobackend: the Django app of
// examples/todobackend and MariaDB 10.11, built from Debian's packages by
// scripts/images.sh, released with examples/stack.yml as the demo does.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"jobrun/jobs"
	"jobrun/logs/cwlogstest"
)

// The releases scripts/images.sh builds: the initial migration, one that
// adds a column, and one whose migration fails at the database halfway.
const (
	firstRelease  = demoVersion
	columnRelease = "5e1f0aa"
	brokenRelease = "9b2c7d1"
)

// removeStackVolumes removes the stack's volumes once no container holds them.
func (s *engineStack) removeStackVolumes() {
	ctx := context.Background()
	f := make(client.Filters).Add("label", "com.docker.stack.namespace="+s.name)
	for i := 0; i < 100; i++ {
		vols, err := s.engine.VolumeList(ctx, client.VolumeListOptions{Filters: f})
		if err != nil {
			return
		}
		left := 0
		for _, v := range vols.Items {
			if _, err := s.engine.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err != nil {
				left++
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// release is jobrun deploy of the example stack at version, with files
// merged after stack.yml.
func (s *engineStack) release(version string, files ...string) result {
	s.t.Helper()
	args := []string{"deploy", "-c", "stack.yml"}
	for _, f := range files {
		args = append(args, "-c", f)
	}
	return s.jobrun(nil, append(args, "--version", version, "--resolve-image", "never")...)
}

// releaseOnePipe is release with jobrun's stdout and stderr on one pipe,
// in result.stdout: the order it wrote them in, which two pipes lose.
func (s *engineStack) releaseOnePipe(version string) result {
	s.t.Helper()
	cmd := s.command(nil, "deploy", "-c", "stack.yml", "--version", version, "--resolve-image", "never")
	var both bytes.Buffer
	cmd.Stdout, cmd.Stderr = &both, &both // one writer: exec gives both the same pipe
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		s.t.Fatalf("run jobrun: %v", err)
	}
	s.t.Logf("jobrun %s → exit %d\noutput:\n%s", strings.Join(cmd.Args[1:], " "), exitCodeOf(err), both.String())
	return result{stdout: both.String(), code: exitCodeOf(err)}
}

// inApp runs a shell script in the migrate job's context (its image,
// network and secret) through jobrun exec, and returns its stdout.
func (s *engineStack) inApp(version, script string) string {
	s.t.Helper()
	r := s.jobrun(nil, "-c", "stack.yml", "exec", "migrate", "--version", version, "--resolve-image", "never", "--", "sh", "-c", script)
	if r.code != 0 {
		s.t.Fatalf("exec %q: exit %d\n%s", script, r.code, r.stderr)
	}
	return r.stdout
}

// sql asks the database itself, with Debian's MariaDB client.
func (s *engineStack) sql(version, query string) string {
	s.t.Helper()
	return strings.TrimSpace(s.inApp(version, `mariadb -h db -u todo -p"$(cat /run/secrets/MYSQL_PASSWORD)" -N -B todobackend -e "`+query+`"`))
}

// todos is GET /todos of the running app, through the stack's network.
func (s *engineStack) todos(version string) []map[string]any {
	s.t.Helper()
	out := s.inApp(version, `python3 -c 'import urllib.request; print(urllib.request.urlopen("http://app:8000/todos", timeout=10).read().decode())'`)
	var items []map[string]any
	if err := json.Unmarshal([]byte(out), &items); err != nil {
		s.t.Fatalf("GET /todos: %v\n%s", err, out)
	}
	return items
}

// addTodo is POST /todos of the running app.
func (s *engineStack) addTodo(version, title string) {
	s.t.Helper()
	s.inApp(version, `python3 -c 'import json, urllib.request as u; u.urlopen(u.Request("http://app:8000/todos", json.dumps({"title": "`+title+`"}).encode(), {"Content-Type": "application/json"}), timeout=10)'`)
}

// TestTodobackendRelease is the book's story on the real pair: a first
// release whose migrate starts before the database takes connections, the
// column release that runs its one migration, a rollback to the first
// (refused without --force: the migration ran since), and a release whose
// migration fails at the database: its traceback shown and kept, the app
// left on the release before, still serving.
func TestTodobackendRelease(t *testing.T) {
	long(t)
	s := exampleStack(t)
	// The database takes connections only some seconds after its task runs:
	// the first attempts of migrate cannot connect.
	slowDB := s.writeStack("slow-db.yml", `version: "3.7"
services:
  db:
    entrypoint: [sh, -c, "sleep 12; exec docker-entrypoint.sh mariadbd"]
`)

	r := s.release(firstRelease, slowDB)
	if r.code != 0 {
		t.Fatalf("first release: exit %d, want 0", r.code)
	}
	// MariaDB 10.11's client says "Can't connect to server on 'db' (115)".
	for _, want := range []string{`django.db.utils.OperationalError: (2002, "Can't connect to server on 'db'`, "Applying todo.0001_initial... OK"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("first release: no %q in the output", want)
		}
	}
	if !strings.Contains(r.stderr, "migrate: attempt 2 of at most 7") {
		t.Errorf("first release: migrate never came to a second attempt")
	}
	if got := s.sql(firstRelease, "select name from django_migrations where app='todo' order by id"); got != "0001_initial" {
		t.Errorf("the database's todo migrations after the first release: %q, want 0001_initial", got)
	}
	s.addTodo(firstRelease, "one")
	s.addTodo(firstRelease, "two")

	r = s.release(columnRelease)
	if r.code != 0 {
		t.Fatalf("column release: exit %d, want 0", r.code)
	}
	if !strings.Contains(r.stdout, "Applying todo.0002_todoitem_priority... OK") || strings.Contains(r.stdout, "Applying todo.0001") {
		t.Errorf("column release: want only todo.0002 applied; stdout:\n%s", r.stdout)
	}
	if got := s.sql(columnRelease, "select count(*) from information_schema.columns where table_schema='todobackend' and column_name='priority'"); got != "1" {
		t.Errorf("column priority in the database: %q, want it there", got)
	}

	// Back to the first release: its migration ran since, so only --force;
	// the old app then serves on the newer schema.
	if r := s.jobrun(nil, "rollback"); r.code != 13 || !strings.Contains(r.stderr, "migrate") {
		t.Errorf("rollback after the column migration: exit %d, want 13 naming migrate", r.code)
	}
	if r := s.jobrun(nil, "rollback", "--force"); r.code != 0 {
		t.Fatalf("rollback --force: exit %d, want 0", r.code)
	}
	if svc, _ := s.stackService("app"); !strings.Contains(svc.Spec.TaskTemplate.ContainerSpec.Image, ":"+firstRelease) {
		t.Errorf("app after the rollback: %s, want %s", svc.Spec.TaskTemplate.ContainerSpec.Image, firstRelease)
	}
	if items := s.todos(firstRelease); len(items) != 2 {
		t.Errorf("GET /todos of the rolled-back app: %d items, want 2", len(items))
	}

	// Its stdout and stderr on one pipe: the order jobrun wrote them in.
	r = s.releaseOnePipe(brokenRelease)
	if r.code != jobs.ExitFailed {
		t.Fatalf("broken release: exit %d, want %d: the failed migrate's", r.code, jobs.ExitFailed)
	}
	tracebackComplete(t, "broken release", r.stdout, true)
	brokenVerdict(t, r.stdout)
	if svc, ok := s.stackService("app"); !ok || !strings.Contains(svc.Spec.TaskTemplate.ContainerSpec.Image, ":"+firstRelease) {
		t.Errorf("app after the broken release: %v, want it still on %s, the release rolled back to", svc.Spec.TaskTemplate.ContainerSpec.Image, firstRelease)
	}
	if items := s.todos(firstRelease); len(items) != 2 {
		t.Errorf("GET /todos after the broken release: %d items, want the 2 added", len(items))
	}
	// MariaDB's DDL is not transactional: the column the failed migration
	// added first stays, and Django did not record the migration.
	if got := s.sql(columnRelease, "select count(*) from information_schema.columns where table_schema='todobackend' and column_name='slug'"); got != "1" {
		t.Errorf("column slug after the failed migration: %q, want it left by the first operation", got)
	}
	if got := s.sql(columnRelease, "select count(*) from django_migrations where name='0003_todoitem_slug'"); got != "0" {
		t.Errorf("django_migrations records the failed migration: %q", got)
	}

	logs := s.jobrun(nil, "logs", "migrate", "--version", brokenRelease)
	tracebackComplete(t, "jobrun logs", logs.stdout+logs.stderr, true)
}

// TestTodobackendJobs: the real app's jobs beside a running database with
// two todos: the next version's plan in a dry run, a dbshell through a pseudo-terminal, a migration stopped
// halfway through a release's migrations (by --timeout and by Ctrl-C), two
// jobruns racing the same migration, and the failing migration's traceback
// through Docker's awslogs driver and CloudWatch Logs. Each case puts the
// database's migrations where it needs them first.
func TestTodobackendJobs(t *testing.T) {
	long(t)
	s := exampleStack(t)
	if r := s.release(firstRelease); r.code != 0 {
		t.Fatalf("first release: exit %d, want 0", r.code)
	}
	s.addTodo(firstRelease, "one") // 9b2c7d1's migration fails on two rows or more
	s.addTodo(firstRelease, "two")

	t.Run("plan of the next version", func(t *testing.T) { testPlanOfNextVersion(t, s) })
	t.Run("dbshell", func(t *testing.T) {
		cmd := s.command(nil, "-c", "stack.yml", "exec", "-it", "migrate", "--version", firstRelease, "--resolve-image", "never", "--", "python3", "manage.py", "dbshell")
		master, screen, shown := startInTerminal(t, cmd, 30, 100)
		waitFor(t, func() bool { return strings.Contains(screen.String(), "MariaDB [todobackend]>") })
		if _, err := master.Write([]byte("select 6*7 as answer;\r")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			return strings.Contains(screen.String(), "| 42 |") || strings.Contains(screen.String(), "|     42 |")
		})
		if _, err := master.Write([]byte("exit\r")); err != nil {
			t.Fatal(err)
		}
		code := exitCodeOf(cmd.Wait())
		<-shown
		if code != 0 || !strings.Contains(screen.String(), "Bye") {
			t.Errorf("dbshell: exit %d, want 0 after Bye; screen:\n%s", code, screen.String())
		}
		s.assertNoService()
	})

	t.Run("stopped mid-migration", func(t *testing.T) { testStoppedMidMigration(t, s) })
	t.Run("two jobruns race", func(t *testing.T) { testMigrationRace(t, s) })
	t.Run("CloudWatch traceback", func(t *testing.T) { testCloudWatchTraceback(t, s) })
}

// migrateTo puts the database's todo migrations at target (forwards or
// backwards), with Django's own migrate in the job's context.
func (s *engineStack) migrateTo(target string) {
	s.t.Helper()
	s.inApp(columnRelease, "python3 manage.py migrate --no-input todo "+target)
}

// todoMigrations are the todo migrations django_migrations records, in order.
func (s *engineStack) todoMigrations() string {
	s.t.Helper()
	return s.sql(columnRelease, "select name from django_migrations where app='todo' order by id")
}

// testStoppedMidMigration: the slow release's migrate (0002, then a
// migration that sleeps) stopped by --timeout and by Ctrl-C while it
// sleeps. jobrun exits with the code the README gives, no container of
// the job runs on the engine, and the database holds what the README says:
// the migrations before the one stopped applied and recorded, that one not.
func testStoppedMidMigration(t *testing.T, s *engineStack) {
	slow := s.writeStack("slow.yml", `version: "3.7"
services:
  migrate:
    environment:
      SLOW_MIGRATION_SECONDS: "600"
`)
	cases := []struct {
		name   string
		args   []string
		signal os.Signal
		code   int
	}{
		// 60 s: 0002 is applied before it runs out, even on a busy engine.
		{"--timeout", []string{"--timeout", "60s"}, nil, jobs.ExitTimedOut},
		{"Ctrl-C", nil, os.Interrupt, jobs.ExitInterrupted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.migrateTo("0001")
			cmd, out, errb := s.start(nil, append([]string{"-c", "stack.yml", "-c", slow, "migrate", "--version", "slow", "--resolve-image", "never"}, c.args...)...)
			if c.signal != nil {
				waitFor(t, func() bool { return strings.Contains(out.String(), "slow migration: sleeping") })
				_ = cmd.Process.Signal(c.signal)
			}
			code := exitCodeOf(cmd.Wait())
			t.Logf("jobrun migrate --version slow %v → exit %d\nstdout:\n%s\nstderr:\n%s", c.args, code, out, errb)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			if !strings.Contains(out.String(), "Applying todo.0002_todoitem_priority... OK") || !strings.Contains(out.String(), "slow migration: sleeping 600s") {
				t.Errorf("the output does not show the migrations up to the one stopped")
			}
			if !strings.Contains(errb.String(), "stopped the job") {
				t.Errorf("stderr does not say the job was stopped")
			}
			if n := runningContainers(t, s.engine, jobs.ServiceName(s.name, "migrate")); n != 0 {
				t.Errorf("%d migrate containers still running after the stop", n)
			}
			s.assertNoService()
			if got := s.todoMigrations(); got != "0001_initial\n0002_todoitem_priority" {
				t.Errorf("todo migrations recorded after the stop: %q, want 0001 and 0002 only", got)
			}
		})
	}
}

// runID is the run a jobrun's progress names first: the one it started,
// followed, or found already succeeded.
var runID = regexp.MustCompile(`\(run ([0-9A-Za-z-]+)`)

// testMigrationRace: two jobrun migrate of the column release at once.
// The README (Runs are idempotent and locked): one starts the run, the
// other follows it or finds it succeeded, both exit 0; the engine starts
// one container of the job, and the database records the migration once.
func testMigrationRace(t *testing.T, s *engineStack) {
	s.migrateTo("0001")
	starts := s.containerStarts(jobs.ServiceName(s.name, "migrate"))
	results := s.jobrunAtOnce(2, nil, "-c", "stack.yml", "migrate", "--version", columnRelease, "--resolve-image", "never")
	if n := starts(); n != 1 {
		t.Errorf("the engine started %d containers of the job, want 1", n)
	}
	var runs []string
	started := 0
	for i, r := range results {
		t.Logf("jobrun %d → exit %d\nstdout:\n%s\nstderr:\n%s", i, r.code, r.stdout, r.stderr)
		if r.code != 0 {
			t.Errorf("jobrun %d: exit %d, want 0", i, r.code)
		}
		if m := runID.FindStringSubmatch(r.stderr); m != nil {
			runs = append(runs, m[1])
		}
		if strings.Contains(r.stderr, "started "+columnRelease) {
			started++
			if n := strings.Count(r.stdout, "Applying todo.0002_todoitem_priority... OK"); n != 1 {
				t.Errorf("jobrun %d started the run and shows todo.0002 applied %d times, want once", i, n)
			}
		}
	}
	if started != 1 {
		t.Errorf("%d jobruns started a run, want 1", started)
	}
	if len(runs) != 2 || runs[0] != runs[1] {
		t.Errorf("the runs the two jobruns name: %v, want the same one", runs)
	}
	if got := s.sql(columnRelease, "select count(*) from django_migrations where name='0002_todoitem_priority'"); got != "1" {
		t.Errorf("django_migrations records todo.0002 %s times, want 1", got)
	}
}

// containerStarts counts the containers of service the engine starts from
// now (its events, filtered by the engine) until the returned func is called.
func (s *engineStack) containerStarts(service string) func() int {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Now()
	died := s.engine.Events(ctx, client.EventsListOptions{
		Since:   fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond()),
		Filters: make(client.Filters).Add("type", "container").Add("event", "start").Add("label", "com.docker.swarm.service.name="+service),
	})
	msgs, errs := died.Messages, died.Err
	n := make(chan int)
	go func() {
		count := 0
		for {
			select {
			case <-msgs:
				count++
			case err := <-errs:
				if ctx.Err() == nil {
					s.t.Errorf("the engine's events: %v", err)
				}
				n <- count
				return
			}
		}
	}()
	return func() int {
		cancel()
		return <-n
	}
}

// testCloudWatchTraceback: the failing release's migrate with the job's
// output shipped by Docker's awslogs driver (examples/awslogs.yml, as a
// team merges it) to the in-process CloudWatch Logs endpoint. The whole
// traceback, in order and after the Applying line the driver sends at the
// job's exit, is what jobrun shows live and what jobrun logs reads back
// from CloudWatch once the service is gone (the record's write order).
func testCloudWatchTraceback(t *testing.T, s *engineStack) {
	srv := cwlogstest.NewServer()
	defer srv.Close()
	awslogs, err := os.ReadFile("examples/awslogs.yml")
	if err != nil {
		t.Fatal(err)
	}
	f := s.writeStack("awslogs.yml", string(awslogs))
	env := append([]string{"AWSLOGS_ENDPOINT=" + srv.URL}, awsEnv...)
	// The stack's own policy: retry-when judges the attempt's output as
	// read from CloudWatch, so the IntegrityError is not retried either.
	starts := s.containerStarts(jobs.ServiceName(s.name, "migrate"))
	r := s.jobrun(env, "-c", "stack.yml", "-c", f, "migrate", "--version", brokenRelease, "--resolve-image", "never")
	if n := starts(); n != 1 {
		t.Errorf("the engine started %d containers of the job, want 1: no retry", n)
	}
	if r.code != jobs.ExitFailed {
		t.Errorf("exit %d, want %d (failed)", r.code, jobs.ExitFailed)
	}
	tracebackComplete(t, "live from CloudWatch", r.stdout+r.stderr, true)
	notRetried(t, "from CloudWatch", r.stderr)
	streams := srv.Streams("docker-swarm-lg")
	if len(streams) != 1 || !strings.Contains(r.stderr, streams[0]) {
		t.Fatalf("streams in the group %v, want the one attempt's, named in the summary", streams)
	}
	var shipped strings.Builder
	for _, e := range srv.Events("docker-swarm-lg", streams[0]) {
		shipped.WriteString(e.Message + "\n")
	}
	tracebackComplete(t, "the stream the driver wrote", shipped.String(), false)

	s.assertNoService()
	before := srv.Calls("GetLogEvents")
	l := s.jobrun(awsEnv, "logs", "migrate", "--version", brokenRelease)
	if l.code != jobs.ExitFailed {
		t.Errorf("jobrun logs: exit %d, want the run's %d", l.code, jobs.ExitFailed)
	}
	if srv.Calls("GetLogEvents") == before {
		t.Errorf("jobrun logs did not read CloudWatch")
	}
	tracebackComplete(t, "jobrun logs from CloudWatch", l.stdout+l.stderr, true)
}

// brokenVerdict checks the broken release's verdict: the migration that
// failed halfway was not retried (its IntegrityError matches none of
// examples/stack.yml's retry-when texts), the verdict names that error,
// and the release warns that the database may have changed under the
// release the services stay on.
func brokenVerdict(t *testing.T, stderr string) {
	t.Helper()
	notRetried(t, "broken release", stderr)
	for _, want := range []string{
		"WARNING: job migrate may have changed the database",
		"the services were left on version " + firstRelease + ", which may not expect those changes",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("broken release: stderr lacks %q; its end:\n%s", want, tail(stderr, 8))
		}
	}
}

// attempt2Began is jobrun's line of a second attempt that started. Swarm
// queues attempt 2 at once and its node prepares it (assigned, preparing,
// ready) while the restart delay runs; it begins only after the delay.
var attempt2Began = regexp.MustCompile(`migrate: attempt 2 of at most 7 on node [^:]+: (starting|running|complete|failed)`)

// notRetried checks that the broken release's migrate ended after its
// first attempt with a verdict naming its IntegrityError: the attempt 2
// Swarm queued must never begin: a second run would fail on the column the
// first added.
func notRetried(t *testing.T, what, stderr string) {
	t.Helper()
	if attempt2Began.MatchString(stderr) || strings.Contains(stderr, "(1060, ") {
		t.Errorf("%s: migrate ran again after it failed at the database", what)
	}
	for _, want := range []string{
		"9b2c7d1 failed in ",
		" after 1 attempt(s): attempt 1 failed, and its output has none of the x-jobrun retry-when texts: no further attempt; attempt 1: django.db.utils.IntegrityError: (1062, \"Duplicate entry '' for key",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("%s: stderr lacks %q; its end:\n%s", what, want, tail(stderr, 8))
		}
	}
}

// tracebackComplete checks that out has the failed migration's whole
// Python traceback, its lines in the order Python wrote them, after
// Django's "Applying" line of the migration that failed. That line has no
// newline until Django prints " OK": the engine stamps it at the job's
// exit, and only jobrun's attach to the container (the node it talks to)
// puts it back in its place, also in what jobrun reads from CloudWatch. In
// the stream the driver wrote (applyingFirst false) it is only looked for
// (README: Known limitations).
func tracebackComplete(t *testing.T, what, out string, applyingFirst bool) {
	t.Helper()
	lines := []string{
		"Applying todo.0003_todoitem_slug...",
		"Traceback (most recent call last):",
		"MySQLdb._exceptions.IntegrityError: (1062, \"Duplicate entry '' for key",
		"The above exception was the direct cause of the following exception:",
		"Traceback (most recent call last):",
		`File "/app/manage.py"`,
		"django.db.utils.IntegrityError: (1062, \"Duplicate entry '' for key",
	}
	ordered := lines
	if !applyingFirst {
		ordered = lines[1:]
	}
	at := 0
	for _, line := range ordered {
		i := strings.Index(out[at:], line)
		if i < 0 {
			t.Errorf("%s: no %q after the line before it; output:\n%s", what, line, out)
			return
		}
		at += i + len(line)
	}
	if !strings.Contains(out, lines[0]) {
		t.Errorf("%s: no %q", what, lines[0])
	}
}
