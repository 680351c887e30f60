// Package deploy releases a whole stack: the jobs where they belong in the
// stack's own order, the rest as docker stack deploy deploys it, and a
// verdict for the services too.
package deploy

import (
	"fmt"
	"maps"
	"slices"
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

// Plan is the order of a release.
type Plan struct {
	Deps     []string // services the pre-deploy jobs depend on: deployed and converged first
	Pre      []string // pre-deploy jobs, dependencies first
	Services []string // every other service, deployed after the pre-deploy jobs
	Post     []string // post-deploy jobs, dependencies first
	Warnings []string // what the stack file has that the release ignores, as docker stack deploy does
}

// Jobs is every job of the plan, in the order they run.
func (p Plan) Jobs() []string { return append(append([]string(nil), p.Pre...), p.Post...) }

// NewPlan reads which services are jobs (marked in the stack file, or named
// by --job and --post-deploy-job) and orders the release by depends_on. A
// stack without jobs is a plan of services only. Services are read by name:
// the loader hands them over in map order, and every message must name the
// same offender on every run.
func NewPlan(cfg *composetypes.Config, pre, post []string) (Plan, error) {
	services := slices.SortedFunc(slices.Values(cfg.Services), func(a, b composetypes.ServiceConfig) int { return strings.Compare(a.Name, b.Name) })
	byName := map[string]composetypes.ServiceConfig{}
	for _, s := range services {
		byName[s.Name] = s
	}
	phases, err := phasesOf(services, byName, pre, post)
	if err != nil {
		return Plan{}, err
	}
	var p Plan
	if p.Warnings, err = dropDangling(services, byName, phases); err != nil {
		return Plan{}, err
	}
	if err := checkDependencies(services, byName, phases); err != nil {
		return Plan{}, err
	}
	order, err := topological(byName)
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
	return p, nil
}

// NoJob says that a stack has no job, and how to mark one.
const NoJob = "no service of the stack file is a job (mark one with " + jobs.ExtensionKey + ": {phase: pre-deploy}, or name it with --job): deploying its services only"

// phasesOf says which services are jobs, and when they run.
func phasesOf(services []composetypes.ServiceConfig, byName map[string]composetypes.ServiceConfig, pre, post []string) (map[string]Phase, error) {
	phases := map[string]Phase{}
	for _, s := range services {
		ext, ok := s.Extras[jobs.ExtensionKey]
		if !ok {
			continue
		}
		m, _ := ext.(map[string]any)
		phase := PreDeploy
		if v, ok := m["phase"]; ok {
			phase = Phase(fmt.Sprint(v))
		}
		if phase != PreDeploy && phase != PostDeploy {
			return nil, &jobs.UsageError{Msg: fmt.Sprintf("service %s: %s phase %q is unknown: use pre-deploy or post-deploy", s.Name, jobs.ExtensionKey, phase)}
		}
		phases[s.Name] = phase
	}
	named := map[string]bool{}
	for _, flag := range []struct {
		phase Phase
		names []string
	}{{PreDeploy, pre}, {PostDeploy, post}} {
		for _, name := range flag.names {
			if _, ok := byName[name]; !ok {
				return nil, &jobs.UsageError{Msg: fmt.Sprintf("job %q is not a service in the stack file; it has: %s", name, strings.Join(slices.Sorted(maps.Keys(byName)), ", "))}
			}
			if named[name] && phases[name] != flag.phase {
				return nil, &jobs.UsageError{Msg: fmt.Sprintf("job %s is named by both --job and --post-deploy-job: name it once", name)}
			}
			named[name], phases[name] = true, flag.phase
		}
	}
	return phases, nil
}

// dropDangling removes from byName's depends_on the names that are not
// services of the stack file, as docker stack deploy ignores depends_on
// altogether, and warns of them. A job's order cannot ignore them: what a
// job, or a service deployed before a pre-deploy job, depends on must be
// in the file.
func dropDangling(services []composetypes.ServiceConfig, byName map[string]composetypes.ServiceConfig, phases map[string]Phase) ([]string, error) {
	orders := map[string]bool{} // the services whose depends_on orders a job
	for _, s := range services {
		if phases[s.Name] != "" {
			orders[s.Name] = true
		}
		if phases[s.Name] == PreDeploy {
			for _, d := range closure(s.Name, byName) {
				orders[d] = true
			}
		}
	}
	var ignored, needed []string
	for _, s := range services {
		var kept []string
		for _, d := range s.DependsOn {
			if _, ok := byName[d]; ok {
				kept = append(kept, d)
			} else if orders[s.Name] {
				needed = append(needed, s.Name+" -> "+d)
			} else {
				ignored = append(ignored, s.Name+" -> "+d)
			}
		}
		s.DependsOn = kept
		byName[s.Name] = s
	}
	if len(needed) > 0 {
		return nil, &jobs.UsageError{Msg: fmt.Sprintf("depends_on names services the stack file does not have, and the jobs' order needs them: %s: add them to the stack file, or drop them from depends_on", strings.Join(needed, ", "))}
	}
	if len(ignored) > 0 {
		return []string{fmt.Sprintf("depends_on names services the stack file does not have: %s: ignored, as docker stack deploy ignores them", strings.Join(ignored, ", "))}, nil
	}
	return nil, nil
}

// checkDependencies refuses what cannot be ordered: a service that needs a
// job which runs after it.
func checkDependencies(services []composetypes.ServiceConfig, byName map[string]composetypes.ServiceConfig, phases map[string]Phase) error {
	for _, s := range services {
		for _, d := range byName[s.Name].DependsOn {
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
// depends on; among equals, by name.
func topological(byName map[string]composetypes.ServiceConfig) ([]string, error) {
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
	for _, name := range slices.Sorted(maps.Keys(byName)) {
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
