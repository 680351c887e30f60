package deploy

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	composetypes "github.com/docker/cli/cli/compose/types"

	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

// svc is a service of a stack file: "name" or "name:phase", with depends_on.
func svc(spec string, deps ...string) composetypes.ServiceConfig {
	name, phase, marked := strings.Cut(spec, ":")
	s := composetypes.ServiceConfig{Name: name, DependsOn: deps}
	if marked {
		s.Extras = map[string]any{jobs.ExtensionKey: map[string]any{"phase": phase}}
	}
	return s
}

func TestNewPlan(t *testing.T) {
	todobackend := []composetypes.ServiceConfig{
		svc("app", "db", "migrate", "collectstatic"), svc("db"),
		svc("migrate:pre-deploy", "db"), svc("collectstatic:pre-deploy"), svc("smoke:post-deploy", "app"),
	}
	tests := []struct {
		name      string
		services  []composetypes.ServiceConfig
		pre, post []string
		want      Plan
		wantErr   string
	}{
		{name: "todobackend", services: todobackend,
			want: Plan{Deps: []string{"db"}, Pre: []string{"collectstatic", "migrate"}, Services: []string{"app"}, Post: []string{"smoke"}}},
		{name: "jobs named on the command line", services: []composetypes.ServiceConfig{svc("app"), svc("migrate"), svc("smoke")},
			pre: []string{"migrate"}, post: []string{"smoke"},
			want: Plan{Pre: []string{"migrate"}, Services: []string{"app"}, Post: []string{"smoke"}}},
		{name: "a job's dependency of a dependency comes first", services: []composetypes.ServiceConfig{svc("cache"), svc("db", "cache"), svc("migrate:pre-deploy", "db"), svc("app", "db")},
			want: Plan{Deps: []string{"cache", "db"}, Pre: []string{"migrate"}, Services: []string{"app"}}},
		{name: "jobs in dependency order", services: []composetypes.ServiceConfig{svc("a:pre-deploy", "b"), svc("b:pre-deploy")},
			want: Plan{Pre: []string{"b", "a"}}},
		{name: "phase defaults to pre-deploy", services: []composetypes.ServiceConfig{{Name: "migrate", Extras: map[string]any{jobs.ExtensionKey: map[string]any{}}}},
			want: Plan{Pre: []string{"migrate"}}},
		{name: "cycle", services: []composetypes.ServiceConfig{svc("a:pre-deploy", "b"), svc("b:pre-deploy", "a")}, wantErr: "depends_on has a cycle: a -> b -> a"},
		{name: "a job depends on a name the file lacks", services: []composetypes.ServiceConfig{svc("migrate:pre-deploy", "dbb"), svc("db")},
			wantErr: "depends_on names services the stack file does not have, and the jobs' order needs them: migrate -> dbb: add them"},
		{name: "every offender, by service name", services: []composetypes.ServiceConfig{svc("worker:pre-deploy", "x"), svc("migrate:pre-deploy", "db", "z", "y"), svc("db", "w"), svc("smoke:post-deploy", "v")},
			wantErr: "needs them: db -> w, migrate -> z, migrate -> y, smoke -> v, worker -> x: add them"},
		{name: "a service depends on a name the file lacks", services: []composetypes.ServiceConfig{svc("app", "redis", "db"), svc("db"), svc("migrate:pre-deploy", "db"), svc("worker", "cache")},
			want: Plan{Deps: []string{"db"}, Pre: []string{"migrate"}, Services: []string{"app", "worker"},
				Warnings: []string{"depends_on names services the stack file does not have: app -> redis, worker -> cache: ignored, as docker stack deploy ignores them"}}},
		{name: "a post-deploy job's service depends on a name the file lacks", services: []composetypes.ServiceConfig{svc("smoke:post-deploy", "app"), svc("app", "redis")},
			want: Plan{Services: []string{"app"}, Post: []string{"smoke"},
				Warnings: []string{"depends_on names services the stack file does not have: app -> redis: ignored, as docker stack deploy ignores them"}}},
		{name: "unknown job", services: todobackend, pre: []string{"migrat"}, wantErr: `job "migrat" is not a service in the stack file`},
		{name: "a service needs a post-deploy job", services: []composetypes.ServiceConfig{svc("app", "smoke"), svc("smoke:post-deploy")}, wantErr: "service app depends on smoke, a post-deploy job, which runs after it"},
		{name: "a job needs a service that needs a job", services: []composetypes.ServiceConfig{svc("migrate:pre-deploy", "db"), svc("db", "seed"), svc("seed:pre-deploy")}, wantErr: "job migrate depends on service db, which depends on job seed"},
		{name: "unknown phase", services: []composetypes.ServiceConfig{svc("migrate:before")}, wantErr: `x-jobrun phase "before" is unknown`},
		{name: "no job", services: []composetypes.ServiceConfig{svc("app", "db"), svc("db")}, want: Plan{Services: []string{"db", "app"}}},
		{name: "a job named by both flags", services: []composetypes.ServiceConfig{svc("smoke")}, pre: []string{"smoke"}, post: []string{"smoke"},
			wantErr: "job smoke is named by both --job and --post-deploy-job: name it once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The loader lists services in map order: the plan and its
			// messages must not depend on it.
			for _, services := range [][]composetypes.ServiceConfig{tt.services, reversed(tt.services)} {
				got, err := NewPlan(&composetypes.Config{Services: services}, tt.pre, tt.post)
				if tt.wantErr != "" {
					jobstest.WantExit(t, err, jobs.ExitUsage, tt.wantErr)
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("plan %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

func reversed(services []composetypes.ServiceConfig) []composetypes.ServiceConfig {
	out := slices.Clone(services)
	slices.Reverse(out)
	return out
}
