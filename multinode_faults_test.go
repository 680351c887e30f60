package main

// Faults of a swarm with three managers, against the engine log source
// (--logs docker): the leader killed under a running job, the job's node
// killed and restarted, quorum lost for 40 s. scripts/multinode.sh promote
// makes worker1 and worker2 managers for the test, and demote puts the swarm
// back as the other multi-node tests expect it. The job numbers its lines and
// names its container in each, so that a line printed twice, one missing or
// one out of order shows, container by container (Swarm may run a job twice:
// moby/moby#53632, and jobrun then says so).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// mnCounterJob prints "<container> out N" on stdout every 0.3 s for N = 1 to
// LINES, and "<container> err N" on stderr every fourth line. Without a
// hostname of its own a container's is its ID's first 12 characters.
const mnCounterJob = `version: "3.7"
services:
  counter:
    image: IMAGE
    command: ["sh", "-c", "h=$$(hostname); i=0; while [ $$i -lt LINES ]; do i=$$((i+1)); echo \"$$h out $$i\"; if [ $$((i % 4)) -eq 0 ]; then echo \"$$h err $$i\" >&2; fi; sleep 0.3; done"]
    deploy:
      placement: {constraints: ["node.hostname == NODE"]}
      restart_policy: {condition: none}
`

const mnErrEvery = 4

func TestMultiNodeFaults(t *testing.T) {
	mn := multiNodeSwarmAlone(t)
	t.Cleanup(func() {
		began := time.Now()
		out, err := mnScript(4*time.Minute, "demote")
		if err != nil {
			// The tests after this one need the swarm as up makes it: a new
			// one, if this one cannot be put back.
			t.Errorf("put the swarm back: %v", err)
			if _, err = mnScript(time.Minute, "down"); err == nil {
				out, err = mnScript(3*time.Minute, "up")
			}
		}
		if err != nil {
			t.Errorf("a new swarm: %v", err)
			return
		}
		t.Logf("%s, in %s", out, time.Since(began).Round(100*time.Millisecond))
	})
	began := time.Now()
	out, err := mnScript(3*time.Minute, "promote")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s, in %s", out, time.Since(began).Round(100*time.Millisecond))

	t.Run("leader killed", func(t *testing.T) { mnLeaderKilled(t, mn) })
	t.Run("the job's node killed and restarted", func(t *testing.T) { mnJobNodeKilled(t, mn) })
	t.Run("quorum lost", func(t *testing.T) { mnQuorumLost(t, mn) })
}

// The leader's dockerd is killed while the job runs on another manager and
// jobrun talks to the third: the engine ends jobrun's live output stream,
// and jobrun reads it again once a new leader answers. Every line comes
// once, in order, none missing; the gaps are logged.
func mnLeaderKilled(t *testing.T, mn *multiNode) {
	c := mn.faultCase(t)
	leader, talk, run, s := c.leader, c.others[0], c.others[1], c.s
	// 130 lines, about 39 s: past a new leader (10 to 20 s) and the engine
	// sending the task's log again (10 to 15 s more), some lines come live.
	const lines = 130
	r, out, errs := c.start(talk, run, lines, 5)

	killed := time.Now()
	mnFault(t, "kill", leader)
	newLeader, elected := mn.awaitLeader(t, c.engines[talk.hostname], leader, 90*time.Second)
	t.Logf("killed the leader %s's dockerd; %s sees %s lead %s later", leader.hostname, talk.hostname, newLeader.hostname, elected.Sub(killed).Round(100*time.Millisecond))
	code := r.wait(t, 2*time.Minute)
	mnUp(t) // the killed manager back: the record is read through it

	rec := mn.recordOf(s, "counter")
	main := mnMainContainer(t, rec)
	got := mnJobLines(out.all(), "out")[main]
	gap, after := mnLongestGap(got, killed)
	resumed := "no line came after the kill"
	if first, ok := mnFirstAfter(got, killed); ok {
		resumed = fmt.Sprintf("the first line after the kill came %s after the kill, %s after the new leader; %s", first.Sub(killed).Round(10*time.Millisecond), first.Sub(elected).Round(10*time.Millisecond), mnHowLinesCame(got, first))
		if d := first.Sub(elected); d > 30*time.Second {
			t.Errorf("output resumed %s after a new leader was in place, want within 30s", d.Round(100*time.Millisecond))
		}
	} else {
		t.Errorf("no line of the job came after the kill")
	}
	t.Logf("%s; longest gap between lines at jobrun's stdout from the kill on: %s (after %q)", resumed, gap.Round(10*time.Millisecond), after)
	mnLogNotices(t, errs.all(), killed)

	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	mnCheckOutput(t, out.all(), errs.all(), main, lines)
	mnCheckNotices(t, errs.all(), 1)
	mnCheckRecord(t, s, mn, main, lines, code)
}

