package main

// End-to-end: a run's verdict is announced to the team's webhook once it is
// printed; an endpoint that is dead or never answers changes neither the
// exit code nor the verdict.

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"jobrun/jobs"
	"jobrun/notify"
)

func TestNotifyTheVerdict(t *testing.T) {
	long(t)
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	hung := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // then the server notices the client leave
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hung) // before Close, which waits for the handler
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/hook?token=s3cr3t"
	l.Close()

	r := s.jobrun([]string{"FAILS=9", "GITHUB_ACTIONS=", "GITLAB_CI=", "CI_JOB_URL=", "CI_USER=", "USER=ana"}, "-c", f, "migrate", "--version", "v1",
		"--notify", hook.URL+"/release", "--notify", dead, "--notify", slow.URL)
	if r.code != jobs.ExitFailed {
		t.Fatalf("exit %d, want %d: the job's own, whatever the endpoints did", r.code, jobs.ExitFailed)
	}
	mu.Lock()
	defer mu.Unlock()
	var ev map[string]any
	if len(bodies) != 1 || json.Unmarshal([]byte(bodies[0]), &ev) != nil {
		t.Fatalf("the webhook got %q, want one JSON document", bodies)
	}
	for k, want := range map[string]any{"kind": "run", "stack": s.name, "job": "migrate", "version": "v1", "verdict": "failed", "exit_code": 1.0, "attempts": 3.0} {
		if ev[k] != want {
			t.Errorf("%s = %v, want %v", k, ev[k], want)
		}
	}
	if who, _ := ev["who"].(string); !strings.HasPrefix(who, "ana@") {
		t.Errorf("who = %q, want ana@host", who)
	}
	verdict := strings.Index(r.stderr, "v1 failed in")
	warnings := strings.Count(r.stderr, "WARNING: the verdict was not announced: notify ")
	if verdict < 0 || warnings != 2 || strings.Index(r.stderr, "WARNING: the verdict was not announced") < verdict {
		t.Errorf("want the verdict line, then one WARNING per unreachable endpoint (got %d):\n%s", warnings, tail(r.stderr, 6))
	}
	if strings.Contains(r.stderr, "s3cr3t") {
		t.Errorf("a webhook's secret was printed")
	}
	if !strings.Contains(r.stderr, notify.Where(slow.URL)) {
		t.Errorf("the slow endpoint is not named")
	}
}
