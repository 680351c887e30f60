// Package deploy releases a whole stack: the jobs where they belong in the
// stack's own order, the rest as docker stack deploy deploys it, and a
// verdict for the services too.
package deploy

import (
	"fmt"
	"sort"
	"strings"

	composetypes "github.com/docker/cli/cli/compose/types"

	"jobrun/jobs"
)

// Phase is when a job runs in a release.
type Phase string

const (
	PreDeploy  Phase = "pre-deploy"  // before any service is updated (a migration)
	PostDeploy Phase = "post-deploy" // once the services converged (a smoke test)
)

// ExtensionKey marks a service of the stack file as a job:
// `x-jobrun: {phase: pre-deploy}`. docker stack deploy ignores x- fields
// (Compose file 3.7 and later), so the stack file stays valid for it.
const ExtensionKey = "x-jobrun"

// Plan is the order of a release.
type Plan struct {
	Deps     []string // services the pre-deploy jobs depend on: deployed and converged first
	Pre      []string // pre-deploy jobs, dependencies first
	Services []string // every other service, deployed after the pre-deploy jobs
	Post     []string // post-deploy jobs, dependencies first
}

// Jobs is every job of the plan, in the order they run.
func (p Plan) Jobs() []string { return append(append([]string(nil), p.Pre...), p.Post...) }

// NewPlan reads which services are jobs (marked in the stack file, or named
// by --job and --post-deploy-job) and orders the release by depends_on.
func NewPlan(cfg *composetypes.Config, pre, post []string) (Plan, error) {
	byName := map[string]composetypes.ServiceConfig{}
	for _, s := range cfg.Services {
		byName[s.Name] = s
	}
	phases, err := phasesOf(cfg.Services, byName, pre, post)
	if err != nil {
		return Plan{}, err
	}
	if err := checkDependencies(cfg.Services, byName, phases); err != nil {
		return Plan{}, err
	}
	order, err := topological(cfg.Services, byName)
	if err != nil {
		return Plan{}, err
	}
	deps := map[string]bool{}
	for _, name := range order {
		if phases[name] == PreDeploy {
			for _, d := range closure(name, byName) {
				if phases[d] == "" {
					deps[d] = true
				}
			}
		}
	}
	var p Plan
	for _, name := range order {
		switch {
		case phases[name] == PreDeploy:
			p.Pre = append(p.Pre, name)
		case phases[name] == PostDeploy:
			p.Post = append(p.Post, name)
		case deps[name]:
			p.Deps = append(p.Deps, name)
		default:
			p.Services = append(p.Services, name)
		}
	}
	if len(p.Pre)+len(p.Post) == 0 {
		return Plan{}, &jobs.UsageError{Msg: fmt.Sprintf("no service of the stack file is a job: mark one with %s: {phase: pre-deploy}, or name it with --job", ExtensionKey)}
	}
	return p, nil
}

// phasesOf says which services are jobs, and when they run.
func phasesOf(services []composetypes.ServiceConfig, byName map[string]composetypes.ServiceConfig, pre, post []string) (map[string]Phase, error) {
	phases := map[string]Phase{}
	for _, s := range services {
		ext, ok := s.Extras[ExtensionKey]
		if !ok {
			continue
		}
		m, _ := ext.(map[string]any)
		phase := PreDeploy
		if v, ok := m["phase"]; ok {
			phase = Phase(fmt.Sprint(v))
		}
		if phase != PreDeploy && phase != PostDeploy {
			return nil, &jobs.UsageError{Msg: fmt.Sprintf("service %s: %s phase %q is unknown: use pre-deploy or post-deploy", s.Name, ExtensionKey, phase)}
		}
		phases[s.Name] = phase
	}
	for phase, names := range map[Phase][]string{PreDeploy: pre, PostDeploy: post} {
		for _, name := range names {
			if _, ok := byName[name]; !ok {
				return nil, &jobs.UsageError{Msg: fmt.Sprintf("job %q is not a service in the stack file; it has: %s", name, strings.Join(sortedNames(byName), ", "))}
			}
			phases[name] = phase
		}
	}
	return phases, nil
}

// checkDependencies refuses what cannot be ordered: a name depends_on does
// not know, and a service that needs a job which runs after it.
func checkDependencies(services []composetypes.ServiceConfig, byName map[string]composetypes.ServiceConfig, phases map[string]Phase) error {
	for _, s := range services {
		for _, d := range s.DependsOn {
			if _, ok := byName[d]; !ok {
				return &jobs.UsageError{Msg: fmt.Sprintf("service %s depends on %q, which is not a service in the stack file: fix depends_on", s.Name, d)}
			}
			if phases[d] == PostDeploy && phases[s.Name] != PostDeploy {
				return &jobs.UsageError{Msg: fmt.Sprintf("service %s depends on %s, a post-deploy job, which runs after it: make %s pre-deploy, or drop the dependency", s.Name, d, d)}
			}
			if phases[s.Name] == PreDeploy && phases[d] == "" {
				for _, dd := range closure(d, byName) {
					if phases[dd] == PreDeploy {
						return &jobs.UsageError{Msg: fmt.Sprintf("job %s depends on service %s, which depends on job %s: a cycle through a service that must be deployed before the job; fix depends_on", s.Name, d, dd)}
					}
				}
			}
		}
	}
	return nil
}

// topological orders the services so that each comes after what it
// depends on; among equals, as the stack file lists them (by name).
func topological(services []composetypes.ServiceConfig, byName map[string]composetypes.ServiceConfig) ([]string, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var order []string
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return &jobs.UsageError{Msg: fmt.Sprintf("depends_on has a cycle: %s -> %s: break it in the stack file", strings.Join(path, " -> "), name)}
		}
		state[name] = visiting
		deps := append([]string(nil), byName[name].DependsOn...)
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, name := range sortedNames(byName) {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// closure is every service name depends on, directly or not.
func closure(name string, byName map[string]composetypes.ServiceConfig) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(string)
	walk = func(n string) {
		for _, d := range byName[n].DependsOn {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
				walk(d)
			}
		}
	}
	walk(name)
	return out
}

func sortedNames(byName map[string]composetypes.ServiceConfig) []string {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