// The dockerd of the manager that runs the job is killed, and restarted once
// jobrun has said the node is down (Swarm takes some 15 to 25 s to call it
// down; before that nothing knows it went away). The engine sends the
// attempt's log again from its start when the node is back: jobrun prints
// each line once, and says WARNING; lines the job printed meanwhile may be
// missing.
func mnJobNodeKilled(t *testing.T, mn *multiNode) {
	c := mn.faultCase(t)
	leader, run, s := c.leader, c.others[0], c.s
	const lines = 100
	r, out, errs := c.start(leader, run, lines, 10)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	raw := mnFollowEngine(ctx, t, c.engines[leader.hostname], jobs.ServiceName(s.name, "counter"))

	killed := time.Now()
	mnFault(t, "kill", run)
	mnWaitUntil(t, 90*time.Second, "jobrun to say the node is down", func() bool { return errs.has(" is down") })
	down := time.Since(killed)
	if d := 15*time.Second - down; d > 0 {
		time.Sleep(d)
	}
	restart := time.Now()
	mnUp(t)
	t.Logf("killed %s's dockerd; jobrun said it was down %s later; restarted it %s after the kill, back and Ready in %s",
		run.hostname, down.Round(100*time.Millisecond), restart.Sub(killed).Round(100*time.Millisecond), time.Since(restart).Round(100*time.Millisecond))
	code := r.wait(t, 2*time.Minute)
	stop()
	sent, twice := raw.result()
	t.Logf("the engine's own follow stream of the task (through %s) sent %d lines, %d of them again", leader.hostname, sent, twice)

	stderr := errs.text()
	if line := mnLineWith(stderr, " is down"); !mnNamesNode(line, run) {
		t.Errorf("no progress line says node %s (%.12s) is down", run.hostname, run.id)
	}
	if line := mnLineWith(stderr, "went down while it ran"); !strings.Contains(line, "WARNING") || !strings.Contains(line, run.hostname) {
		t.Errorf("the summary does not say WARNING: node %s went down while it ran", run.hostname)
	}
	rec := mn.recordOf(s, "counter")
	if !strings.Contains(rec.LogNote, "went down") {
		t.Errorf("record: log note %q does not say the node went down", rec.LogNote)
	}
	// The restarted dockerd may have ended the job's container (SIGKILL,
	// exit 137): the verdict follows the task, and only that failure is one.
	main := mnMainContainer(t, rec)
	switch {
	case rec.Outcome == jobs.Succeeded && code == 0:
	case rec.Outcome == jobs.Failed && code == jobs.ExitFailed && mnExitOf(rec, main) == 137:
	default:
		t.Errorf("exit %d with outcome %s (%s); want 0 for succeeded, or %d for failed with exit code 137", code, rec.Outcome, rec.Reason, jobs.ExitFailed)
	}
	got := mnJobLines(out.all(), "out")[main]
	t.Logf("outcome %s (%s); stdout has %d of the %d lines the job could print, the last %s", rec.Outcome, rec.Reason, len(got), lines, mnLastNumber(got))
	mnCheckOutput(t, out.all(), errs.all(), main, 0)
	// What the engine lost while the node was down no reader can show; what
	// it sent, jobrun must have printed.
	if missing := raw.notIn(append(out.all(), errs.all()...)); len(missing) > 0 {
		t.Errorf("jobrun did not print %d lines the engine sent: %s", len(missing), strings.Join(missing, "; "))
	}
	mnCheckNotices(t, errs.all(), 1)
	mnCheckRecord(t, s, mn, main, 0, code)
}

