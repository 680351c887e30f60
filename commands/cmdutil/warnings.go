package cmdutil

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// Warnings shows each warning of docker/cli once per command, as one line
// of jobrun's: docker/cli writes a warning per Write, some over several
// lines, and a release deploys the pre-deploy jobs' dependencies twice.
type Warnings struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	seen   map[string]bool
}

// NewWarnings writes each warning once to w, after prefix.
func NewWarnings(w io.Writer, prefix string) *Warnings {
	return &Warnings{w: w, prefix: prefix, seen: map[string]bool{}}
}

func (o *Warnings) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	text := strings.Join(strings.Fields(string(p)), " ")
	if text != "" && !o.seen[text] {
		o.seen[text] = true
		fmt.Fprintf(o.w, "%s%s\n", o.prefix, text)
	}
	return len(p), nil
}

// RouteLogrus shows what docker/cli's compose loader logs with logrus (a
// deprecated external.name, a ~ it cannot expand) as jobrun's warnings,
// until the returned func puts logrus back as it was.
func RouteLogrus(w io.Writer) (restore func()) {
	l := logrus.StandardLogger()
	out, formatter := l.Out, l.Formatter
	l.SetOutput(w)
	l.SetFormatter(messageOnly{})
	return func() {
		l.SetOutput(out)
		l.SetFormatter(formatter)
	}
}

// messageOnly formats a logrus entry as its message: the level is the
// warnings writer's prefix.
type messageOnly struct{}

func (messageOnly) Format(e *logrus.Entry) ([]byte, error) { return []byte(e.Message + "\n"), nil }
