package jobs

import (
	"fmt"
	"strings"
	"testing"
	"time"

	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/swarm"

	"jobrun/jobs/jobstest"
)

func durp(d time.Duration) *time.Duration { return &d }

func composeDur(d time.Duration) *composetypes.Duration { c := composetypes.Duration(d); return &c }

func TestRestartPolicy(t *testing.T) {
	deploy := func(rp composetypes.RestartPolicy) composetypes.ServiceConfig {
		return composetypes.ServiceConfig{Name: "migrate", Deploy: composetypes.DeployConfig{RestartPolicy: &rp}}
	}
	restart := func(r string) composetypes.ServiceConfig {
		return composetypes.ServiceConfig{Name: "migrate", Restart: r}
	}
	tests := []struct {
		name      string
		svc       composetypes.ServiceConfig
		opts      SpecOptions
		wantRuns  int
		wantDelay time.Duration
		wantNote  string // a word of the note; "" for none
		wantErr   string // words of a *UsageError; "" for none
	}{
		{name: "no policy in the stack file", svc: restart(""), wantRuns: 7, wantDelay: 30 * time.Second},
		{name: "empty restart_policy", svc: deploy(composetypes.RestartPolicy{}), wantRuns: 7, wantDelay: 30 * time.Second},
		{name: "stack file's max_attempts and delay kept", svc: deploy(composetypes.RestartPolicy{Condition: "on-failure", MaxAttempts: uint64p(2), Delay: composeDur(5 * time.Second)}), wantRuns: 3, wantDelay: 5 * time.Second},
		{name: "max_attempts 0 is bounded", svc: deploy(composetypes.RestartPolicy{Condition: "on-failure", MaxAttempts: uint64p(0)}), wantRuns: 7, wantDelay: 30 * time.Second, wantNote: "max_attempts: 0 means no limit"},
		{name: "condition any becomes on-failure", svc: deploy(composetypes.RestartPolicy{Condition: "any", MaxAttempts: uint64p(3)}), wantRuns: 4, wantDelay: 30 * time.Second, wantNote: "condition any"},
		{name: "condition none runs once", svc: deploy(composetypes.RestartPolicy{Condition: "none", MaxAttempts: uint64p(5)}), wantRuns: 1, wantDelay: 30 * time.Second},
		{name: "a window is dropped", svc: deploy(composetypes.RestartPolicy{MaxAttempts: uint64p(2), Window: composeDur(time.Minute)}), wantRuns: 3, wantDelay: 30 * time.Second, wantNote: "window is ignored"},
		{name: `restart: "no" runs once`, svc: restart("no"), wantRuns: 1, wantDelay: 30 * time.Second},
		{name: "restart: on-failure is jobrun's default", svc: restart("on-failure"), wantRuns: 7, wantDelay: 30 * time.Second},
		{name: "restart: on-failure:2", svc: restart("on-failure:2"), wantRuns: 3, wantDelay: 30 * time.Second},
		{name: "restart: on-failure:0 is bounded", svc: restart("on-failure:0"), wantRuns: 7, wantDelay: 30 * time.Second, wantNote: "no limit"},
		{name: "restart: always restarts on failure only", svc: restart("always"), wantRuns: 7, wantDelay: 30 * time.Second, wantNote: "on failure only"},
		{name: "restart: unless-stopped restarts on failure only", svc: restart("unless-stopped"), wantRuns: 7, wantDelay: 30 * time.Second, wantNote: "on failure only"},
		{name: "deploy.restart_policy wins over restart:", svc: composetypes.ServiceConfig{Name: "migrate", Restart: "no", Deploy: composetypes.DeployConfig{RestartPolicy: &composetypes.RestartPolicy{MaxAttempts: uint64p(1)}}}, wantRuns: 2, wantDelay: 30 * time.Second},
		{name: "flags override the stack file", svc: deploy(composetypes.RestartPolicy{Condition: "on-failure", MaxAttempts: uint64p(2), Delay: composeDur(5 * time.Second)}), opts: SpecOptions{MaxAttempts: uint64p(0), RestartDelay: durp(time.Second)}, wantRuns: 1, wantDelay: time.Second},
		{name: "flags without a stack policy", svc: restart(""), opts: SpecOptions{MaxAttempts: uint64p(9), RestartDelay: durp(0)}, wantRuns: 10, wantDelay: 0},
		{name: "unknown condition", svc: deploy(composetypes.RestartPolicy{Condition: "always"}), wantErr: `condition "always" is unknown`},
		{name: "unknown restart", svc: restart("sometimes"), wantErr: `restart "sometimes" is unknown`},
		{name: "negative delay in the stack file", svc: deploy(composetypes.RestartPolicy{Delay: composeDur(-time.Second)}), wantErr: "negative"},
		{name: "negative delay flag", svc: restart(""), opts: SpecOptions{RestartDelay: durp(-5 * time.Second)}, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rp, notes, err := restartPolicy(tt.svc, tt.opts)
			if tt.wantErr != "" {
				jobstest.WantExit(t, err, ExitUsage, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if p.MaxRuns != tt.wantRuns || p.Delay != tt.wantDelay {
				t.Errorf("policy = %+v, want MaxRuns %d Delay %s", p, tt.wantRuns, tt.wantDelay)
			}
			if err := checkSwarmRuns(rp, tt.wantRuns); err != nil {
				t.Error(err)
			}
			if rp.Delay == nil || *rp.Delay != tt.wantDelay {
				t.Errorf("swarm delay = %v, want %s", rp.Delay, tt.wantDelay)
			}
			if rp.Window != nil {
				t.Errorf("swarm window = %s, want none: it unbounds the restarts", *rp.Window)
			}
			if got := strings.Join(notes, "; "); (tt.wantNote == "") != (got == "") || !strings.Contains(got, tt.wantNote) {
				t.Errorf("notes %q, want one with %q", got, tt.wantNote)
			}
		})
	}
}

// checkSwarmRuns says how the Swarm policy departs from running at most
// runs times, as swarmkit's restart supervisor reads it: condition none
// runs once; MaxAttempts 0 (or none) restarts without bound.
func checkSwarmRuns(rp *swarm.RestartPolicy, runs int) error {
	switch {
	case rp == nil:
		return fmt.Errorf("no restart policy: Swarm's default restarts without bound")
	case runs == 1 && rp.Condition != swarm.RestartPolicyConditionNone:
		return fmt.Errorf("condition %q for one run, want none", rp.Condition)
	case runs > 1 && rp.Condition != swarm.RestartPolicyConditionOnFailure:
		return fmt.Errorf("condition %q, want on-failure", rp.Condition)
	case runs > 1 && (rp.MaxAttempts == nil || *rp.MaxAttempts != uint64(runs-1)):
		return fmt.Errorf("max attempts %v, want %d", rp.MaxAttempts, runs-1)
	}
	return nil
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