// Two managers of three stop for 40 s: the leader's dockerd is killed (its
// jobs orchestrator with it: one left running in a manager that led would
// start the job again, moby/moby#53632) and the job's node's dockerd is
// stopped (SIGSTOP: the job runs on, its output waits in the engine's pipe).
// The manager jobrun talks to stays up without a leader. jobrun says once
// that the engine is not answering, once that it answers again and after how
// long, and ends with the job's verdict and all its output.
func mnQuorumLost(t *testing.T, mn *multiNode) {
	c := mn.faultCase(t)
	leader, talk, run, s := c.leader, c.others[0], c.others[1], c.s
	const lines = 100
	r, out, errs := c.start(talk, run, lines, 10)

	lost := time.Now()
	mnFault(t, "kill", leader)
	mnFault(t, "freeze", run)
	time.Sleep(40 * time.Second)
	restore := time.Now()
	mnUp(t) // continues the stopped dockerd, restarts the killed one
	t.Logf("quorum lost at the kill of %s and the stop of %s; %s later both came back, the swarm Ready %s after that",
		leader.hostname, run.hostname, restore.Sub(lost).Round(100*time.Millisecond), time.Since(restore).Round(100*time.Millisecond))
	code := r.wait(t, 2*time.Minute)

	notices := errs.all()
	downs, backs := mnLinesWith(notices, "is not answering ("), mnLinesWith(notices, "answers again, after ")
	mnLogNotices(t, notices, lost)
	if len(downs) != 1 || len(backs) != 1 {
		t.Fatalf("%d lines say the engine is not answering and %d that it answers again, want one each", len(downs), len(backs))
	}
	down, back := downs[0], backs[0]
	if reason := mnBetween(down.text, "is not answering (", "): waiting"); !strings.Contains(reason, "Error response from daemon") {
		t.Errorf("the not-answering line does not give the engine's reason: %s", down.text)
	}
	outFor, err := time.ParseDuration(mnBetween(back.text, "answers again, after ", "\n"))
	if err != nil {
		t.Fatalf("the answers-again line gives no duration: %s", back.text)
	}
	t.Logf("jobrun said the engine was not answering %s after the quorum was lost, that it answered again %s after it was restored, out for %s",
		down.at.Sub(lost).Round(100*time.Millisecond), back.at.Sub(restore).Round(100*time.Millisecond), outFor)
	if back.at.Before(restore) {
		t.Errorf("jobrun said the engine answered again %s before the managers came back", restore.Sub(back.at).Round(100*time.Millisecond))
	}
	// The engine answered nothing from the loss on: jobrun polls at least
	// once a second, and its retries wait at most 2 s.
	if out := back.at.Sub(lost); outFor < out-5*time.Second || outFor > out+time.Second {
		t.Errorf("jobrun says the engine was out for %s; it answered nothing for %s (from the loss of quorum to jobrun's answers-again line)", outFor, out.Round(100*time.Millisecond))
	}
	mnCheckNotices(t, notices, 1)
	if between := mnProgressBetween(notices, down.at, back.at); len(between) > 3 {
		t.Errorf("%d progress lines while the engine did not answer, want a few at most, not one a retry:\n%s", len(between), strings.Join(between, "\n"))
	}
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	rec := mn.recordOf(s, "counter")
	main := mnMainContainer(t, rec)
	mnCheckOutput(t, out.all(), errs.all(), main, lines)
	mnCheckRecord(t, s, mn, main, lines, code)
}

// mnCase is one fault subtest's swarm: the leader and the two other
// managers, their engines, and the subtest's stack.
type mnCase struct {
	engines map[string]*client.Client
	leader  mnNode
	others  [2]mnNode
	s       *engineStack
}

