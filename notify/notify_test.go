package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"jobrun/clocktest"
	"jobrun/retry"
)

var event = Event{Kind: "run", Stack: "todo", Job: "migrate", Version: "3db46c4", Verdict: "failed", ExitCode: 1, Attempts: 7,
	Duration: 3*time.Minute + 12*time.Second, Reason: "all 7 attempts failed; last: exit code 1", Who: "ana (GitHub Actions)",
	RunURL: "https://github.com/team/app/actions/runs/42", Output: "jobrun logs migrate --version 3db46c4"}

// receiver is a webhook endpoint that answers each request with the next
// status of its script (200 once the script is used up).
type receiver struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
	paths    []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.bodies, rc.paths = append(rc.bodies, string(b)), append(rc.paths, r.URL.Path)
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	w.WriteHeader(status)
}

// quick is a notifier of 3 tries whose waits between them pass at once on
// a test clock, which keeps what they were.
func quick(t *testing.T) (Notifier, *clocktest.Clock) {
	clock := clocktest.New(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	clock.AutoAdvance(t.Context())
	return Notifier{Client: &http.Client{}, Timeout: 5 * time.Second, Tries: 3, Clock: retry.Clock{Now: clock.Now, After: clock.After}}, clock
}

func TestSendJSON(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, _ := quick(t)
	if errs := n.Send(context.Background(), []string{srv.URL + "/release"}, event); len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	var got map[string]any
	if len(rc.bodies) != 1 || json.Unmarshal([]byte(rc.bodies[0]), &got) != nil {
		t.Fatalf("bodies %q, want one JSON document", rc.bodies)
	}
	for k, want := range map[string]any{"kind": "run", "stack": "todo", "job": "migrate", "version": "3db46c4", "verdict": "failed", "exit_code": 1.0,
		"attempts": 7.0, "duration_seconds": 192.0, "who": "ana (GitHub Actions)", "ci_run_url": event.RunURL, "output": event.Output} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}

func TestSendChatFormat(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, _ := quick(t)
	if errs := n.Send(context.Background(), []string{srv.URL + "/hooks/xyz"}, event); len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	var got struct{ Text string }
	if len(rc.bodies) != 1 || json.Unmarshal([]byte(rc.bodies[0]), &got) != nil {
		t.Fatalf("bodies %q", rc.bodies)
	}
	want := "jobrun run: todo migrate 3db46c4 failed (exit 1) in 3m12s: all 7 attempts failed; last: exit code 1. By ana (GitHub Actions) (https://github.com/team/app/actions/runs/42). Output: jobrun logs migrate --version 3db46c4"
	if got.Text != want {
		t.Errorf("text %q\nwant %q", got.Text, want)
	}
}

// TestSendRetries: a 5xx or 429 is tried again within the bound, after
// the notifier's backoff (500 ms, then 1.5 times longer, each ±50%) on its
// clock; a 4xx is final; the error names the host, never the webhook's
// secret path.
func TestSendRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		tries    int
		fails    bool
	}{
		{"5xx then ok", []int{503, 502}, 3, false},
		{"429 then ok", []int{429}, 2, false},
		{"always 5xx", []int{500, 500, 500, 500}, 3, true},
		{"4xx is final", []int{404}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{statuses: tt.statuses}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			n, clock := quick(t)
			errs := n.Send(context.Background(), []string{srv.URL + "/services/T0/B0/s3cr3t"}, event)
			if got := len(rc.bodies); got != tt.tries {
				t.Errorf("%d tries, want %d", got, tt.tries)
			}
			if err := checkWaits(clock.Asked(), tt.tries-1); err != nil {
				t.Error(err)
			}
			if (len(errs) == 1) != tt.fails {
				t.Fatalf("errors %v, want failure %v", errs, tt.fails)
			}
			if tt.fails && (strings.Contains(errs[0].Error(), "s3cr3t") || !strings.Contains(errs[0].Error(), srv.URL)) {
				t.Errorf("error %q must name %s and not the path", errs[0], srv.URL)
			}
		})
	}
}

// checkWaits says what is wrong with the waits asked of the clock: want of
// them, the backoff's 500 ms growing 1.5 times, each within ±50%.
func checkWaits(asked []time.Duration, want int) error {
	if len(asked) != want {
		return fmt.Errorf("waits %v, want %d", asked, want)
	}
	var bad []string
	mean := 500 * time.Millisecond
	for i, d := range asked {
		if d < mean/2 || d > mean*3/2 {
			bad = append(bad, fmt.Sprintf("wait %d is %s, want %s ±50%%", i+1, d, mean))
		}
		mean = mean * 3 / 2
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// TestSendGivesUp: a dead endpoint and one that never answers end within
// the notifier's bound with an error each, and neither delays the other.
func TestSendGivesUp(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(block)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/hook?token=s3cr3t"
	dead.Close()
	n := Notifier{Client: &http.Client{}, Timeout: 300 * time.Millisecond, Tries: 2}
	errs := n.Send(context.Background(), []string{slow.URL, deadURL}, event)
	if len(errs) != 2 {
		t.Fatalf("errors %v, want one per endpoint", errs)
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error %q shows the URL's secret", err)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, ok := range []string{"https://hooks.slack.com/services/T/B/x", "http://127.0.0.1:8080/hook"} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"hooks.slack.com/services/x", "ftp://host/x", "https://"} {
		if err := Check(bad); err == nil || strings.Contains(err.Error(), "services/x") {
			t.Errorf("Check(%q) = %v, want an error that hides the path", bad, err)
		}
	}
}

// TestZeroNotifierSends: a Notifier left zero but for its clock sends as
// Default does: tried again after a 503.
func TestZeroNotifierSends(t *testing.T) {
	rc := &receiver{statuses: []int{503}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	_, clock := quick(t)
	n := Notifier{Clock: retry.Clock{Now: clock.Now, After: clock.After}}
	if errs := n.Send(context.Background(), []string{srv.URL}, event); len(errs) != 0 || len(rc.bodies) != 2 {
		t.Errorf("errors %v after %d tries, want delivered on the second", errs, len(rc.bodies))
	}
	if err := checkWaits(clock.Asked(), 1); err != nil {
		t.Error(err)
	}
}
