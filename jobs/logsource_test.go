package jobs

import (
	"context"
	"testing"
	"time"

	"jobrun/logs"
)

// TestLogSourcesGiveTheEngineSourceTheRunsClock: the engine source's window
// and resume backoff keep the clock the run was given, not the wall's.
func TestLogSourcesGiveTheEngineSourceTheRunsClock(t *testing.T) {
	var asked []time.Duration
	now := func() time.Time { return t0 }
	after := func(d time.Duration) <-chan time.Time { asked = append(asked, d); return nil }
	src := NewLogSources(LogOptions{Mode: "docker"}, EngineSource(nil, "todo", nil), nil, now, after)
	got, err := src.ForJob(context.Background(), testJob())
	if err != nil {
		t.Fatalf("ForJob: %v", err)
	}
	e, ok := got.Source.(logs.Engine)
	if !ok {
		t.Fatalf("source %T, want logs.Engine", got.Source)
	}
	if e.Now == nil || !e.Now().Equal(t0) || e.After == nil {
		t.Fatalf("the engine source keeps another clock")
	}
	e.After(time.Second)
	if len(asked) != 1 || asked[0] != time.Second {
		t.Errorf("the run's After was asked %v, want [1s]", asked)
	}
}
