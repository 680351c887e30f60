package jobs

import (
	"bytes"
	"io"
	"sync"
)

// OutputRules are what x-jobrun says to look for in an attempt's output.
type OutputRules struct {
	// RetryWhen, when set, are the failures worth another attempt: a failed
	// attempt whose output has none of them is the last (a migration that
	// failed halfway at the database fails differently on every retry).
	RetryWhen []string
	// ChangesWhen are the lines that mean the job began changing things
	// ("Applying "); none set: any output means it may have.
	ChangesWhen []string
}

// maxScanLine is how much of one line the scan keeps: an error line is
// short, and a line without end must not grow without bound.
const maxScanLine = 8 << 10

// maxErrorLine is how much of an error line a verdict quotes.
const maxErrorLine = 300

// How sure the scan is that a line is the attempt's error, weakest first.
const (
	noErrorLine = iota
	lastStderrLine
	errorWordLine
	tracebackLine
)

// errorWords mark a line that reports an error, in the spellings of the
// tools jobs run (Python, MariaDB's client, Go, shells, PostgreSQL).
var errorWords = []string{"Error", "ERROR", "error:", "FATAL", "fatal:"}

// outputScan reads an attempt's output line by line as it is copied, for
// what the verdict needs: whether a retry-when pattern appeared, whether
// the job began changing things, and its error line.
type outputScan struct {
	mu sync.Mutex // stdout and stderr may be written from two goroutines
	st scanState
}

type scanState struct {
	rules     OutputRules
	partial   [2][]byte // [stdout, stderr]: the line not ended yet
	traceback [2]bool   // inside a Python traceback's frames
	retryable bool
	changed   bool
	errorLine string
	errorRank int
}

// scanFinding is what the scan found in an attempt's output.
type scanFinding struct {
	Retryable bool   // a retry-when pattern appeared
	Changed   bool   // the job may have begun changing things
	ErrorLine string // its last error line, "" if it printed none
}

func newOutputScan(rules OutputRules) *outputScan { return &outputScan{st: scanState{rules: rules}} }

// writer is where the attempt's stdout or stderr is copied for the scan.
func (s *outputScan) writer(stderr bool) io.Writer {
	stream := 0
	if stderr {
		stream = 1
	}
	return writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.st.write(stream, p)
		return len(p), nil
	})
}

func (s *scanState) write(stream int, p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.keep(stream, p)
			return
		}
		s.keep(stream, p[:i])
		s.line(stream, bytes.TrimRight(s.partial[stream], "\r"))
		s.partial[stream] = s.partial[stream][:0]
		p = p[i+1:]
	}
}

func (s *scanState) keep(stream int, p []byte) {
	room := maxScanLine - len(s.partial[stream])
	s.partial[stream] = append(s.partial[stream], p[:min(len(p), max(room, 0))]...)
}

// line takes one whole line of the stream.
func (s *scanState) line(stream int, text []byte) {
	if len(text) == 0 {
		return
	}
	s.changed = s.changed || len(s.rules.ChangesWhen) == 0 || containsAny(text, s.rules.ChangesWhen)
	s.retryable = s.retryable || containsAny(text, s.rules.RetryWhen)
	switch {
	case bytes.HasPrefix(text, []byte("Traceback (most recent call last):")):
		s.traceback[stream] = true
	case s.traceback[stream] && (text[0] == ' ' || text[0] == '\t'):
		// a frame, or the source line under it
	case s.traceback[stream]:
		// The first line past the frames is the exception: the last one
		// of chained tracebacks is what failed the job.
		s.traceback[stream] = false
		s.note(text, tracebackLine)
	case containsAny(text, errorWords):
		s.note(text, errorWordLine)
	case stream == 1:
		s.note(text, lastStderrLine)
	}
}

// note keeps text as the error line unless a surer one was seen: a
// traceback's exception outranks a later "Error" line, which outranks a
// later plain stderr line.
func (s *scanState) note(text []byte, rank int) {
	if rank >= s.errorRank {
		s.errorLine, s.errorRank = string(bytes.TrimSpace(text)), rank
	}
}

// finding is what the scan found, the lines not ended yet included.
func (s *outputScan) finding() scanFinding {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := s.st // line only reads partial: the copy may share it
	for stream := range end.partial {
		if len(end.partial[stream]) > 0 {
			end.line(stream, end.partial[stream])
		}
	}
	line := end.errorLine
	if r := []rune(line); len(r) > maxErrorLine {
		line = string(r[:maxErrorLine]) + "…"
	}
	return scanFinding{Retryable: end.retryable, Changed: end.changed, ErrorLine: line}
}

func containsAny(text []byte, patterns []string) bool {
	for _, p := range patterns {
		if p != "" && bytes.Contains(text, []byte(p)) {
			return true
		}
	}
	return false
}
