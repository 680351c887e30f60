package deploy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

// converted is a service as docker/cli's converter makes it from a stack
// file; edit changes a copy of it.
func converted(edit ...func(*swarm.ServiceSpec)) swarm.ServiceSpec {
	s := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "todo_app", Labels: map[string]string{"com.docker.stack.namespace": "todo", "com.docker.stack.image": "app:v1"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "app:v1", Env: []string{"DB_PASSWORD=hunter2", "MODE=web"}, Command: []string{"serve"},
				Secrets: []*swarm.SecretReference{{SecretName: "todo_token", SecretID: "s1", File: &swarm.SecretReferenceFileTarget{Name: "token", UID: "0", GID: "0", Mode: 0o444}}}},
			Resources: &swarm.ResourceRequirements{},
			Networks:  []swarm.NetworkAttachmentConfig{{Target: "todo_default", Aliases: []string{"app"}}},
		},
		Mode:           swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}},
		EndpointSpec:   &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP},
		RollbackConfig: &swarm.UpdateConfig{Parallelism: 2},
	}
	for _, e := range edit {
		e(&s)
	}
	return s
}

// running is the converted service as the engine stores and returns it:
// defaults filled in, networks by ID, the image pinned to its digest.
func running(edit ...func(*swarm.ServiceSpec)) swarm.ServiceSpec {
	s := converted(func(s *swarm.ServiceSpec) {
		one := uint64(1)
		s.Mode.Replicated.Replicas = &one
		s.TaskTemplate.ContainerSpec.Image = "app:v1@sha256:" + strings.Repeat("a", 64)
		s.TaskTemplate.ContainerSpec.Isolation = "default"
		s.TaskTemplate.ForceUpdate = 3
		s.TaskTemplate.Resources = nil
		s.TaskTemplate.Runtime = swarm.RuntimeContainer
		s.TaskTemplate.Networks[0].Target = "netid1"
		s.EndpointSpec = nil
		s.RollbackConfig.FailureAction, s.RollbackConfig.Order = "pause", "stop-first"
	})
	for _, e := range edit {
		e(&s)
	}
	return s
}

var networkNames = map[string]string{"netid1": "todo_default", "netid2": "todo_back"}

func TestDiff(t *testing.T) {
	pinned := "app:v1@sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		name    string
		running swarm.ServiceSpec
		want    swarm.ServiceSpec
		changes []Change
	}{
		{"what the engine fills in is no change", running(), converted(), nil},
		{"an image pinned without the stack's label, same tag", running(func(s *swarm.ServiceSpec) { delete(s.Labels, "com.docker.stack.image") }),
			converted(func(s *swarm.ServiceSpec) { delete(s.Labels, "com.docker.stack.image") }), nil},
		{"a restart policy without max_attempts as Engine 20.10 stores it is no change", running(func(s *swarm.ServiceSpec) {
			zero := uint64(0)
			s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, MaxAttempts: &zero}
		}), converted(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}
		}), nil},
		{"a new tag: old pinned image → new", running(), converted(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Image, s.Labels["com.docker.stack.image"] = "app:v2", "app:v2"
		}), []Change{{Field: "image", Change: "changed", Old: pinned, New: "app:v2"}}},
		{"env: keys only, never values", running(), converted(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Env = []string{"DB_PASSWORD=correct-horse", "TOKEN=abc"}
		}), []Change{{Field: "env", Key: "DB_PASSWORD", Change: "changed"}, {Field: "env", Key: "MODE", Change: "removed"}, {Field: "env", Key: "TOKEN", Change: "added"}}},
		{"replicas", running(), converted(func(s *swarm.ServiceSpec) {
			n := uint64(3)
			s.Mode.Replicated.Replicas = &n
		}), []Change{{Field: "replicas", Change: "changed", Old: "1", New: "3"}}},
		{"a job's defaults are no change", running(func(s *swarm.ServiceSpec) {
			one := uint64(1)
			s.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: &one, TotalCompletions: &one}}
		}), converted(func(s *swarm.ServiceSpec) { s.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}} }), nil},
		{"a job's completions", running(), converted(func(s *swarm.ServiceSpec) {
			two := uint64(2)
			s.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{TotalCompletions: &two}}
		}), []Change{{Field: "replicas", Change: "changed", Old: "1", New: "replicated-job (max concurrent 1, completions 2)"}}},
		{"networks", running(), converted(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Networks = append(s.TaskTemplate.Networks, swarm.NetworkAttachmentConfig{Target: "todo_back", Aliases: []string{"app"}})
		}), []Change{{Field: "networks", Key: "todo_back", Change: "added", New: "aliases app"}}},
		{"ports", running(), converted(func(s *swarm.ServiceSpec) {
			s.EndpointSpec.Ports = []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080}}
		}), []Change{{Field: "ports", Key: "80/tcp", Change: "added", New: "published 8080 (ingress)"}}},
		{"resources", running(), converted(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 64 << 20}}
		}), []Change{{Field: "resources", Key: "limits", Change: "added", New: "cpus 0, memory 67108864, pids 0"}}},
		{"placement", running(), converted(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.role == manager"}}
		}), []Change{{Field: "placement", Key: "constraint node.role == manager", Change: "added", New: "set"}}},
		{"labels", running(), converted(func(s *swarm.ServiceSpec) { s.Labels["team"] = "core" }),
			[]Change{{Field: "labels", Key: "team", Change: "added", New: "core"}}},
		{"secrets and configs", running(), converted(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Secrets = nil
			s.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigName: "todo_settings", File: &swarm.ConfigReferenceFileTarget{Name: "/settings", UID: "0", GID: "0", Mode: 0o444}}}
		}), []Change{
			{Field: "secrets", Key: "todo_token", Change: "removed", Old: "token (uid 0, gid 0, mode 444)"},
			{Field: "configs", Key: "todo_settings", Change: "added", New: "/settings (uid 0, gid 0, mode 444)"},
		}},
		{"update order", running(), converted(func(s *swarm.ServiceSpec) { s.RollbackConfig.Order = "start-first" }),
			[]Change{{Field: "RollbackConfig.Order", Change: "changed"}}},
		{"anything else is named, without its value", running(), converted(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Command = []string{"serve", "--token=xyz"}
		}), []Change{{Field: "TaskTemplate.ContainerSpec.Command", Change: "changed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.running, tt.want, networkNames)
			if !reflect.DeepEqual(got, tt.changes) {
				t.Errorf("Diff:\n got %+v\nwant %+v", got, tt.changes)
			}
		})
	}
}

// TestDiffLeavesSpecsAlone: Diff compares copies; the specs it is given
// are the deploy's, and stay as they were.
func TestDiffLeavesSpecsAlone(t *testing.T) {
	r, w := running(), converted()
	Diff(r, w, networkNames)
	if !reflect.DeepEqual(r, running()) || !reflect.DeepEqual(w, converted()) {
		t.Errorf("Diff changed the specs it compared")
	}
}
