package jobs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/logs"
)

// Record is what is kept of a run after its service is gone.
type Record struct {
	RunID    string    `json:"run_id"`
	Job      string    `json:"job"`
	Stack    string    `json:"stack"`
	Version  string    `json:"version"`
	Image    string    `json:"image"`
	Service  string    `json:"service"`
	Mode     string    `json:"mode"` // replicated-job, or replicated on old engines
	Outcome  Outcome   `json:"outcome"`
	Reason   string    `json:"reason"`
	MaxRuns  int       `json:"max_runs"`
	Attempts []Attempt `json:"attempts"`
	// Failures are the attempts' distinct failures, the first one first.
	Failures []Failure `json:"failures,omitempty"`
	// MayHaveChanged: a failed job began changing things (it printed, or
	// printed a line of its x-jobrun changes-when) before it failed.
	MayHaveChanged bool      `json:"may_have_changed,omitempty"`
	Started        time.Time `json:"started"`
	Ended          time.Time `json:"ended"`
	LogSource      string    `json:"log_source"`
	LogGroup       string    `json:"log_group,omitempty"`  // CloudWatch
	LogRegion      string    `json:"log_region,omitempty"` // CloudWatch
	// LogEndpoint is the job's awslogs-endpoint, when its spec sets one.
	LogEndpoint string `json:"log_endpoint,omitempty"`
	LogNote     string `json:"log_note,omitempty"`  // why output may be incomplete
	Surplus     string `json:"surplus,omitempty"`   // how Swarm ran more than the job asked for
	StopNote    string `json:"stop_note,omitempty"` // why the job may not have stopped
	Attached    bool   `json:"attached,omitempty"`  // this process watched another's run
	Skipped     bool   `json:"skipped,omitempty"`   // an earlier run of this version had succeeded
	Origin      Origin `json:"origin"`              // who ran it, from where
	// Exec is set for a jobrun exec: a command run in the job's context,
	// not a run of the job.
	Exec *ExecInfo `json:"exec,omitempty"`
	// Spec names the config that keeps the run's service spec, for a
	// replay of its attempts (jobrun exec --run); "" when none was kept.
	Spec string `json:"spec,omitempty"`
}

// AttemptOutput is the tail of one attempt's output, kept with the record.
type AttemptOutput struct {
	Number    int    `json:"number"`
	Output    []byte `json:"output"`
	Truncated bool   `json:"truncated,omitempty"` // only the tail was kept
}

const (
	// LabelKind says what a jobrun config holds: a run record, its output, a
	// deploy record or a deploy lock.
	LabelKind    = "io.jobrun.kind"
	labelOutcome = "io.jobrun.outcome"
	kindRecord   = "record"
	kindOutput   = "output"
	// outcomeExec is an exec's outcome label: its own success is never a
	// success of the job's version (Succeeded filters by this label).
	outcomeExec = "exec"
	// Swarm caps a config at 500 KiB: keep the stored output well under it.
	maxStoredOutput = 400 << 10
)

// ConfigAPI is the part of the engine the record store uses.
type ConfigAPI interface {
	ConfigCreate(ctx context.Context, options client.ConfigCreateOptions) (client.ConfigCreateResult, error)
	ConfigList(ctx context.Context, options client.ConfigListOptions) (client.ConfigListResult, error)
	ConfigRemove(ctx context.Context, id string, options client.ConfigRemoveOptions) (client.ConfigRemoveResult, error)
}

// Records keeps run records as labelled Swarm configs: they live in the
// swarm's replicated store, so any machine that reaches a manager reads them,
// and they outlive the job service.
type Records struct{ Engine ConfigAPI }

// A run's configs are named by its ID. Run IDs sort by time, so the record
// names do too: the newest runs are found without decoding a record.
func recordName(runID string) string { return "jobrun-" + runID + "-record" }
func outputName(runID string) string { return "jobrun-" + runID + "-output" }

// Save stores the record and, when given, the attempts' output.
func (s Records) Save(ctx context.Context, rec Record, outputs []AttemptOutput) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	outcome := string(rec.Outcome)
	if rec.Exec != nil {
		outcome = outcomeExec
	}
	labels := func(kind string) map[string]string {
		return map[string]string{
			LabelKind: kind, LabelStack: rec.Stack, LabelJob: rec.Job,
			LabelVersion: rec.Version, LabelRunID: rec.RunID, labelOutcome: outcome,
		}
	}
	recordLabels := labels(kindRecord)
	if rec.Spec != "" {
		recordLabels[labelSpec] = rec.Spec
	}
	if _, err := s.Engine.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: recordName(rec.RunID), Labels: recordLabels},
		Data:        data,
	}}); err != nil {
		return fmt.Errorf("save run record %s: %w", rec.RunID, err)
	}
	if len(outputs) == 0 {
		return nil
	}
	packed, err := packOutputs(outputs)
	if err != nil {
		return err
	}
	if _, err := s.Engine.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: outputName(rec.RunID), Labels: labels(kindOutput)},
		Data:        packed,
	}}); err != nil {
		return fmt.Errorf("save output of run %s: %w", rec.RunID, err)
	}
	return nil
}

// RecordFilter selects run records by the labels Save puts on them, so that
// the engine sends only those: Swarm lists every config with its data, and
// a job's records grow by one a run. An empty field selects every value.
type RecordFilter struct {
	Stack, Job, Version, RunID string
	Outcome                    Outcome
	Kind                       RecordKind
}

// RecordKind selects runs of jobs, execs, or both ("").
type RecordKind string

const (
	KindRuns  RecordKind = "runs"
	KindExecs RecordKind = "execs"
)

