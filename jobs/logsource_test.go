package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

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

// infoEngine answers Info with its node, after failing as often as told.
type infoEngine struct {
	EngineClient
	fails, calls int
}

func (e *infoEngine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	e.calls++
	if e.calls <= e.fails {
		return client.SystemInfoResult{}, context.Canceled
	}
	return client.SystemInfoResult{Info: system.Info{Swarm: swarm.Info{NodeID: "n1"}}}, nil
}

// TestLocalNodeKeepsOnlyAnAnswer: a failed ask is asked again; an answer is
// kept.
func TestLocalNodeKeepsOnlyAnAnswer(t *testing.T) {
	e := &infoEngine{fails: 1}
	n := &localNode{EngineClient: e}
	if _, err := n.NodeID(context.Background()); err == nil {
		t.Fatal("the first ask failed, yet NodeID says no error")
	}
	for range 2 {
		if id, err := n.NodeID(context.Background()); id != "n1" || err != nil {
			t.Errorf("NodeID = %q, %v; want n1", id, err)
		}
	}
	if e.calls != 2 {
		t.Errorf("Info asked %d times, want 2: once failed, once answered", e.calls)
	}
}
