package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// Action is what a deploy would do to a service.
type Action string

const (
	Create Action = "create"
	Update Action = "update"
	Keep   Action = "unchanged"
	Remove Action = "remove"
)

// Change is one field of a service that a deploy would change. Env changes
// name the key only: a value may be a secret.
type Change struct {
	Field  string `json:"field"`         // image, env, replicas, networks, ports, …
	Key    string `json:"key,omitempty"` // the env key, label, secret or config
	Change string `json:"change"`        // added, removed or changed
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
}

// ServiceDiff is what a deploy would do to one service of the stack.
type ServiceDiff struct {
	Service string   `json:"service"`
	Action  Action   `json:"action"`
	Changes []Change `json:"changes,omitempty"`
}

// Diff is what updating the running spec to want would change, both read as
// the engine reads them: networks by name (networks maps the IDs the engine
// stores to names), what the engine fills in left out, and the image by its
// reference in the stack file. An image pinned to its digest by an earlier
// deploy is the same image as long as its tag is: docker stack deploy
// itself keeps the pinned image when the tag did not change (with
// --resolve-image always it has the engine ask the registry again: Stack's
// repinned asks it too).
func Diff(running, want swarm.ServiceSpec, networks map[string]string) []Change {
	old, nw := normalise(running, networks), normalise(want, nil)
	nw.TaskTemplate.ForceUpdate = old.TaskTemplate.ForceUpdate // stack deploy keeps it, too
	var out []Change
	oi, ni := imageOf(old), imageOf(nw)
	if stackImage(old) != stackImage(nw) {
		out = append(out, Change{Field: "image", Change: "changed", Old: oi, New: ni})
	}
	oc, nc := old.TaskTemplate.ContainerSpec, nw.TaskTemplate.ContainerSpec
	out = append(out, keysOnly("env", envMap(oc), envMap(nc))...)
	for _, f := range fieldsOf(old, nw) {
		out = append(out, valueChanges(f.name, f.old, f.new)...)
	}
	// Whatever else differs is named, without values: a command line can
	// carry a secret too.
	for _, s := range []*swarm.ServiceSpec{&old, &nw} {
		blank(s)
	}
	for _, path := range differences("", reflect.ValueOf(old), reflect.ValueOf(nw)) {
		out = append(out, Change{Field: path, Change: "changed"})
	}
	return out
}

// field is one compared field of both specs, as key → shown value.
type field struct {
	name     string
	old, new map[string]string
}

// fieldsOf renders the fields a reviewer reads in a diff, both sides.
func fieldsOf(old, nw swarm.ServiceSpec) []field {
	var out []field
	for _, r := range []struct {
		name   string
		render func(swarm.ServiceSpec) map[string]string
	}{
		{"replicas", replicas}, {"networks", networksOf}, {"ports", ports}, {"resources", resources},
		{"placement", placement}, {"labels", labels}, {"container-labels", containerLabels},
		{"secrets", secrets}, {"configs", configs},
	} {
		out = append(out, field{r.name, r.render(old), r.render(nw)})
	}
	return out
}

// normalise is a deep copy of the spec with what the engine fills in or
// stores differently from docker/cli's converter made equal.
func normalise(spec swarm.ServiceSpec, networks map[string]string) swarm.ServiceSpec {
	var s swarm.ServiceSpec
	data, _ := json.Marshal(spec)
	_ = json.Unmarshal(data, &s) // also makes nil and empty the same
	if s.TaskTemplate.ContainerSpec == nil {
		s.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{}
	}
	cs := s.TaskTemplate.ContainerSpec
	if cs.Isolation == "default" {
		cs.Isolation = ""
	}
	if r := s.TaskTemplate.Resources; r != nil && r.Limits == nil && r.Reservations == nil {
		s.TaskTemplate.Resources = nil
	}
	if s.EndpointSpec == nil {
		s.EndpointSpec = &swarm.EndpointSpec{}
	}
	if s.EndpointSpec.Mode == "" {
		s.EndpointSpec.Mode = swarm.ResolutionModeVIP
	}
	if r := s.Mode.Replicated; r != nil && r.Replicas == nil {
		one := uint64(1) // the converter leaves it out; the engine's default
		r.Replicas = &one
	}
	for _, u := range []*swarm.UpdateConfig{s.UpdateConfig, s.RollbackConfig} {
		if u != nil && u.FailureAction == "" {
			u.FailureAction = swarm.UpdateFailureActionPause // swarmkit's zero value
		}
		if u != nil && u.Order == "" {
			u.Order = swarm.UpdateOrderStopFirst
		}
	}
	if r := s.TaskTemplate.RestartPolicy; r != nil && r.MaxAttempts == nil {
		zero := uint64(0) // Engine 20.10 stores the converter's "no limit" as 0
		r.MaxAttempts = &zero
	}
	if s.TaskTemplate.Runtime == swarm.RuntimeContainer {
		s.TaskTemplate.Runtime = ""
	}
	for i, n := range s.TaskTemplate.Networks {
		if name, ok := networks[n.Target]; ok {
			s.TaskTemplate.Networks[i].Target = name
		}
	}
	return s
}

