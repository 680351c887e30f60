package logs

import (
	"strings"
	"testing"
)

func TestStreamNamerName(t *testing.T) {
	const cid = "ca4e071e5ea8d3c5a0e1f7b2c9d8e6f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8"
	job := Task{ID: "770zvbjrm2un9g708hww1uz31", ServiceName: "cwtest-1", ContainerID: cid, NodeID: "b2xn60d1alwii5e3ucbvawqcj"}
	replica := job
	replica.Slot = 3
	tests := []struct {
		name  string
		namer StreamNamer
		task  Task
		want  string
	}{
		// What the awslogs driver named the stream of a real job task.
		{"default template, job task", StreamNamer{Template: DefaultStreamTemplate}, job,
			"cwtest-1.b2xn60d1alwii5e3ucbvawqcj.770zvbjrm2un9g708hww1uz31-ca4e071e5ea8"},
		{"default template, replica slot 3", StreamNamer{Template: DefaultStreamTemplate}, replica,
			"cwtest-1.3.770zvbjrm2un9g708hww1uz31-ca4e071e5ea8"},
		{"fixed stream wins", StreamNamer{Fixed: "all-in-one", Template: DefaultStreamTemplate}, job, "all-in-one"},
		{"fixed stream, no container yet", StreamNamer{Fixed: "all-in-one"}, Task{ID: "t1"}, "all-in-one"},
		{"no template: full container ID", StreamNamer{}, job, cid},
		{"FullID", StreamNamer{Template: "{{.FullID}}"}, job, cid},
		{"ImageName", StreamNamer{Template: "{{.ImageName}}/{{.ID}}", Image: "alpine:3.20"}, job, "alpine:3.20/ca4e071e5ea8"},
		{"template functions", StreamNamer{Template: "{{upper .Name}}"}, replica, "CWTEST-1.3.770ZVBJRM2UN9G708HWW1UZ31"},
		{"truncate, lower, title", StreamNamer{Template: `{{truncate .Name 8}}-{{lower "A"}}{{title "job x"}}`}, replica, "cwtest-1-aJob X"},
		{"split, join, pad of empty", StreamNamer{Template: `{{join (split .Name ".") "_"}}{{pad "" 2 2}}{{pad "x" 1 0}}`}, replica, "cwtest-1_3_770zvbjrm2un9g708hww1uz31 x"},
		{"json unescaped", StreamNamer{Template: `{{json "a<b"}}`}, job, `"a<b"`},
		{"truncate longer than the string", StreamNamer{Template: "{{truncate .ID 99}}"}, job, "ca4e071e5ea8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.namer.Name(tt.task)
			if err != nil {
				t.Fatalf("Name: %v", err)
			}
			if got != tt.want {
				t.Errorf("Name = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStreamNamerNameErrors(t *testing.T) {
	task := Task{ID: "770zvbjrm2un9g708hww1uz31", ServiceName: "cwtest-1", ContainerID: "ca4e071e5ea8d3c5a0e1f7b2", NodeID: "n1"}
	tests := []struct {
		name  string
		namer StreamNamer
		task  Task
		want  string // in the error
	}{
		{"unparsable template", StreamNamer{Template: "{{.Name"}, task, "invalid log stream template"},
		{"unknown field", StreamNamer{Template: "{{.Nope}}"}, task, "Nope"},
		{"no container yet", StreamNamer{Template: DefaultStreamTemplate}, Task{ID: "t1", ServiceName: "s"}, "task t1 has no container"},
		{"container ID too short for .ID", StreamNamer{Template: "{{.ID}}"}, Task{ID: "t1", ContainerID: "abc"}, "log stream template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.namer.Name(tt.task)
			if err == nil {
				t.Fatalf("Name = %q, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Name error = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestCheckTemplate(t *testing.T) {
	for _, ok := range []string{DefaultStreamTemplate, "", "{{.FullID}}", "{{.ImageName}}-{{truncate .ID 4}}", "fixed"} {
		if err := CheckTemplate(ok); err != nil {
			t.Errorf("CheckTemplate(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"{{.Name", "{{nosuchfunc .Name}}", "{{end}}"} {
		err := CheckTemplate(bad)
		if err == nil {
			t.Errorf("CheckTemplate(%q) = nil, want an error", bad)
			continue
		}
		if !strings.Contains(err.Error(), "invalid log stream template") {
			t.Errorf("CheckTemplate(%q) = %q, want it to say the template is invalid", bad, err)
		}
		if _, err := (StreamNamer{Template: bad}).Name(Task{ID: "t", ContainerID: strings.Repeat("a", 64)}); err == nil {
			t.Errorf("Name with template %q: no error", bad)
		}
	}
}

func TestContainerName(t *testing.T) {
	tests := []struct {
		task Task
		want string
	}{
		{Task{ServiceName: "svc", NodeID: "node1", ID: "task1"}, "svc.node1.task1"},
		{Task{ServiceName: "svc", NodeID: "node1", ID: "task1", Slot: 1}, "svc.1.task1"},
		{Task{ServiceName: "svc", NodeID: "node1", ID: "task1", Slot: 12}, "svc.12.task1"},
	}
	for _, tt := range tests {
		if got := ContainerName(tt.task); got != tt.want {
			t.Errorf("ContainerName(%+v) = %q, want %q", tt.task, got, tt.want)
		}
	}
}