// faultCase finds the leader, makes the subtest's stack, and has the three
// managers restored when the subtest ends (before the stack's cleanup).
func (mn *multiNode) faultCase(t *testing.T) *mnCase {
	t.Helper()
	c := &mnCase{engines: mn.engines(t)}
	var err error
	if c.leader, err = mn.leaderVia(context.Background(), c.engines[mn.manager.hostname]); err != nil {
		t.Fatalf("the leader: %v", err)
	}
	i := 0
	for _, n := range []mnNode{mn.manager, mn.worker1, mn.worker2} {
		if n.id != c.leader.id {
			c.others[i], i = n, i+1
		}
	}
	c.s = mn.stack(t)
	t.Cleanup(func() { mnThreeManagers(t) })
	return c
}

// leaderVia is the leader as the manager c reaches says.
func (mn *multiNode) leaderVia(ctx context.Context, c *client.Client) (mnNode, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	list, err := c.NodeList(ctx, client.NodeListOptions{})
	nodes := list.Items
	if err != nil {
		return mnNode{}, err
	}
	for _, n := range nodes {
		if n.ManagerStatus != nil && n.ManagerStatus.Leader {
			for _, m := range []mnNode{mn.manager, mn.worker1, mn.worker2} {
				if m.id == n.ID {
					return m, nil
				}
			}
		}
	}
	return mnNode{}, errors.New("no leader")
}

// awaitLeader waits until c's manager names a leader other than old, and
// says when it first did.
func (mn *multiNode) awaitLeader(t *testing.T, c *client.Client, old mnNode, within time.Duration) (mnNode, time.Time) {
	t.Helper()
	var leader mnNode
	mnWaitUntil(t, within, "a new leader", func() bool {
		var err error
		leader, err = mn.leaderVia(context.Background(), c)
		return err == nil && leader.id != old.id
	})
	return leader, time.Now()
}

// start starts jobrun on the counter job of so many lines, placed on node
// run, through manager talk, and waits until the job printed some lines.
func (c *mnCase) start(talk, run mnNode, lines, printed int) (*mnRun, *mnLines, *mnLines) {
	s := c.s
	s.t.Helper()
	f := s.writeStack("stack.yml", strings.NewReplacer("NODE", run.hostname, "LINES", strconv.Itoa(lines)).Replace(mnCounterJob))
	s.t.Logf("jobrun talks to %s; the job runs on %s", talk.hostname, run.hostname)
	r := &mnRun{started: time.Now(), exited: make(chan error, 1), out: &syncBuffer{}, err: &syncBuffer{}}
	out, errs := &mnLines{}, &mnLines{}
	// A swarm that had lost its quorum took 50 to 70 s to elect a leader
	// once its managers were back (their gRPC reconnect backoff), on top of
	// the 40 s outage: past the default --engine-wait of 2m on a loaded
	// machine. A team whose swarm recovers that slowly sets it higher too.
	r.cmd = s.command([]string{"DOCKER_HOST=" + talk.host}, "-c", f, "counter", "--version", "v1", "--logs", "docker", "--timeout", "6m", "--engine-wait", "5m")
	r.cmd.Stdout, r.cmd.Stderr = io.MultiWriter(r.out, out), io.MultiWriter(r.err, errs)
	if err := r.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	s.t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	waitFor(s.t, func() bool { return mnPrinted(out, printed) })
	return r, out, errs
}

// mnScript runs scripts/multinode.sh with args, within a bound.
func mnScript(within time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", append([]string{"scripts/multinode.sh"}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("scripts/multinode.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// mnFault runs a fault verb of scripts/multinode.sh on node n.
func mnFault(t *testing.T, verb string, n mnNode) {
	t.Helper()
	out, err := mnScript(30*time.Second, verb, strings.TrimPrefix(n.hostname, "jobrun-"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", time.Now().UTC().Format("15:04:05.000"), out)
}

// mnThreeManagers restarts and continues whatever a subtest stopped, and
// waits for three reachable managers again.
func mnThreeManagers(t *testing.T) {
	mnUp(t)
	if _, err := mnScript(3*time.Minute, "promote"); err != nil {
		t.Errorf("three managers again: %v", err)
	}
}

// mnLines keeps each line written to it with the time it arrived.
type mnLines struct {
	mu    sync.Mutex
	part  []byte
	lines []mnLine
}

type mnLine struct {
	at   time.Time
	text string
}

func (l *mnLines) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.lines = append(l.lines, mnLine{at: now, text: string(l.part[:i])})
		l.part = l.part[i+1:]
	}
}

func (l *mnLines) all() []mnLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]mnLine(nil), l.lines...)
}

