package jobs

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func TestTextReporterPipedPassesBytesThrough(t *testing.T) {
	writes := [][]byte{
		[]byte("Applying migrations...\n"),
		[]byte("  todo.0001_initial... OK\n  todo.0002"),
		{0x00, 0xff, 0x1b, '[', '3', '1', 'm', '\r', 0x80},
		[]byte("_auto... "), // partial last line, no newline
	}
	for _, stderr := range []bool{false, true} {
		var out, errOut, log bytes.Buffer
		r := &TextReporter{Out: &out, Err: &errOut, Log: &log}
		w := r.Output("migrate", 2, stderr)
		var want []byte
		for _, p := range writes {
			n, err := w.Write(p)
			if err != nil || n != len(p) {
				t.Fatalf("Write(%q) = %d, %v", p, n, err)
			}
			want = append(want, p...)
		}
		got, other := out.Bytes(), errOut.Bytes()
		if stderr {
			got, other = other, got
		}
		if !bytes.Equal(got, want) {
			t.Errorf("stderr=%v: output = %q, want %q", stderr, got, want)
		}
		if len(other) != 0 || log.Len() != 0 {
			t.Errorf("stderr=%v: wrote to the wrong stream: other %q log %q", stderr, other, log.String())
		}
	}
}

func TestTextReporterPrefixesLines(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{
			name:   "whole lines",
			writes: []string{"one\ntwo\n"},
			want:   "migrate#2 | one\nmigrate#2 | two\n",
		},
		{
			name:   "a line split over writes is prefixed once",
			writes: []string{"hel", "lo wo", "rld\nnext", " line\n"},
			want:   "migrate#2 | hello world\nmigrate#2 | next line\n",
		},
		{
			name:   "partial last line shows at once",
			writes: []string{"done\n", "progress 50%"},
			want:   "migrate#2 | done\nmigrate#2 | progress 50%",
		},
		{
			name:   "empty lines and a lone newline",
			writes: []string{"\n", "\n\nx\n"},
			want:   "migrate#2 | \nmigrate#2 | \nmigrate#2 | \nmigrate#2 | x\n",
		},
		{
			name:   "empty write writes nothing",
			writes: []string{"", "a", "", "\n"},
			want:   "migrate#2 | a\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut, log bytes.Buffer
			r := &TextReporter{Out: &out, Err: &errOut, Log: &log, Prefix: true}
			w := r.Output("migrate", 2, false)
			for _, s := range tt.writes {
				n, err := w.Write([]byte(s))
				if err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
				}
			}
			if out.String() != tt.want {
				t.Errorf("output = %q\nwant     %q", out.String(), tt.want)
			}
			if errOut.Len() != 0 || log.Len() != 0 {
				t.Errorf("wrote elsewhere: err %q log %q", errOut.String(), log.String())
			}
		})
	}
}

func TestTextReporterPrefixPerStream(t *testing.T) {
	var out, errOut bytes.Buffer
	r := &TextReporter{Out: &out, Err: &errOut, Log: &bytes.Buffer{}, Prefix: true}
	o, e := r.Output("migrate", 1, false), r.Output("migrate", 1, true)
	o.Write([]byte("out "))
	e.Write([]byte("err line\n"))
	o.Write([]byte("continues\n"))
	if want := "migrate#1 | out continues\n"; out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
	if want := "migrate#1 | err line\n"; errOut.String() != want {
		t.Errorf("stderr = %q, want %q", errOut.String(), want)
	}
}

func TestTextReporterColor(t *testing.T) {
	var out, errOut bytes.Buffer
	r := &TextReporter{Out: &out, Err: &errOut, Log: &bytes.Buffer{}, Prefix: true, Color: true}
	r.Output("migrate", 3, false).Write([]byte("a\n"))
	r.Output("migrate", 3, true).Write([]byte("b\n"))
	if want := "\x1b[36mmigrate#3 | \x1b[0ma\n"; out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
	if want := "\x1b[33mmigrate#3 | \x1b[0mb\n"; errOut.String() != want {
		t.Errorf("stderr = %q, want %q", errOut.String(), want)
	}
}