// imageOf is the service's image as the engine has it (pinned or not).
func imageOf(s swarm.ServiceSpec) string { return s.TaskTemplate.ContainerSpec.Image }

// stackImage is the image as the stack file names it: docker stack deploy
// labels it so before the engine pins it to a digest.
func stackImage(s swarm.ServiceSpec) string {
	if img := s.Labels[convert.LabelImage]; img != "" {
		return img
	}
	img := imageOf(s)
	if ref, err := reference.ParseNormalizedNamed(img); err == nil {
		if _, ok := ref.(reference.Canonical); ok {
			if tagged, ok := ref.(reference.NamedTagged); ok {
				return reference.FamiliarString(reference.TrimNamed(ref)) + ":" + tagged.Tag()
			}
		}
	}
	return img
}

func envMap(cs *swarm.ContainerSpec) map[string]string {
	out := map[string]string{}
	for _, kv := range cs.Env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// keysOnly names the keys added, removed or changed, never a value.
func keysOnly(name string, old, nw map[string]string) []Change {
	var out []Change
	for _, c := range valueChanges(name, old, nw) {
		c.Old, c.New = "", ""
		out = append(out, c)
	}
	return out
}

// valueChanges compares two renderings key by key; a rendering of one
// key ("") is the field's value itself.
func valueChanges(name string, old, nw map[string]string) []Change {
	var out []Change
	keys := maps.Clone(old)
	maps.Copy(keys, nw)
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		o, inOld := old[k]
		n, inNew := nw[k]
		switch {
		case !inOld:
			out = append(out, Change{Field: name, Key: k, Change: "added", New: n})
		case !inNew:
			out = append(out, Change{Field: name, Key: k, Change: "removed", Old: o})
		case o != n:
			out = append(out, Change{Field: name, Key: k, Change: "changed", Old: o, New: n})
		}
	}
	return out
}

// blank clears what Diff compared field by field, so that only the rest
// is left to compare.
func blank(s *swarm.ServiceSpec) {
	cs := s.TaskTemplate.ContainerSpec
	cs.Image, cs.Env, cs.Labels, cs.Secrets, cs.Configs = "", nil, nil, nil, nil
	s.Labels, s.Mode, s.EndpointSpec = nil, swarm.ServiceMode{}, nil
	s.TaskTemplate.Networks, s.TaskTemplate.Resources, s.TaskTemplate.Placement = nil, nil, nil
}

// differences names the fields that differ, as Go names them
// (TaskTemplate.ContainerSpec.Command), down to the first field that is
// not a struct.
func differences(path string, a, b reflect.Value) []string {
	if a.Kind() == reflect.Pointer && b.Kind() == reflect.Pointer && !a.IsNil() && !b.IsNil() {
		a, b = a.Elem(), b.Elem()
	}
	if a.Kind() != reflect.Struct || b.Kind() != reflect.Struct {
		if reflect.DeepEqual(a.Interface(), b.Interface()) {
			return nil
		}
		return []string{path}
	}
	var out []string
	for i := range a.NumField() {
		if !a.Type().Field(i).IsExported() {
			continue
		}
		name := a.Type().Field(i).Name
		if path != "" {
			name = path + "." + name
		}
		out = append(out, differences(name, a.Field(i), b.Field(i))...)
	}
	return out
}

func one(v string) map[string]string {
	if v == "" {
		return map[string]string{}
	}
	return map[string]string{"": v}
}

