package deploy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moby/moby/client/pkg/progress"
	"github.com/moby/moby/client/pkg/streamformatter"
)

// nopCloser is a buffer the progress code may close.
type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

// TestDropAdvice: what ServiceProgress says when its own SIGINT handler
// fires is left out, in docker's own wire format; its progress is not.
func TestDropAdvice(t *testing.T) {
	var buf bytes.Buffer
	out := streamformatter.NewJSONProgressOutput(dropAdvice{nopCloser{&buf}}, false)
	progress.Message(out, "", "Operation continuing in background.")
	progress.Messagef(out, "", "Use `docker service ps %s` to check progress.", "qzb4")
	_ = out.WriteProgress(progress.Progress{ID: "overall progress", Action: "1 out of 1 tasks"})
	progress.Message(out, "verify", "Service qzb4 converged")
	got := buf.String()
	for _, gone := range []string{"continuing in background", "docker service ps"} {
		if strings.Contains(got, gone) {
			t.Errorf("progress %q still says %q", got, gone)
		}
	}
	for _, kept := range []string{"1 out of 1 tasks", "Service qzb4 converged"} {
		if !strings.Contains(got, kept) {
			t.Errorf("progress %q lacks %q", got, kept)
		}
	}
}
