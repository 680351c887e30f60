// Package jobs turns a stack file's service into a Swarm job, runs it and
// decides, from the tasks Swarm reports, whether it succeeded.
package jobs

import (
	"errors"
	"fmt"
	"jobrun/deploy/stackdeploy"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
)

// Stack is the parsed set of stack files, interpolated and merged exactly as
// `docker stack deploy -c a.yml -c b.yml` would.
type Stack struct {
	Name   string // the deployed stack's namespace, e.g. "todobackend"
	Files  []string
	Config *composetypes.Config
	// Details are the files as read, before the merge: what docker stack
	// deploy warns of is read from them.
	Details composetypes.ConfigDetails
	// unset names, per service, the variables its image: uses that the
	// environment does not set (interpolated as "").
	unset map[string][]string
}

// deployCommand is the docker stack deploy of the files given.
func (s *Stack) deployCommand() string {
	return "docker stack deploy -c " + strings.Join(s.Files, " -c ") + " " + s.Name
}

// LoadStack reads and merges the Compose files in order. env is the
// environment used for ${VAR} interpolation; it already carries APP_VERSION.
func LoadStack(name string, files []string, env map[string]string) (*Stack, error) {
	if len(files) == 0 {
		return nil, &UsageError{Msg: "no stack file given: pass -c stack.yml"}
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("stack file %s not found: pass the right file with -c/--compose-file", f)}
		}
	}
	details, err := stackdeploy.ConfigDetails(files, os.Stdin, env)
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("read stack file: %v: fix the YAML syntax", OneLine(err))}
	}
	cfg, err := stackdeploy.Load(details)
	if err != nil {
		var forbidden *loader.ForbiddenPropertiesError
		if errors.As(err, &forbidden) {
			keys := make([]string, 0, len(forbidden.Properties))
			for k := range forbidden.Properties {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, &UsageError{Msg: fmt.Sprintf("stack file uses options docker stack deploy does not support: %s", strings.Join(keys, ", "))}
		}
		return nil, &UsageError{Msg: fmt.Sprintf("invalid stack file %s: %s", strings.Join(files, ", "), OneLine(err))}
	}
	return &Stack{Name: name, Files: files, Config: cfg, Details: details, unset: unsetImageVariables(details, env)}, nil
}

var variablePattern = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// unsetImageVariables reads each service's image: as written, before
// interpolation, and names the variables in it that env leaves empty.
func unsetImageVariables(details composetypes.ConfigDetails, env map[string]string) map[string][]string {
	raw := map[string]string{}
	for _, f := range details.ConfigFiles {
		services, _ := f.Config["services"].(map[string]any)
		for name, svc := range services {
			if m, ok := svc.(map[string]any); ok {
				if image, ok := m["image"].(string); ok {
					raw[name] = image // a later file overrides, as in the merge
				}
			}
		}
	}
	unset := map[string][]string{}
	for name, image := range raw {
		for _, m := range variablePattern.FindAllStringSubmatch(strings.ReplaceAll(image, "$$", ""), -1) {
			if env[m[1]] == "" {
				unset[name] = append(unset[name], m[1])
			}
		}
	}
	return unset
}

// Service returns the job's service definition, or an error listing the
// services the stack file does have.
func (s *Stack) Service(job string) (composetypes.ServiceConfig, error) {
	names := make([]string, 0, len(s.Config.Services))
	for _, svc := range s.Config.Services {
		if svc.Name == job {
			if err := s.check(svc); err != nil {
				return svc, err
			}
			return svc, nil
		}
		names = append(names, svc.Name)
	}
	sort.Strings(names)
	return composetypes.ServiceConfig{}, &UsageError{Msg: fmt.Sprintf("job %q is not a service in the stack file; it has: %s", job, strings.Join(names, ", "))}
}

func (s *Stack) check(svc composetypes.ServiceConfig) error {
	switch svc.Deploy.Mode {
	case "", "replicated", "replicated-job":
	default:
		return &UsageError{Msg: fmt.Sprintf("job %s has deploy.mode %s: a job runs once, so use replicated (or remove deploy.mode)", svc.Name, svc.Deploy.Mode)}
	}
	if r := svc.Deploy.Replicas; r != nil && *r > 1 {
		return &UsageError{Msg: fmt.Sprintf("job %s asks for %d replicas: jobrun runs a job to one completion, so set deploy.replicas to 1 (or remove it), or run the copies as separate jobs", svc.Name, *r)}
	}
	if svc.Image == "" {
		return &UsageError{Msg: fmt.Sprintf("job %s has no image: set image: in the stack file", svc.Name)}
	}
	if vars := s.unset[svc.Name]; len(vars) > 0 {
		fix := fmt.Sprintf("set it in jobrun's environment (%s=... jobrun %s)", vars[0], svc.Name)
		if vars[0] == "APP_VERSION" {
			fix = "pass --version (it sets APP_VERSION), or set APP_VERSION"
		}
		return &UsageError{Msg: fmt.Sprintf("job %s: image %q needs %s, which is not set: %s", svc.Name, svc.Image, vars[0], fix)}
	}
	if _, err := reference.ParseNormalizedNamed(svc.Image); err != nil {
		return &UsageError{Msg: fmt.Sprintf("job %s: image %q is not a valid image reference (%v): fix image: or --version", svc.Name, svc.Image, err)}
	}
	return nil
}

// ValidName reports whether name is usable in a Swarm service name, by
// swarmkit's own rule: letters and digits, '-' and '_' only between them,
// 63 characters at most.
func ValidName(name string) bool {
	return len(name) <= 63 && serviceNamePattern.MatchString(name)
}

var serviceNamePattern = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)

// OneLine is an error's message on one line, as jobrun prints every error.
func OneLine(err error) string { return oneLineString(err.Error()) }

func oneLineString(s string) string { return strings.Join(strings.Fields(s), " ") }
