package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"jobrun/logs"
)

// Reporter receives a run's progress as it happens. The runner never prints:
// it tells the reporter, which renders for a terminal, a pipe or nothing.
type Reporter interface {
	// Attempt is called whenever an attempt appears or changes state.
	Attempt(job string, a Attempt, maxRuns int)
	// Notice is a one-line message about the run (attached, warning, ...).
	Notice(job, msg string)
	// Output returns where an attempt's stdout or stderr goes.
	Output(job string, attempt int, stderr bool) io.Writer
	// Done is called once with the run's record.
	Done(rec Record)
}

// NewTextReporter renders for where stdout goes: with jsonOut stdout
// carries the JSON document alone, so job output goes to stderr; on a
// terminal every line is prefixed, in colour.
func NewTextReporter(out, errw io.Writer, outIsTerminal, jsonOut bool) *TextReporter {
	r := &TextReporter{Out: out, Err: errw, Log: errw}
	if jsonOut {
		r.Out = errw
	} else if outIsTerminal {
		r.Prefix, r.Color = true, true
	}
	return r
}

// WriteRuns writes run records as the one JSON document of -o json.
func WriteRuns(w io.Writer, recs []Record) error {
	return WriteJSON(w, struct {
		Runs []Record `json:"runs"`
	}{recs})
}

// WriteJSON writes v as jobrun's -o json documents are written: indented,
// one document. A failed write is an OutputError.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return &OutputError{Err: err}
	}
	return nil
}

// FormatTime is how jobrun shows a time: RFC 3339 in UTC, the same on
// every machine of a team.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// TextReporter writes job output to Out and Err and progress to Log. On a
// terminal (Prefix) each output line carries "job#attempt | ", in colour;
// otherwise output bytes pass through unchanged.
type TextReporter struct {
	Out, Err io.Writer // the job's own stdout and stderr
	Log      io.Writer // jobrun's progress lines
	Prefix   bool
	Color    bool

	mu     sync.Mutex // one write at a time: parallel jobs share the streams
	broken [2]bool    // [stdout, stderr]: its reader has gone (e.g. stdout piped into head)
}

// write writes p whole to the job's stdout or stderr. When that stream's
// reader has gone (`jobrun migrate | head`) the job still runs to its
// verdict: its output there is dropped from the screen, said once, and
// still reaches the run record. The other stream goes on: a closed stdout
// must not silence the traceback on stderr.
func (r *TextReporter) write(stderr bool, p []byte) {
	w, name, stream := r.Out, "stdout", 0
	if stderr {
		w, name, stream = r.Err, "stderr", 1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken[stream] {
		return
	}
	if _, err := w.Write(p); err != nil {
		r.broken[stream] = true
		fmt.Fprintf(r.Log, "jobrun: cannot write the job's %s (%v): no more of it is shown; the job runs on to its verdict\n", name, err)
	}
}

func (r *TextReporter) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = fmt.Fprintf(r.Log, format+"\n", args...) // progress is best effort: the run goes on
}

// Notice prints msg on one line: engine and ssh errors inside it may have
// several.
func (r *TextReporter) Notice(job, msg string) { r.logf("jobrun: %s: %s", job, oneLineString(msg)) }

func (r *TextReporter) Attempt(job string, a Attempt, maxRuns int) {
	where := ""
	if a.NodeID != "" {
		where = " on node " + NodeName(a.Hostname, a.NodeID)
	}
	detail := ""
	if d := describeExit(a); d != "" {
		detail = " (" + d + ")"
	}
	r.logf("jobrun: %s: attempt %d of at most %d%s: %s%s [task %s]", job, a.Number, maxRuns, where, a.State, detail, shortID(a.TaskID))
}

func (r *TextReporter) Done(rec Record) {
	if rec.Exec != nil {
		r.logf("jobrun: %s: %s", rec.Job, execSummary(rec))
	} else {
		r.logf("jobrun: %s: %s %s in %s after %d attempt(s): %s", rec.Job, rec.Version, rec.Outcome, rec.Ended.Sub(rec.Started).Round(10*time.Millisecond), RanAttempts(rec.Attempts), rec.Reason)
	}
	for _, a := range rec.Attempts {
		if a.LogStream != "" {
			r.logf("jobrun: %s: attempt %d output: CloudWatch Logs %s %s: %s", rec.Job, a.Number, rec.LogGroup, a.LogStream, logs.ConsoleURL(rec.LogRegion, rec.LogGroup, a.LogStream))
		}
	}
	if rec.LogNote != "" {
		r.logf("jobrun: %s: WARNING: %s", rec.Job, rec.LogNote)
	}
	if rec.Surplus != "" {
		r.logf("jobrun: %s: WARNING: %s: check what the extra runs did (a Swarm bug such as moby/moby#53632, or an update of service %s from elsewhere)", rec.Job, rec.Surplus, rec.Service)
	}
	if rec.StopNote != "" {
		r.logf("jobrun: %s: WARNING: %s", rec.Job, rec.StopNote)
	}
}

func (r *TextReporter) Output(job string, attempt int, stderr bool) io.Writer {
	if !r.Prefix {
		return writerFunc(func(p []byte) (int, error) { r.write(stderr, p); return len(p), nil })
	}
	prefix := fmt.Sprintf("%s#%d | ", job, attempt)
	if r.Color {
		color := 36 // cyan
		if stderr {
			color = 33 // yellow
		}
		prefix = fmt.Sprintf("\x1b[%dm%s\x1b[0m", color, prefix)
	}
	return &prefixWriter{write: func(p []byte) { r.write(stderr, p) }, prefix: []byte(prefix), atStart: true}
}

// PrefixLines starts every line written to w with prefix.
func PrefixLines(w io.Writer, prefix string) io.Writer {
	return &prefixWriter{write: func(p []byte) { _, _ = w.Write(p) }, prefix: []byte(prefix), atStart: true}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// prefixWriter starts every line with prefix. A partial last line is written
// at once: a progress bar without a newline still shows.
type prefixWriter struct {
	write   func([]byte)
	prefix  []byte
	atStart bool
	buf     []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = p.buf[:0]
	for rest := b; len(rest) > 0; {
		if p.atStart {
			p.buf = append(p.buf, p.prefix...)
			p.atStart = false
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			p.buf = append(p.buf, rest...)
			break
		}
		p.buf = append(p.buf, rest[:i+1]...)
		rest = rest[i+1:]
		p.atStart = true
	}
	p.write(p.buf)
	return len(b), nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