func (l *mnLines) has(sub string) bool { return len(mnLinesWith(l.all(), sub)) > 0 }

func (l *mnLines) text() string { return mnText(l.all()) }

// mnPrinted: the job's lines on stdout are at least n.
func mnPrinted(out *mnLines, n int) bool {
	got := 0
	for _, l := range out.all() {
		if mnJobLineRE.MatchString(l.text) {
			got++
		}
	}
	return got >= n
}

func mnLinesWith(lines []mnLine, sub string) []mnLine {
	var with []mnLine
	for _, l := range lines {
		if strings.Contains(l.text, sub) {
			with = append(with, l)
		}
	}
	return with
}

// mnJobLineRE is a line of the counter job: its container, stream and number.
var mnJobLineRE = regexp.MustCompile(`^([0-9a-f]{12}) (out|err) (\d+)$`)

// mnNumbered is one numbered line of the job, as it arrived.
type mnNumbered struct {
	n  int
	at time.Time
}

// mnJobLines are the job's lines of stream (out or err), container by
// container, in the order they arrived.
func mnJobLines(lines []mnLine, stream string) map[string][]mnNumbered {
	m := map[string][]mnNumbered{}
	for _, l := range lines {
		if g := mnJobLineRE.FindStringSubmatch(l.text); g != nil && g[2] == stream {
			n, _ := strconv.Atoi(g[3])
			m[g[1]] = append(m[g[1]], mnNumbered{n: n, at: l.at})
		}
	}
	return m
}

// mnCountProblems says what is wrong with one container's numbers of one
// stream: a number twice or out of order, and unless last is 0, one of
// every, 2·every, …, last missing.
func mnCountProblems(got []mnNumbered, every, last int) []string {
	var problems []string
	seen := map[int]bool{}
	for i, x := range got {
		switch {
		case seen[x.n]:
			problems = append(problems, fmt.Sprintf("%d twice", x.n))
		case i > 0 && x.n < got[i-1].n:
			problems = append(problems, fmt.Sprintf("%d after %d", x.n, got[i-1].n))
		}
		seen[x.n] = true
	}
	if last > 0 {
		var missing []string
		for n := every; n <= last; n += every {
			if !seen[n] {
				missing = append(missing, strconv.Itoa(n))
			}
		}
		if len(missing) > 0 {
			problems = append(problems, "missing "+strings.Join(missing, " "))
		}
	}
	return problems
}

// mnCheckOutput checks the job's lines on jobrun's stdout and stderr: each
// once and in order per container and stream; the main container's all there
// up to last, unless last is 0. More containers than the main one are Swarm
// running the job again, which jobrun must say.
func mnCheckOutput(t *testing.T, stdout, stderr []mnLine, main string, last int) {
	t.Helper()
	for _, c := range []struct {
		lines  []mnLine
		stream string
		every  int
	}{{stdout, "out", 1}, {stderr, "err", mnErrEvery}} {
		byContainer := mnJobLines(c.lines, c.stream)
		if len(byContainer[main]) == 0 {
			t.Errorf("no %s line of the attempt's container %s", c.stream, main)
		}
		for container, got := range byContainer {
			if p := mnCountProblems(got, c.every, mnLastOf(container, main, last)); len(p) > 0 {
				t.Errorf("container %s, %s lines: %s", container, c.stream, strings.Join(p, "; "))
			}
			if container != main {
				t.Logf("Swarm ran the job in container %s too: %d %s lines", container, len(got), c.stream)
				if !strings.Contains(mnText(stderr), "WARNING: Swarm") {
					t.Errorf("Swarm ran the job again (container %s), and jobrun's summary does not say so", container)
				}
			}
		}
	}
}

