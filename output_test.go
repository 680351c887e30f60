package main

// End-to-end tests that the output is every line once, in the order the
// engine stamped it: live, piped, and replayed by jobrun logs.

import (
	"bufio"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// orderJobs print lines on both streams, then sleep, so that the test can
// read the engine's own stamps of them before the attempt ends.
const orderJobs = `version: "3.7"
services:
  threelines:
    image: IMAGE
    command: ["sh", "-c", "echo A1; echo A2; echo E1 >&2; sleep 3; exit 1"]
    deploy: {restart_policy: {condition: none}}
  blocks:
    image: IMAGE
    command: ["sh", "-c", "for b in 1 2 3; do echo O$${b}a; echo O$${b}b; sleep 0.005; echo E$${b}a >&2; echo E$${b}b >&2; sleep 0.005; done; sleep 3"]
    deploy: {restart_policy: {condition: none}}
`

// stampedOrder is the job's lines as the engine stamped them: read with
// timestamps from its one task, sorted by stamp.
func (s *engineStack) stampedOrder(job string) []string {
	s.t.Helper()
	ctx := context.Background()
	list, err := s.engine.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", "jobrun_"+s.name+"_"+job)})
	tasks := list.Items
	if err != nil || len(tasks) != 1 {
		s.t.Fatalf("tasks of %s: %v (%d)", job, err, len(tasks))
	}
	rc, err := s.engine.TaskLogs(ctx, tasks[0].ID, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer rc.Close()
	var both strings.Builder
	if _, err := stdcopy.StdCopy(&both, &both, rc); err != nil {
		s.t.Fatal(err)
	}
	type stamped struct{ at, line string }
	var lines []stamped
	sc := bufio.NewScanner(strings.NewReader(both.String()))
	for sc.Scan() {
		at, line, _ := strings.Cut(sc.Text(), " ")
		lines = append(lines, stamped{at, line})
	}
	sort.SliceStable(lines, func(i, j int) bool {
		ti, _ := time.Parse(time.RFC3339Nano, lines[i].at)
		tj, _ := time.Parse(time.RFC3339Nano, lines[j].at)
		return ti.Before(tj)
	})
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.line
	}
	return out
}

// jobLines keeps the job's own lines of jobrun's output, in order.
func jobLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "jobrun: ") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestOutputInStampOrder(t *testing.T) {
	long(t)
	t.Parallel()
	for job, lines := range map[string]int{"threelines": 3, "blocks": 12} {
		t.Run(job, func(t *testing.T) {
			s := newStack(t)
			f := s.writeStack("stack.yml", orderJobs)
			for i := 1; i <= 3; i++ {
				version := fmt.Sprintf("v%d", i)
				// stdout and stderr into one pipe, as `jobrun migrate 2>&1`.
				cmd := s.command(nil, "-c", f, job, "--version", version, "--logs", "docker")
				both := &syncBuffer{}
				cmd.Stdout, cmd.Stderr = both, both
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// The job sleeps after its lines: read their stamps meanwhile.
				waitFor(t, func() bool { return len(jobLines(both.String())) >= lines })
				want := s.stampedOrder(job)
				_ = cmd.Wait()
				if got := jobLines(both.String()); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s: jobrun printed %q, the engine stamped %q", version, got, want)
				}
				l := s.jobrunQuiet(nil, "logs", job, "--version", version)
				if got := jobLines(l.stdout); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s: jobrun logs replayed %q, the engine stamped %q", version, got, want)
				}
			}
		})
	}
}
