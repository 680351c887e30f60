package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

const (
	kindLock   = "deploy-lock"
	kindDeploy = "deploy"
)

// Verdict is how a release ended.
type Verdict string

const (
	Released       Verdict = "released"        // every job succeeded, every service converged
	JobFailed      Verdict = "job-failed"      // a job did not succeed: see its run
	ServicesFailed Verdict = "services-failed" // a service rolled back, paused or timed out
	RolledBackTo   Verdict = "rolled-back"     // jobrun rollback put an earlier release's services back, and they converged
)

// JobRun is one job's run in a release.
type JobRun struct {
	Job     string       `json:"job"`
	Phase   Phase        `json:"phase"`
	RunID   string       `json:"run_id,omitempty"`
	Outcome jobs.Outcome `json:"outcome,omitempty"`
	Skipped bool         `json:"skipped,omitempty"` // this version had already succeeded
}

// Record is what is kept of a release, beside the jobs' run records.
type Record struct {
	ID       string          `json:"id"`
	Stack    string          `json:"stack"`
	Version  string          `json:"version"`
	Verdict  Verdict         `json:"verdict"`
	Reason   string          `json:"reason"`
	Jobs     []JobRun        `json:"jobs"`
	Services []ServiceResult `json:"services"`
	Started  time.Time       `json:"started"`
	Ended    time.Time       `json:"ended"`
	Origin   jobs.Origin     `json:"origin"` // who released it, from where
	// Restores is, for a rollback, the ID of the deploy whose services it
	// put back (Version is that deploy's).
	Restores string `json:"restores,omitempty"`
}

// Records keeps deploy records as labelled Swarm configs, as run records are.
type Records struct{ Engine jobs.ConfigAPI }

// Save stores the record.
func (s Records) Save(ctx context.Context, rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = s.Engine.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: recordName(rec.ID), Labels: map[string]string{
			jobs.LabelKind: kindDeploy, jobs.LabelStack: rec.Stack, jobs.LabelVersion: rec.Version, labelVerdict: string(rec.Verdict),
		}},
		Data: data,
	}})
	if err != nil {
		return fmt.Errorf("save deploy record %s: %w", rec.ID, err)
	}
	return nil
}

// List returns the stack's deploy records, oldest first.
func (s Records) List(ctx context.Context, stack string) ([]Record, error) {
	cfgs, err := s.configs(ctx, kindDeploy, stack)
	if err != nil {
		return nil, err
	}
	return decodeRecords(cfgs), nil
}

// configs are the stack's configs of kind: deploy records or their specs.
func (s Records) configs(ctx context.Context, kind, stack string) ([]swarm.Config, error) {
	list, err := s.Engine.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", jobs.LabelKind+"="+kind).Add("label", jobs.LabelStack+"="+stack)})
	cfgs := list.Items
	if err != nil {
		return nil, fmt.Errorf("list deploy records: %w", err)
	}
	return cfgs, nil
}

// decodeRecords reads the records the configs hold, oldest first.
func decodeRecords(cfgs []swarm.Config) []Record {
	out := make([]Record, 0, len(cfgs))
	for _, c := range cfgs {
		var r Record
		if json.Unmarshal(c.Spec.Data, &r) == nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}