// mnCheckRecord checks the output kept with the run record, as jobrun logs
// replays it (with the run's exit code): each line once and in order per
// container and stream.
func mnCheckRecord(t *testing.T, s *engineStack, mn *multiNode, main string, last, code int) {
	t.Helper()
	r := s.jobrunQuiet(mn.onManager(), "logs", "counter", "--version", "v1")
	if r.code != code {
		t.Errorf("jobrun logs: exit %d, want the run's %d\n%s", r.code, code, r.stderr)
		return
	}
	var lines []mnLine
	for _, l := range strings.Split(r.stdout, "\n") {
		lines = append(lines, mnLine{text: l})
	}
	for _, c := range []struct {
		stream string
		every  int
	}{{"out", 1}, {"err", mnErrEvery}} {
		for container, got := range mnJobLines(lines, c.stream) {
			if p := mnCountProblems(got, c.every, mnLastOf(container, main, last)); len(p) > 0 {
				t.Errorf("jobrun logs: container %s, %s lines: %s", container, c.stream, strings.Join(p, "; "))
			}
		}
	}
}

// mnBreakLineRE is jobrun's line for a broken output stream it read again.
var mnBreakLineRE = regexp.MustCompile(`broke \(.+\): read again from (\d\d:\d\d:\d\d\.\d{3}|its start)$`)

// mnCheckNotices checks what jobrun said of a broken stream and of the
// engine not answering: each broken stream read again from a stamp; never
// more than most such lines of each kind (not one a retry); every outage
// said to end.
func mnCheckNotices(t *testing.T, stderr []mnLine, most int) {
	t.Helper()
	breaks := mnLinesWith(stderr, "output stream of task")
	downs, backs := mnLinesWith(stderr, "is not answering ("), mnLinesWith(stderr, "answers again, after ")
	for _, l := range breaks {
		if !mnBreakLineRE.MatchString(l.text) {
			t.Errorf("a stream-break line does not say why and from where it was read again: %s", l.text)
		}
	}
	if len(breaks) > most+1 || len(downs) > most || len(downs) != len(backs) {
		t.Errorf("%d stream-break lines, %d not-answering, %d answers-again; want at most %d, %d, and as many answers-again as not-answering",
			len(breaks), len(downs), len(backs), most+1, most)
	}
}

// mnLogNotices logs jobrun's progress lines from since on, timed from it.
func mnLogNotices(t *testing.T, stderr []mnLine, since time.Time) {
	t.Helper()
	var b strings.Builder
	for _, l := range stderr {
		if strings.HasPrefix(l.text, "jobrun: ") && !l.at.Before(since) {
			fmt.Fprintf(&b, "\n%+6.1fs %s", l.at.Sub(since).Seconds(), l.text)
		}
	}
	t.Logf("jobrun's progress lines from the fault on:%s", b.String())
}

// mnProgressBetween are jobrun's progress lines strictly between from and to.
func mnProgressBetween(stderr []mnLine, from, to time.Time) []string {
	var between []string
	for _, l := range stderr {
		if strings.HasPrefix(l.text, "jobrun: ") && l.at.After(from) && l.at.Before(to) {
			between = append(between, l.text)
		}
	}
	return between
}

// mnMainContainer is the container of the attempt the verdict rests on (the
// one that completed, else the first), as the job names it in its lines.
func mnMainContainer(t *testing.T, rec jobs.Record) string {
	t.Helper()
	if len(rec.Attempts) == 0 {
		t.Fatalf("record: no attempt")
	}
	a := rec.Attempts[0]
	for _, x := range rec.Attempts {
		if x.State == swarm.TaskStateComplete {
			a = x
			break
		}
	}
	if len(a.ContainerID) < 12 {
		t.Fatalf("record: attempt %d has no container", a.Number)
	}
	return a.ContainerID[:12]
}

// mnLongestGap is the longest wait between two lines from the last one
// before since on, and the line it ended at.
func mnLongestGap(lines []mnNumbered, since time.Time) (time.Duration, string) {
	var gap time.Duration
	at := ""
	for i := 1; i < len(lines); i++ {
		if lines[i].at.Before(since) {
			continue
		}
		if d := lines[i].at.Sub(lines[i-1].at); d > gap {
			gap, at = d, fmt.Sprintf("between lines %d and %d", lines[i-1].n, lines[i].n)
		}
	}
	return gap, at
}

// mnLastOf is the number a container's lines must reach: last for the main
// one, none (0) for others.
func mnLastOf(container, main string, last int) int {
	if container != main {
		return 0
	}
	return last
}

// mnHowLinesCame says how the lines from first on came: live, over some seconds, or
// all at once (the job had ended).
func mnHowLinesCame(lines []mnNumbered, first time.Time) string {
	n, end := 0, first
	for _, l := range lines {
		if !l.at.Before(first) {
			n, end = n+1, l.at
		}
	}
	return fmt.Sprintf("from then on %d lines came over %s", n, end.Sub(first).Round(10*time.Millisecond))
}

func mnFirstAfter(lines []mnNumbered, since time.Time) (time.Time, bool) {
	for _, l := range lines {
		if l.at.After(since) {
			return l.at, true
		}
	}
	return time.Time{}, false
}

func mnLastNumber(lines []mnNumbered) string {
	if len(lines) == 0 {
		return "(none)"
	}
	return strconv.Itoa(lines[len(lines)-1].n)
}

func mnText(lines []mnLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

// mnBetween is what s holds between from and to (or its end).
func mnBetween(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	before, _, _ := strings.Cut(after, to)
	return before
}

// mnEngineLog follows the job's task log as the engine sends it, and counts
// the lines it sends more than once.
type mnEngineLog struct {
	mu          sync.Mutex
	seen        map[string]bool // "<stamp> <line>\n"
	sent, twice int
	done        chan struct{}
}

// notIn are the lines the engine sent (without their stamps) that lines
// lack, after the stream ended.
func (l *mnEngineLog) notIn(lines []mnLine) []string {
	<-l.done
	have := map[string]bool{}
	for _, x := range lines {
		have[x.text] = true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var missing []string
	for stamped := range l.seen {
		_, line, _ := strings.Cut(strings.TrimSuffix(stamped, "\n"), " ")
		if !have[line] {
			missing = append(missing, line)
		}
	}
	sort.Strings(missing)
	return missing
}

// mnExitOf is the exit code of the attempt that ran in container, -1 if
// none is known.
func mnExitOf(rec jobs.Record, container string) int {
	for _, a := range rec.Attempts {
		if strings.HasPrefix(a.ContainerID, container) && a.ExitCode != nil {
			return *a.ExitCode
		}
	}
	return -1
}

// mnFollowEngine follows, through c, the log of the service's running task
// from its start, with the engine's stamps, until ctx ends.
func mnFollowEngine(ctx context.Context, t *testing.T, c *client.Client, service string) *mnEngineLog {
	t.Helper()
	list, err := c.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", service)})
	tasks := list.Items
	if err != nil {
		t.Fatalf("the job's tasks: %v", err)
	}
	l := &mnEngineLog{seen: map[string]bool{}, done: make(chan struct{})}
	var running []string
	for _, task := range tasks {
		if task.Status.State == swarm.TaskStateRunning {
			running = append(running, task.ID)
		}
	}
	if len(running) == 0 {
		t.Fatalf("the job has no running task")
	}
	if len(running) > 1 {
		t.Logf("Swarm runs the job in %d tasks (moby/moby#53632): following the first", len(running))
	}
	go func() {
		defer close(l.done)
		rc, err := c.TaskLogs(ctx, running[0], client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true})
		if err != nil {
			return
		}
		defer rc.Close()
		_, _ = stdcopy.StdCopy(l, l, rc)
	}()
	return l
}

func (l *mnEngineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		l.sent++
		if l.seen[line] {
			l.twice++
		}
		l.seen[line] = true
	}
	return len(p), nil
}

// result waits for the stream to end (its context ended) and returns what it counted.
func (l *mnEngineLog) result() (sent, twice int) {
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, l.twice
}
