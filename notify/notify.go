// Package notify announces a verdict: an HTTP POST of a JSON body to each
// URL the team named, in Slack's and Mattermost's incoming-webhook format
// for theirs. A notification never changes a verdict or its exit code, and
// is sent only after the verdict line is printed.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"jobrun/retry"
)

// Event is what is announced. It holds no credential and no secret value:
// only what the run record holds of the run.
type Event struct {
	Kind     string        `json:"kind"` // run, deploy, rollback or exec
	Stack    string        `json:"stack"`
	Job      string        `json:"job,omitempty"`
	Version  string        `json:"version"`
	Verdict  string        `json:"verdict"`
	ExitCode int           `json:"exit_code"`
	Attempts int           `json:"attempts,omitempty"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"duration_seconds"`
	Reason   string        `json:"reason"`
	Who      string        `json:"who"`
	RunURL   string        `json:"ci_run_url,omitempty"`
	Output   string        `json:"output,omitempty"` // the CloudWatch console link, or the jobrun logs command
}

// Notifier posts events. Timeout bounds all the tries for one URL.
type Notifier struct {
	Client  *http.Client
	Timeout time.Duration
	Tries   uint64
	// Clock paces the tries (the zero Clock is the real one): a command
	// passes its own, so that its tests' waits pass on their clock.
	Clock retry.Clock
}

// Default is 3 tries within 10 s per URL.
func Default() Notifier {
	return Notifier{Client: &http.Client{}, Timeout: 10 * time.Second, Tries: 3}
}

// orDefault fills what n leaves unset from Default: a zero Notifier sends
// as Default does.
func (n Notifier) orDefault() Notifier {
	d := Default()
	if n.Client == nil {
		n.Client = d.Client
	}
	if n.Timeout <= 0 {
		n.Timeout = d.Timeout
	}
	if n.Tries == 0 {
		n.Tries = d.Tries
	}
	return n
}

// Send posts ev to each URL, at once, and returns one error per URL that
// could not be delivered, naming the URL without its path or query (a
// Slack webhook's path is its secret).
func (n Notifier) Send(ctx context.Context, urls []string, ev Event) []error {
	n = n.orDefault()
	ev.Seconds = ev.Duration.Round(10 * time.Millisecond).Seconds()
	errs := make(chan error, len(urls))
	for _, u := range urls {
		go func() { errs <- n.post(ctx, u, ev) }()
	}
	var failed []error
	for range urls {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	return failed
}

func (n Notifier) post(ctx context.Context, target string, ev Event) error {
	body, err := Body(target, ev)
	if err != nil {
		return fmt.Errorf("notify %s: %w", Where(target), err)
	}
	// The timeout is on the real clock as well: it ends a request that
	// hangs, which no fake clock can.
	ctx, cancel := context.WithTimeout(ctx, n.Timeout)
	defer cancel()
	b := backoff.WithMaxRetries(n.Clock.Policy(500*time.Millisecond, backoff.DefaultMaxInterval, n.Timeout), n.Tries-1)
	if err := n.Clock.Retry(ctx, b, func() error { return n.once(ctx, target, body) }); err != nil {
		return fmt.Errorf("notify %s: %w", Where(target), err)
	}
	return nil
}

// once posts the body; a 4xx other than 429 will not change on retry.
func (n Notifier) once(ctx context.Context, target string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "jobrun")
	resp, err := n.Client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return uerr.Err // the URL itself may hold a secret
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return backoff.Permanent(fmt.Errorf("answered %s", resp.Status))
	}
	return fmt.Errorf("answered %s", resp.Status)
}

// Body is the request body for the URL: Slack's and Mattermost's
// incoming webhooks take {"text": …}; anything else gets the event.
func Body(target string, ev Event) ([]byte, error) {
	if IsChatWebhook(target) {
		return json.Marshal(struct {
			Text string `json:"text"`
		}{Text(ev)})
	}
	return json.Marshal(ev)
}

// IsChatWebhook reports whether the URL is a Slack or Mattermost incoming
// webhook (hooks.slack.com/services/…, or Mattermost's /hooks/<id>).
func IsChatWebhook(target string) bool {
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	return u.Host == "hooks.slack.com" || strings.HasPrefix(u.Path, "/hooks/")
}

// Text is the event as one chat message.
func Text(ev Event) string {
	what := ev.Stack
	if ev.Job != "" {
		what += " " + ev.Job
	}
	s := fmt.Sprintf("jobrun %s: %s %s %s (exit %d) in %s: %s. By %s", ev.Kind, what, ev.Version, ev.Verdict, ev.ExitCode, ev.Duration.Round(time.Second), ev.Reason, ev.Who)
	if ev.RunURL != "" {
		s += " (" + ev.RunURL + ")"
	}
	if ev.Output != "" {
		s += ". Output: " + ev.Output
	}
	return s
}

// Where names a URL without what may be secret in it: its path and query.
func Where(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return "(an invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}

// Check says what is wrong with a --notify URL.
func Check(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--notify %s is not an http(s) URL: use e.g. https://hooks.slack.com/services/…", Where(target))
	}
	return nil
}
