package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/cli/opts"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Labels jobrun puts on its services and run records.
const (
	LabelJob     = "io.jobrun.job"
	LabelStack   = "io.jobrun.stack"
	LabelVersion = "io.jobrun.version"
	LabelRunID   = "io.jobrun.run-id"
	LabelMaxRuns = "io.jobrun.max-runs"
	LabelDelay   = "io.jobrun.restart-delay"
	// LabelStackNamespace marks what docker stack deploy made, and for which stack.
	LabelStackNamespace = "com.docker.stack.namespace"
	defaultMaxTries     = 6 // restarts, as in the seed's stack file
	defaultDelay        = 30 * time.Second
	// ReplicatedJobsAPI is the first engine API with replicated jobs.
	ReplicatedJobsAPI = "1.41"
)

// SpecOptions are the flags that shape the job's service.
type SpecOptions struct {
	Version        string
	RunID          string
	MaxAttempts    *uint64        // restarts; nil: the stack file's, else 6
	RestartDelay   *time.Duration // nil: the stack file's, else 30s
	PendingTimeout time.Duration
	Legacy         bool       // a replicas:1 service, for engines older than API 1.41
	FinalExitCodes *ExitCodes // nil: the stack file's x-jobrun final-exit-codes
	RetryWhen      []string   // nil: the stack file's x-jobrun retry-when
}

// Job is one job ready to run: its service spec and the policy to judge it by.
type Job struct {
	Name    string
	Stack   string
	Version string
	RunID   string
	Spec    swarm.ServiceSpec
	Policy  Policy
	Legacy  bool
	Timeout time.Duration // x-jobrun timeout; 0: --timeout's
	Output  OutputRules   // x-jobrun retry-when and changes-when
	Notes   []string      // where the job departs from the stack file, and why
}

// ServiceName is the job service's name. It is not the stack's own
// "<stack>_<job>", so a stack that also deploys the job as a service never
// collides with it.
func ServiceName(stack, job string) string { return "jobrun_" + stack + "_" + job }

// Build converts the stack file's service into the job's service spec, the way
// `docker stack deploy` converts it, then makes it a job: replicated-job mode,
// a bounded on-failure restart policy, jobrun's labels and no stack label.
func Build(ctx context.Context, engine client.APIClient, stack *Stack, name string, o SpecOptions) (Job, error) {
	svc, err := stack.Service(name)
	if err != nil {
		return Job{}, err
	}
	if err := checkNetworks(ctx, engine, stack, svc); err != nil {
		return Job{}, err
	}
	var created []string
	if err := createJobObjects(ctx, engine, stack, svc, func(s string) { created = append(created, s) }); err != nil {
		return Job{}, err
	}
	one := *stack.Config
	one.Services = []composetypes.ServiceConfig{svc}
	specs, err := convert.Services(ctx, convert.NewNamespace(stack.Name), &one, engine)
	if err != nil {
		return Job{}, convertError(name, err)
	}
	spec := specs[name]

	policy, restart, notes, err := restartPolicy(svc, o)
	if err != nil {
		return Job{}, err
	}
	ext, err := extensionOf(svc)
	if err != nil {
		return Job{}, err
	}
	policy.FinalExitCodes = ext.FinalExitCodes
	if o.FinalExitCodes != nil {
		policy.FinalExitCodes = *o.FinalExitCodes
	}
	if o.RetryWhen != nil {
		ext.Output.RetryWhen = o.RetryWhen
	}
	notes = append(created, notes...)
	spec.TaskTemplate.RestartPolicy = restart
	spec.Name = ServiceName(stack.Name, name)
	spec.Labels = jobLabels(spec.Labels, map[string]string{
		LabelJob:     name,
		LabelStack:   stack.Name,
		LabelVersion: o.Version,
		LabelRunID:   o.RunID,
		LabelMaxRuns: strconv.Itoa(policy.MaxRuns),
		LabelDelay:   policy.Delay.String(),
	})
	if codes := policy.FinalExitCodes.String(); codes != "" {
		spec.Labels[LabelFinalExitCodes] = codes
	}
	ext.Output.label(spec.Labels)
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		cs.Labels = jobLabels(cs.Labels, map[string]string{LabelJob: name, LabelRunID: o.RunID})
	}
	one64 := uint64(1)
	if o.Legacy {
		spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one64}}
	} else {
		spec.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: &one64, TotalCompletions: &one64}}
		// Swarm refuses update and rollback settings on job services.
		spec.UpdateConfig, spec.RollbackConfig = nil, nil
	}
	policy.PendingTimeout = o.PendingTimeout
	return Job{Name: name, Stack: stack.Name, Version: o.Version, RunID: o.RunID, Spec: spec, Policy: policy, Legacy: o.Legacy, Timeout: ext.Timeout, Output: ext.Output, Notes: notes}, nil
}