func replicas(s swarm.ServiceSpec) map[string]string {
	m := s.Mode
	switch {
	case m.Replicated != nil && m.Replicated.Replicas != nil:
		return one(fmt.Sprint(*m.Replicated.Replicas))
	case m.Global != nil:
		return one("global")
	case m.ReplicatedJob != nil:
		// The engine's defaults: one at a time, as many completions as that.
		concurrent := orOne(m.ReplicatedJob.MaxConcurrent)
		completions := concurrent
		if m.ReplicatedJob.TotalCompletions != nil {
			completions = *m.ReplicatedJob.TotalCompletions
		}
		return one(fmt.Sprintf("replicated-job (max concurrent %d, completions %d)", concurrent, completions))
	case m.GlobalJob != nil:
		return one("global-job")
	}
	return one("replicated")
}

func orOne(n *uint64) uint64 {
	if n == nil {
		return 1
	}
	return *n
}

func networksOf(s swarm.ServiceSpec) map[string]string {
	out := map[string]string{}
	for _, n := range s.TaskTemplate.Networks {
		aliases := slices.Clone(n.Aliases)
		sort.Strings(aliases)
		out[n.Target] = "aliases " + strings.Join(aliases, ",")
	}
	return out
}

func ports(s swarm.ServiceSpec) map[string]string {
	out := map[string]string{"": "mode " + string(s.EndpointSpec.Mode)}
	for _, p := range s.EndpointSpec.Ports {
		mode := p.PublishMode
		if mode == "" {
			mode = swarm.PortConfigPublishModeIngress
		}
		proto := p.Protocol
		if proto == "" {
			proto = network.TCP
		}
		out[fmt.Sprintf("%d/%s", p.TargetPort, proto)] = fmt.Sprintf("published %d (%s)", p.PublishedPort, mode)
	}
	return out
}

func resources(s swarm.ServiceSpec) map[string]string {
	out := map[string]string{}
	r := s.TaskTemplate.Resources
	if r == nil {
		return out
	}
	if l := r.Limits; l != nil {
		out["limits"] = fmt.Sprintf("cpus %g, memory %d, pids %d", float64(l.NanoCPUs)/1e9, l.MemoryBytes, l.Pids)
	}
	if v := r.Reservations; v != nil {
		out["reservations"] = fmt.Sprintf("cpus %g, memory %d, generic %d", float64(v.NanoCPUs)/1e9, v.MemoryBytes, len(v.GenericResources))
	}
	return out
}

func placement(s swarm.ServiceSpec) map[string]string {
	out := map[string]string{}
	p := s.TaskTemplate.Placement
	if p == nil {
		return out
	}
	for _, c := range p.Constraints {
		out["constraint "+c] = "set"
	}
	for _, pref := range p.Preferences {
		if pref.Spread != nil {
			out["spread "+pref.Spread.SpreadDescriptor] = "set"
		}
	}
	if p.MaxReplicas > 0 {
		out["max-replicas-per-node"] = fmt.Sprint(p.MaxReplicas)
	}
	return out
}

// labels leaves out the stack file's image: Diff shows it as the image.
func labels(s swarm.ServiceSpec) map[string]string {
	out := maps.Clone(nonNil(s.Labels))
	delete(out, convert.LabelImage)
	return out
}

func containerLabels(s swarm.ServiceSpec) map[string]string {
	return maps.Clone(nonNil(s.TaskTemplate.ContainerSpec.Labels))
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func secrets(s swarm.ServiceSpec) map[string]string {
	out := map[string]string{}
	for _, r := range s.TaskTemplate.ContainerSpec.Secrets {
		if r.File != nil {
			out[r.SecretName] = fileOf(r.File.Name, r.File.UID, r.File.GID, uint32(r.File.Mode))
		}
	}
	return out
}

func configs(s swarm.ServiceSpec) map[string]string {
	out := map[string]string{}
	for _, r := range s.TaskTemplate.ContainerSpec.Configs {
		if r.File != nil {
			out[r.ConfigName] = fileOf(r.File.Name, r.File.UID, r.File.GID, uint32(r.File.Mode))
		} else {
			out[r.ConfigName] = "runtime"
		}
	}
	return out
}

func fileOf(name, uid, gid string, mode uint32) string {
	return fmt.Sprintf("%s (uid %s, gid %s, mode %o)", name, uid, gid, mode)
}
