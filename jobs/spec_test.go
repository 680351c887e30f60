package jobs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

func durp(d time.Duration) *time.Duration { return &d }

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		name      string
		from      *swarm.RestartPolicy
		opts      SpecOptions
		wantRuns  int
		wantDelay time.Duration
		wantCond  swarm.RestartPolicyCondition
		wantMax   uint64
		wantErr   string // words of a *UsageError; "" for none
	}{
		{
			name:      "no policy in the stack file",
			from:      nil,
			wantRuns:  7,
			wantDelay: 30 * time.Second,
			wantCond:  swarm.RestartPolicyConditionOnFailure,
			wantMax:   6,
		},
		{
			name:      "empty policy in the stack file",
			from:      &swarm.RestartPolicy{},
			wantRuns:  7,
			wantDelay: 30 * time.Second,
			wantCond:  swarm.RestartPolicyConditionOnFailure,
			wantMax:   6,
		},
		{
			name:      "stack file's max_attempts and delay kept",
			from:      &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: uint64p(2), Delay: durp(5 * time.Second)},
			wantRuns:  3,
			wantDelay: 5 * time.Second,
			wantCond:  swarm.RestartPolicyConditionOnFailure,
			wantMax:   2,
		},
		{
			name:      "flags override the stack file",
			from:      &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: uint64p(2), Delay: durp(5 * time.Second)},
			opts:      SpecOptions{MaxAttempts: uint64p(0), RestartDelay: durp(time.Second)},
			wantRuns:  1,
			wantDelay: time.Second,
			wantCond:  swarm.RestartPolicyConditionOnFailure,
			wantMax:   0,
		},
		{
			name:      "flags without a stack policy",
			opts:      SpecOptions{MaxAttempts: uint64p(9), RestartDelay: durp(0)},
			wantRuns:  10,
			wantDelay: 0,
			wantCond:  swarm.RestartPolicyConditionOnFailure,
			wantMax:   9,
		},
		{
			name:      "condition any becomes on-failure",
			from:      &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, MaxAttempts: uint64p(3)},
			wantRuns:  4,
			wantDelay: 30 * time.Second,
			wantCond:  swarm.RestartPolicyConditionOnFailure,
			wantMax:   3,
		},
		{
			name:      "condition none runs once",
			from:      &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone, MaxAttempts: uint64p(5)},
			wantRuns:  1,
			wantDelay: 30 * time.Second,
			wantCond:  swarm.RestartPolicyConditionNone,
			wantMax:   5,
		},
		{
			name:    "unknown condition",
			from:    &swarm.RestartPolicy{Condition: "always"},
			wantErr: `condition "always" is unknown`,
		},
		{
			name:    "negative delay in the stack file",
			from:    &swarm.RestartPolicy{Delay: durp(-time.Second)},
			wantErr: "negative",
		},
		{
			name:    "negative delay flag",
			opts:    SpecOptions{RestartDelay: durp(-5 * time.Second)},
			wantErr: "negative",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before swarm.RestartPolicy
			if tt.from != nil {
				before = *tt.from
			}
			p, rp, err := restartPolicy(tt.from, tt.opts)
			if tt.from != nil && *tt.from != before {
				t.Errorf("restartPolicy changed its input: %+v, was %+v", *tt.from, before)
			}
			if tt.wantErr != "" {
				var ue *UsageError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v (%T), want *UsageError", err, err)
				}
				if !strings.Contains(ue.Msg, tt.wantErr) {
					t.Errorf("err %q does not contain %q", ue.Msg, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if p.MaxRuns != tt.wantRuns || p.Delay != tt.wantDelay {
				t.Errorf("policy = %+v, want MaxRuns %d Delay %s", p, tt.wantRuns, tt.wantDelay)
			}
			if rp.Condition != tt.wantCond {
				t.Errorf("condition = %q, want %q", rp.Condition, tt.wantCond)
			}
			if rp.MaxAttempts == nil || *rp.MaxAttempts != tt.wantMax {
				t.Errorf("max attempts = %v, want %d", rp.MaxAttempts, tt.wantMax)
			}
			if rp.Delay == nil || *rp.Delay != tt.wantDelay {
				t.Errorf("swarm delay = %v, want %s", rp.Delay, tt.wantDelay)
			}
		})
	}
}

func TestRestartPolicyKeepsWindow(t *testing.T) {
	w := time.Minute
	_, rp, err := restartPolicy(&swarm.RestartPolicy{Window: &w}, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rp.Window == nil || *rp.Window != time.Minute {
		t.Errorf("window = %v, want 1m", rp.Window)
	}
}

func TestJobLabels(t *testing.T) {
	have := map[string]string{
		"com.docker.stack.namespace": "todobackend",
		"com.example.team":           "web",
		LabelRunID:                   "stale",
	}
	got := jobLabels(have, map[string]string{LabelJob: "migrate", LabelRunID: "r1"})
	want := map[string]string{"com.example.team": "web", LabelJob: "migrate", LabelRunID: "r1"}
	if len(got) != len(want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["com.docker.stack.namespace"]; ok {
		t.Errorf("stack namespace label kept: %v", got)
	}
	if have["com.docker.stack.namespace"] != "todobackend" || have[LabelRunID] != "stale" {
		t.Errorf("jobLabels changed its input: %v", have)
	}
	if got := jobLabels(nil, map[string]string{LabelJob: "x"}); len(got) != 1 || got[LabelJob] != "x" {
		t.Errorf("jobLabels(nil, ...) = %v", got)
	}
}

func TestServiceName(t *testing.T) {
	tests := []struct{ stack, job, want string }{
		{"todobackend", "migrate", "jobrun_todobackend_migrate"},
		{"s", "collect-static", "jobrun_s_collect-static"},
	}
	for _, tt := range tests {
		got := ServiceName(tt.stack, tt.job)
		if got != tt.want {
			t.Errorf("ServiceName(%q, %q) = %q, want %q", tt.stack, tt.job, got, tt.want)
		}
		if got == tt.stack+"_"+tt.job {
			t.Errorf("ServiceName(%q, %q) collides with the stack's own service", tt.stack, tt.job)
		}
		if !ValidName(got) {
			t.Errorf("ValidName(%q) = false", got)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", false},
		{"simple", "migrate", true},
		{"dash and underscore inside", "collect-static_v2", true},
		{"digits and capitals", "Job2", true},
		{"63 chars", strings.Repeat("a", 63), true},
		{"64 chars", strings.Repeat("a", 64), false},
		{"leading dash", "-migrate", false},
		{"leading underscore", "_migrate", false},
		{"dot", "app.migrate", false},
		{"space", "db migrate", false},
		{"slash", "db/migrate", false},
		{"non-ASCII letter", "migré", false},
		{"long service name", ServiceName(strings.Repeat("s", 30), strings.Repeat("j", 30)), false},
		// Swarm's own check (swarmkit controlapi isValidDNSName,
		// ^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$) refuses a trailing '-' or '_'.
		{"trailing dash", "migrate-", false},
		{"trailing underscore", "migrate_", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidName(tt.in); got != tt.want {
				t.Errorf("ValidName(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