// restartPolicy decides how often the job may run from what the stack file
// says (restart: and deploy.restart_policy) and the flags, and the Swarm
// policy that runs it exactly that often. docker/cli's converter is not used
// for this: it drops `restart: "no"` (leaving Swarm's unbounded default) and
// sends `on-failure` without a count as MaxAttempts 0, which Swarm reads as
// unbounded. notes say where jobrun departs from the file, and why.
func restartPolicy(svc composetypes.ServiceConfig, o SpecOptions) (Policy, *swarm.RestartPolicy, []string, error) {
	restarts, delay, notes, err := stackRestarts(svc)
	if err != nil {
		return Policy{}, nil, nil, err
	}
	if o.MaxAttempts != nil {
		restarts, notes = *o.MaxAttempts, nil
	}
	if o.RestartDelay != nil {
		delay = *o.RestartDelay
	}
	if delay < 0 {
		return Policy{}, nil, nil, &UsageError{Msg: fmt.Sprintf("job %s: restart delay %s is negative: use a duration like 30s", svc.Name, delay)}
	}
	// A restart window makes Swarm count only the restarts inside it, so
	// the total would have no bound: it is never sent.
	rp := &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: &restarts, Delay: &delay}
	if restarts == 0 {
		// MaxAttempts 0 is "no limit" to Swarm: one run is condition none.
		rp = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone, Delay: &delay}
	}
	return Policy{MaxRuns: int(restarts) + 1, Delay: delay}, rp, notes, nil
}

// stackRestarts reads the restarts (Swarm's max_attempts) and delay the
// stack file asks for. deploy.restart_policy wins over restart:, as in
// docker stack deploy.
func stackRestarts(svc composetypes.ServiceConfig) (uint64, time.Duration, []string, error) {
	restarts, delay := uint64(defaultMaxTries), defaultDelay
	var notes []string
	unbounded := func(what string) {
		notes = append(notes, fmt.Sprintf("%s means no limit to Swarm: running it at most %d times (%d restarts); set a count or --max-attempts", what, defaultMaxTries+1, defaultMaxTries))
	}
	rp := svc.Deploy.RestartPolicy
	if rp == nil {
		policy, err := opts.ParseRestartPolicy(svc.Restart)
		known := err == nil && (policy.IsNone() || policy.IsOnFailure() || policy.IsAlways() || policy.IsUnlessStopped())
		switch {
		case svc.Restart == "":
		case !known:
			return 0, 0, nil, &UsageError{Msg: fmt.Sprintf("job %s: restart %q is unknown: use \"no\", on-failure[:N], always or unless-stopped", svc.Name, svc.Restart)}
		case policy.IsNone():
			restarts = 0
		case policy.IsOnFailure() && policy.MaximumRetryCount > 0:
			restarts = uint64(policy.MaximumRetryCount)
		case policy.IsOnFailure() && strings.Contains(svc.Restart, ":"):
			unbounded(fmt.Sprintf("restart: %s", svc.Restart))
		case policy.IsOnFailure():
		case policy.IsAlways(), policy.IsUnlessStopped():
			notes = append(notes, fmt.Sprintf("restart: %s would also restart a job that succeeded: it restarts on failure only, at most %d times", svc.Restart, defaultMaxTries))
		}
		return restarts, delay, notes, nil
	}
	if rp.Delay != nil {
		delay = time.Duration(*rp.Delay)
	}
	if rp.Window != nil && *rp.Window != 0 {
		notes = append(notes, "restart_policy window is ignored: Swarm counts only the restarts inside it, so a job could run without bound")
	}
	switch rp.Condition {
	case string(swarm.RestartPolicyConditionNone):
		return 0, delay, notes, nil
	case "", string(swarm.RestartPolicyConditionOnFailure):
	case string(swarm.RestartPolicyConditionAny):
		notes = append(notes, "restart_policy condition any would also restart a job that succeeded: it restarts on failure only")
	default:
		return 0, 0, nil, &UsageError{Msg: fmt.Sprintf("job %s: restart_policy condition %q is unknown: use on-failure or none", svc.Name, rp.Condition)}
	}
	switch {
	case rp.MaxAttempts == nil:
	case *rp.MaxAttempts == 0:
		unbounded("restart_policy max_attempts: 0")
	default:
		restarts = *rp.MaxAttempts
	}
	return restarts, delay, notes, nil
}

// jobLabels drops the stack namespace label, so that `docker stack rm` and
// `deploy --prune` never remove a running migration, and adds jobrun's own.
func jobLabels(have, add map[string]string) map[string]string {
	out := withMarks(have, add)
	delete(out, LabelStackNamespace)
	return out
}

// withMarks is a copy of labels with add set.
func withMarks(labels, add map[string]string) map[string]string {
	out := make(map[string]string, len(labels)+len(add))
	for k, v := range labels {
		out[k] = v
	}
	for k, v := range add {
		out[k] = v
	}
	return out
}

// checkNetworks fails early, with the fix, when the stack is not deployed:
// otherwise the engine's own error names a network the user never wrote.
func checkNetworks(ctx context.Context, engine client.NetworkAPIClient, stack *Stack, svc composetypes.ServiceConfig) error {
	ns := convert.NewNamespace(stack.Name)
	keys := make([]string, 0, len(svc.Networks)+1)
	for key := range svc.Networks {
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		keys = append(keys, "default") // as convert does: the stack's default network
	}
	sort.Strings(keys)
	for _, key := range keys {
		name := ns.Scope(key)
		cfg, ok := stack.Config.Networks[key]
		external := ok && cfg.External.External
		if external {
			name = key
		}
		if ok && cfg.Name != "" {
			name = cfg.Name
		}
		if _, err := engine.NetworkInspect(ctx, name, client.NetworkInspectOptions{}); err != nil {
			switch {
			case cerrdefs.IsNotFound(err) && external:
				return &UsageError{Msg: fmt.Sprintf("job %s: network %s does not exist; it is external, so create it first: docker network create --driver overlay --attachable %s", svc.Name, name, name)}
			case cerrdefs.IsNotFound(err):
				return &NetworkMissingError{Network: name, Usage: UsageError{Msg: fmt.Sprintf("job %s: network %s does not exist: deploy the stack first (%s)", svc.Name, name, stack.deployCommand())}}
			}
			return &EngineError{Msg: "inspect network " + name, Err: err}
		}
	}
	return nil
}

// convertError says what the converter refused, as one sentence that names
// the fix. Every secret and config the stack file defines was created
// above, so one not found is external: only its owner can create it.
func convertError(job string, err error) error {
	msg := strings.TrimPrefix(OneLine(err), "service "+job+": ")
	for _, kind := range []string{"secret", "config"} {
		if name, ok := strings.CutPrefix(msg, kind+" not found: "); ok {
			create := fmt.Sprintf("docker secret create %s FILE (or - to read it from stdin)", name)
			if kind == "config" {
				create = fmt.Sprintf("docker config create %s FILE", name)
			}
			return &UsageError{Msg: fmt.Sprintf("job %s: %s %s does not exist; it is external, so create it first: %s", job, kind, name, create)}
		}
	}
	return &UsageError{Msg: fmt.Sprintf("job %s: %s", job, msg)}
}

// NewRunID is sortable by time and unique enough to name a Swarm config.
func NewRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