func TestTextReporterAttempt(t *testing.T) {
	tests := []struct {
		name    string
		a       Attempt
		want    []string
		notWant []string
	}{
		{
			name: "failed with exit code and the engine's error saying it again",
			a: Attempt{Number: 2, TaskID: "t0123456789abcdef", NodeID: "n0123456789abcdef", State: swarm.TaskStateFailed,
				ExitCode: intp(1), Err: "task: non-zero exit (1)"},
			want: []string{"jobrun: migrate: ", "attempt 2 of at most 7", "on node n0123456789a", "failed",
				"(exit code 1) [task t0123456789a]"},
			notWant: []string{"n0123456789abcdef", "t0123456789abcdef", "non-zero exit", "  "},
		},
		{
			name: "failed with exit code and an error of its own",
			a: Attempt{Number: 2, TaskID: "t1", NodeID: "n1", State: swarm.TaskStateFailed,
				ExitCode: intp(137), Err: "task: non-zero exit (137): dockerexec: unhealthy\ncontainer"},
			want:    []string{"(exit code 137: task: non-zero exit (137): dockerexec: unhealthy container) [task t1]"},
			notWant: []string{"  "},
		},
		{
			name: "complete with exit code only",
			a:    Attempt{Number: 2, TaskID: "t1", NodeID: "n1", State: swarm.TaskStateComplete, ExitCode: intp(0)},
			want: []string{"attempt 2 of at most 7", "on node n1", "complete", "(exit code 0)", "[task t1]"},
		},
		{
			name:    "pending with error, no node",
			a:       Attempt{Number: 2, TaskID: "t1", State: swarm.TaskStatePending, Err: "no suitable node"},
			want:    []string{"attempt 2 of at most 7", "pending", "(no suitable node)"},
			notWant: []string{"on node", "exit code"},
		},
		{
			name:    "running",
			a:       Attempt{Number: 2, TaskID: "t1", NodeID: "n1", State: swarm.TaskStateRunning},
			want:    []string{"attempt 2 of at most 7 on node n1: running [task t1]"},
			notWant: []string{"(", "exit code"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, log bytes.Buffer
			r := &TextReporter{Out: &out, Err: &out, Log: &log}
			r.Attempt("migrate", tt.a, 7)
			line := log.String()
			if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
				t.Errorf("want one line, got %q", line)
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q does not contain %q", line, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(line, w) {
					t.Errorf("line %q contains %q", line, w)
				}
			}
			if out.Len() != 0 {
				t.Errorf("progress went to the job's output: %q", out.String())
			}
		})
	}
}

func TestTextReporterNoticeAndDone(t *testing.T) {
	var log bytes.Buffer
	r := &TextReporter{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Log: &log}
	r.Notice("migrate", "attached to a run started elsewhere")
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	r.Done(Record{Job: "migrate", Version: "abc1234", Outcome: Failed, Reason: "all 2 attempts failed",
		Started: start, Ended: start.Add(90 * time.Second), Attempts: []Attempt{{State: swarm.TaskStateFailed}, {State: swarm.TaskStateFailed}, {State: swarm.TaskStatePending}}, LogNote: "attempt 1 lost"})
	want := "jobrun: migrate: attached to a run started elsewhere\n" +
		"jobrun: migrate: abc1234 failed in 1m30s after 2 attempt(s): all 2 attempts failed\n" +
		"jobrun: migrate: WARNING: attempt 1 lost\n"
	if log.String() != want {
		t.Errorf("log = %q\nwant  %q", log.String(), want)
	}
}

// TestTextReporterClosedStdoutKeepsStderr: `jobrun migrate | head` closes
// stdout; the traceback the job writes on stderr afterwards is still shown.
func TestTextReporterClosedStdoutKeepsStderr(t *testing.T) {
	for _, prefix := range []bool{false, true} {
		var errOut, log bytes.Buffer
		r := &TextReporter{Out: closedWriter{}, Err: &errOut, Log: &log, Prefix: prefix}
		stdout, stderr := r.Output("migrate", 1, false), r.Output("migrate", 1, true)
		_, _ = stdout.Write([]byte("  Applying todo.0003_todoitem_slug...\n"))
		_, _ = stdout.Write([]byte("more\n"))
		_, _ = stderr.Write([]byte("Traceback (most recent call last):\n"))
		_, _ = stderr.Write([]byte("django.db.utils.IntegrityError: (1062, \"Duplicate entry '' for key 'slug'\")\n"))
		if got := errOut.String(); !strings.Contains(got, "Traceback") || !strings.Contains(got, "IntegrityError") {
			t.Errorf("prefix=%v: stderr = %q, want the whole traceback", prefix, got)
		}
		if n := strings.Count(log.String(), "cannot write the job's stdout"); n != 1 {
			t.Errorf("prefix=%v: log = %q, want the closed stdout said once", prefix, log.String())
		}
	}
}

// closedWriter is a pipe whose reader has gone.
type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }
