package jobs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// Labels jobrun puts on its services and run records.
const (
	LabelJob         = "io.jobrun.job"
	LabelStack       = "io.jobrun.stack"
	LabelVersion     = "io.jobrun.version"
	LabelRunID       = "io.jobrun.run-id"
	LabelMaxRuns     = "io.jobrun.max-runs"
	LabelDelay       = "io.jobrun.restart-delay"
	labelStackNS     = "com.docker.stack.namespace"
	defaultMaxTries  = 6 // restarts, as in the seed's stack file
	defaultDelay     = 30 * time.Second
	legacyAPIVersion = "1.41" // the first engine API with replicated jobs
)

// SpecOptions are the flags that shape the job's service.
type SpecOptions struct {
	Version        string
	RunID          string
	MaxAttempts    *uint64        // restarts; nil: the stack file's, else 6
	RestartDelay   *time.Duration // nil: the stack file's, else 30s
	PendingTimeout time.Duration
	Legacy         bool // a replicas:1 service, for engines older than API 1.41
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
	one := *stack.Config
	one.Services = []composetypes.ServiceConfig{svc}
	specs, err := convert.Services(ctx, convert.NewNamespace(stack.Name), &one, engine)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return Job{}, &UsageError{Msg: fmt.Sprintf("job %s: %s: create it or deploy the stack first (docker stack deploy -c ... %s)", name, lastPart(err), stack.Name)}
		}
		return Job{}, &UsageError{Msg: fmt.Sprintf("job %s: %s", name, oneLine(err))}
	}
	spec := specs[name]

	policy, restart, err := restartPolicy(spec.TaskTemplate.RestartPolicy, o)
	if err != nil {
		return Job{}, fmt.Errorf("job %s: %w", name, err)
	}
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
	return Job{Name: name, Stack: stack.Name, Version: o.Version, RunID: o.RunID, Spec: spec, Policy: policy, Legacy: o.Legacy}, nil
}

// restartPolicy bounds the stack file's restart policy: Swarm's own default
// retries forever, which a migration must never do.
func restartPolicy(from *swarm.RestartPolicy, o SpecOptions) (Policy, *swarm.RestartPolicy, error) {
	rp := swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure}
	if from != nil {
		rp = *from
	}
	switch rp.Condition {
	case swarm.RestartPolicyConditionNone:
	case "", swarm.RestartPolicyConditionOnFailure, swarm.RestartPolicyConditionAny:
		// "any" would restart a migration that succeeded.
		rp.Condition = swarm.RestartPolicyConditionOnFailure
	default:
		return Policy{}, nil, &UsageError{Msg: fmt.Sprintf("restart_policy condition %q is unknown: use on-failure or none", rp.Condition)}
	}
	if o.MaxAttempts != nil {
		rp.MaxAttempts = o.MaxAttempts
	}
	if rp.MaxAttempts == nil {
		n := uint64(defaultMaxTries)
		rp.MaxAttempts = &n
	}
	if o.RestartDelay != nil {
		rp.Delay = o.RestartDelay
	}
	if rp.Delay == nil {
		d := defaultDelay
		rp.Delay = &d
	}
	if *rp.Delay < 0 {
		return Policy{}, nil, &UsageError{Msg: fmt.Sprintf("restart delay %s is negative: use a duration like 30s", *rp.Delay)}
	}
	runs := int(*rp.MaxAttempts) + 1
	if rp.Condition == swarm.RestartPolicyConditionNone {
		runs = 1
	}
	return Policy{MaxRuns: runs, Delay: *rp.Delay}, &rp, nil
}

// jobLabels drops the stack namespace label, so that `docker stack rm` and
// `deploy --prune` never remove a running migration, and adds jobrun's own.
func jobLabels(have, add map[string]string) map[string]string {
	out := make(map[string]string, len(have)+len(add))
	for k, v := range have {
		if k != labelStackNS {
			out[k] = v
		}
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
		if cfg, ok := stack.Config.Networks[key]; ok && cfg.External.External {
			name = key
			if cfg.Name != "" {
				name = cfg.Name
			}
		} else if ok && cfg.Name != "" {
			name = cfg.Name
		}
		if _, err := engine.NetworkInspect(ctx, name, network.InspectOptions{}); err != nil {
			if errdefs.IsNotFound(err) {
				return &UsageError{Msg: fmt.Sprintf("job %s: network %s does not exist: deploy the stack first (docker stack deploy -c stack.yml %s)", svc.Name, name, stack.Name)}
			}
			return &EngineError{Msg: "inspect network " + name, Err: err}
		}
	}
	return nil
}

func lastPart(err error) string {
	s := oneLine(err)
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s[i:], "not found") {
		return s[i+2:]
	}
	return s
}