func (f RecordFilter) args() client.Filters {
	args := make(client.Filters).Add("label", LabelKind+"="+kindRecord)
	if f.Kind == KindExecs {
		args.Add("label", labelOutcome+"="+outcomeExec)
	}
	for _, l := range [...]struct{ key, value string }{
		{LabelStack, f.Stack}, {LabelJob, f.Job}, {LabelVersion, f.Version}, {LabelRunID, f.RunID}, {labelOutcome, string(f.Outcome)},
	} {
		if l.value != "" {
			args.Add("label", l.key+"="+l.value)
		}
	}
	return args
}

// matches checks a decoded record against the filter: the engine matched
// the labels, and what is returned is the record.
func (f RecordFilter) matches(r Record) bool {
	is := func(want, got string) bool { return want == "" || want == got }
	kind := f.Kind == "" || (f.Kind == KindExecs) == (r.Exec != nil)
	return kind && is(f.Stack, r.Stack) && is(f.Job, r.Job) && is(f.Version, r.Version) && is(f.RunID, r.RunID) && is(string(f.Outcome), string(r.Outcome))
}

// configs lists the configs of the records f selects, newest first, decoding
// none of them: the names hold the run IDs.
func (s Records) configs(ctx context.Context, f RecordFilter) ([]swarm.Config, error) {
	list, err := s.Engine.ConfigList(ctx, client.ConfigListOptions{Filters: f.args()})
	cfgs := list.Items
	if err != nil {
		return nil, fmt.Errorf("list run records: %w", err)
	}
	slices.SortFunc(cfgs, func(a, b swarm.Config) int { return strings.Compare(b.Spec.Name, a.Spec.Name) })
	return cfgs, nil
}

// decode reads a record config; false for one that holds no record f
// selects: not ours to judge, a config someone else labelled.
func (f RecordFilter) decode(c swarm.Config) (Record, bool) {
	var r Record
	if err := json.Unmarshal(c.Spec.Data, &r); err != nil {
		return Record{}, false
	}
	return r, f.matches(r)
}

// Find returns the newest limit records f selects (all when limit < 1),
// oldest first. The engine cannot limit a listing, but only the records
// returned are decoded.
func (s Records) Find(ctx context.Context, f RecordFilter, limit int) ([]Record, error) {
	cfgs, err := s.configs(ctx, f)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > len(cfgs) {
		limit = len(cfgs)
	}
	out := make([]Record, 0, limit)
	for _, c := range cfgs {
		if len(out) == limit {
			break
		}
		if r, ok := f.decode(c); ok {
			out = append(out, r)
		}
	}
	slices.Reverse(out)
	// The jobs of one `jobrun run` take their run IDs in the same second:
	// show them in the order they started.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// Succeeded returns the newest successful run of the job's version, or
// false. The engine sends only the version's successes, so the check costs
// the same after ten runs of the job as after ten thousand.
func (s Records) Succeeded(ctx context.Context, stack, job, version string) (Record, bool, error) {
	if version == "" {
		return Record{}, false, nil // a filter's "" is every version; no run has none
	}
	found, err := s.Find(ctx, RecordFilter{Stack: stack, Job: job, Version: version, Outcome: Succeeded}, 1)
	if err != nil || len(found) == 0 {
		return Record{}, false, err
	}
	return found[0], true, nil
}

// newRecord is a run's record as it starts.
func newRecord(job Job, src logs.Source, place LogPlace, started time.Time) Record {
	rec := Record{
		RunID: job.RunID, Job: job.Name, Stack: job.Stack, Version: job.Version,
		Service: job.Spec.Name, MaxRuns: job.Policy.MaxRuns, Started: started, Mode: "replicated-job",
		LogSource: src.Name(), LogGroup: place.Group, LogRegion: place.Region, LogEndpoint: place.Endpoint,
	}
	if cs := job.Spec.TaskTemplate.ContainerSpec; cs != nil {
		rec.Image = cs.Image
	}
	if job.Legacy || job.Spec.Mode.Replicated != nil {
		rec.Mode = "replicated"
	}
	return rec
}

// Outputs returns the output stored with a run, if any.
func (s Records) Outputs(ctx context.Context, runID string) ([]AttemptOutput, error) {
	f := make(client.Filters).Add("label", LabelKind+"="+kindOutput).Add("label", LabelRunID+"="+runID)
	list, err := s.Engine.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	cfgs := list.Items
	if err != nil {
		return nil, fmt.Errorf("read output of run %s: %w", runID, err)
	}
	if len(cfgs) == 0 {
		return nil, nil
	}
	return unpackOutputs(cfgs[0].Spec.Data)
}

func packOutputs(in []AttemptOutput) ([]byte, error) {
	outputs := append([]AttemptOutput(nil), in...) // shrunk below: not the caller's
	for {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if err := json.NewEncoder(zw).Encode(outputs); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if buf.Len() <= maxStoredOutput {
			return buf.Bytes(), nil
		}
		// Too big even compressed: halve every attempt's tail and try again.
		// Rounding up empties one-byte tails, so this ends.
		for i := range outputs {
			o := &outputs[i]
			if len(o.Output) > 0 {
				o.Output = o.Output[(len(o.Output)+1)/2:]
				o.Truncated = true
			}
		}
	}
}

func unpackOutputs(data []byte) ([]AttemptOutput, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("stored output: %w", err)
	}
	var out []AttemptOutput
	if err := json.NewDecoder(io.LimitReader(zr, 64<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("stored output: %w", err)
	}
	return out, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max       int
	buf       []byte
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		// Compact only when twice the limit, so a stream of small writes
		// copies each byte a bounded number of times.
		if len(t.buf) >= 2*t.max {
			t.buf = append(t.buf[:0], t.buf[over:]...)
		}
		t.truncated = true
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	if over := len(t.buf) - t.max; over > 0 {
		return t.buf[over:]
	}
	return t.buf
}
