package cmdutil

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"jobrun/clocktest"
	"jobrun/jobs"
	"jobrun/notify"
)

// TestNotifyURLs: an empty URL (a CI secret that is not set) is none.
func TestNotifyURLs(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want []string
	}{
		{"unset secret", "", nil, []string{}},
		{"one from the environment", "https://hooks.example/a", nil, []string{"https://hooks.example/a"}},
		{"empty flag among others", "", []string{"--notify", "", "--notify", "https://hooks.example/b"}, []string{"https://hooks.example/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("JOBRUN_NOTIFY", tt.env)
			var got []string
			app := &cli.App{Flags: []cli.Flag{NotifyFlag()}, Action: func(c *cli.Context) error {
				got = NotifyURLs(c)
				return nil
			}}
			if err := app.Run(append([]string{"jobrun"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || CheckNotify(got) != nil {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAnnouncementsWaitOnTheCommandsClock: a webhook that answers 503 once
// is tried again after a wait on the command's clock, not the real one.
func TestAnnouncementsWaitOnTheCommandsClock(t *testing.T) {
	var tries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if tries.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	clock := clocktest.New(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	clock.AutoAdvance(t.Context())
	var log bytes.Buffer
	f := &Factory{Now: clock.Now, After: clock.After}
	a := NewAnnouncements(context.Background(), f, &jobs.TextReporter{Log: &log}, []string{srv.URL})
	a.Send(notify.Event{Kind: "run", Stack: "todo", Job: "migrate"})
	a.Wait()
	if tries.Load() != 2 || log.Len() != 0 {
		t.Errorf("%d tries, warnings %q: want delivered on the second", tries.Load(), log.String())
	}
	if asked := clock.Asked(); len(asked) != 1 {
		t.Errorf("waits on the command's clock %v, want the one before the second try", asked)
	}
}
