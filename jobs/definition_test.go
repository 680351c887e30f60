package jobs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	composetypes "github.com/docker/cli/cli/compose/types"

	"jobrun/jobs/jobstest"
)

const baseStack = `version: "3.7"
services:
  app:
    image: repo/app:${APP_VERSION}
    environment:
      DJANGO_SETTINGS_MODULE: todobackend.settings_release
      MYSQL_HOST: db
  migrate:
    image: repo/app:${APP_VERSION}
    command: ["python3", "manage.py", "migrate", "--no-input"]
    environment:
      MYSQL_HOST: db
      MYSQL_USER: todo
    deploy:
      restart_policy:
        condition: on-failure
        delay: 5s
        max_attempts: 2
`

// writeStack writes a stack file into a fresh temporary directory and
// returns its path.
func writeStack(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadService(t *testing.T, s *Stack, name string) composetypes.ServiceConfig {
	t.Helper()
	svc, err := s.Service(name)
	if err != nil {
		t.Fatalf("Service(%q): %v", name, err)
	}
	return svc
}

func TestLoadStackInterpolates(t *testing.T) {
	path := writeStack(t, "stack.yml", baseStack)
	s, err := LoadStack("todobackend", []string{path}, map[string]string{"APP_VERSION": "abc1234"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "todobackend" {
		t.Errorf("name = %q", s.Name)
	}
	svc := loadService(t, s, "migrate")
	if svc.Image != "repo/app:abc1234" {
		t.Errorf("image = %q, want repo/app:abc1234", svc.Image)
	}
	if got := strings.Join(svc.Command, " "); got != "python3 manage.py migrate --no-input" {
		t.Errorf("command = %q", got)
	}
	rp := svc.Deploy.RestartPolicy
	if rp == nil || rp.MaxAttempts == nil || *rp.MaxAttempts != 2 || rp.Delay == nil || rp.Delay.String() != "5s" {
		t.Errorf("restart policy = %+v, want max_attempts 2 delay 5s", rp)
	}
}

func TestLoadStackMergesFilesInOrder(t *testing.T) {
	base := writeStack(t, "stack.yml", baseStack)
	override := writeStack(t, "jobs.yml", `version: "3.7"
services:
  migrate:
    environment:
      MYSQL_HOST: db-primary
  collectstatic:
    image: repo/app:${APP_VERSION}
    command: ["python3", "manage.py", "collectstatic", "--no-input"]
`)
	env := map[string]string{"APP_VERSION": "v2"}
	s, err := LoadStack("todobackend", []string{base, override}, env)
	if err != nil {
		t.Fatal(err)
	}
	migrate := loadService(t, s, "migrate")
	if h := migrate.Environment["MYSQL_HOST"]; h == nil || *h != "db-primary" {
		t.Errorf("MYSQL_HOST = %v, want db-primary from the second file", h)
	}
	if u := migrate.Environment["MYSQL_USER"]; u == nil || *u != "todo" {
		t.Errorf("MYSQL_USER = %v, want todo kept from the first file", u)
	}
	if migrate.Image != "repo/app:v2" {
		t.Errorf("migrate image = %q", migrate.Image)
	}
	cs := loadService(t, s, "collectstatic")
	if cs.Image != "repo/app:v2" {
		t.Errorf("collectstatic image = %q", cs.Image)
	}

	// The other order: the first file's value wins over nothing, the last over all.
	s, err = LoadStack("todobackend", []string{override, base}, env)
	if err != nil {
		t.Fatal(err)
	}
	if h := loadService(t, s, "migrate").Environment["MYSQL_HOST"]; h == nil || *h != "db" {
		t.Errorf("reversed order: MYSQL_HOST = %v, want db from the last file", h)
	}
}

func TestLoadStackErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string   // written to a temp file; "" means the file does not exist
		files   []string // overrides the temp file when set
		words   []string
	}{
		{
			name:  "no file",
			files: []string{},
			words: []string{"-c"},
		},
		{
			name:  "missing file",
			files: []string{filepath.Join(dir, "nope.yml")},
			words: []string{"nope.yml", "not found", "-c"},
		},
		{
			name:    "not YAML",
			content: "services: [migrate\n  image: : :\n\t- x",
			words:   []string{"YAML"},
		},
		{
			name:    "not a mapping",
			content: "just a string\n",
		},
		{
			name:    "schema error: replicas not a number",
			content: "version: \"3.7\"\nservices:\n  migrate:\n    image: x\n    deploy:\n      replicas: \"lots\"\n",
			words:   []string{"invalid stack file", "replicas"},
		},
		{
			name:    "schema error: unknown top-level key",
			content: "version: \"3.7\"\nservices:\n  migrate:\n    image: x\nbogus: {}\n",
			words:   []string{"invalid stack file", "bogus"},
		},
		{
			name:    "option stack deploy does not support",
			content: "version: \"3.7\"\nservices:\n  migrate:\n    image: x\n    volumes_from: [app]\n    mem_limit: 1g\n",
			words:   []string{"does not support", "mem_limit, volumes_from"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := tt.files
			if files == nil {
				files = []string{writeStack(t, "stack.yml", tt.content)}
			}
			s, err := LoadStack("todobackend", files, map[string]string{"APP_VERSION": "v1"})
			if s != nil {
				t.Errorf("got a stack with the error: %+v", s)
			}
			jobstest.WantExit(t, err, ExitUsage, tt.words...)
		})
	}
}

func TestLoadStackVersionMismatch(t *testing.T) {
	a := writeStack(t, "a.yml", "version: \"3.7\"\nservices:\n  migrate:\n    image: x\n")
	b := writeStack(t, "b.yml", "version: \"3.8\"\nservices:\n  other:\n    image: y\n")
	_, err := LoadStack("todobackend", []string{a, b}, nil)
	jobstest.WantExit(t, err, ExitUsage, "invalid stack file", "a.yml", "b.yml", "version")
}

func TestStackService(t *testing.T) {
	tests := []struct {
		name    string
		content string
		env     map[string]string
		job     string
		image   string   // want, when no error
		words   []string // of the *UsageError, when one is expected
	}{
		{
			name:    "found",
			content: baseStack,
			env:     map[string]string{"APP_VERSION": "1.2.3"},
			job:     "migrate",
			image:   "repo/app:1.2.3",
		},
		{
			name:    "replicated mode is fine",
			content: "version: \"3.7\"\nservices:\n  migrate:\n    image: repo/app:1\n    deploy:\n      mode: replicated\n      replicas: 1\n",
			job:     "migrate",
			image:   "repo/app:1",
		},
		{
			name:    "unknown job lists the jobs",
			content: baseStack,
			env:     map[string]string{"APP_VERSION": "1"},
			job:     "migrat",
			words:   []string{`"migrat"`, "not a service", "app, migrate"},
		},
		{
			name:    "global mode",
			content: "version: \"3.7\"\nservices:\n  migrate:\n    image: repo/app:1\n    deploy:\n      mode: global\n",
			job:     "migrate",
			words:   []string{"migrate", "global", "replicated"},
		},
		{
			name:    "unresolved APP_VERSION",
			content: baseStack,
			env:     map[string]string{},
			job:     "migrate",
			words:   []string{`"repo/app:"`, "needs APP_VERSION, which is not set", "--version"},
		},
		{
			name:    "another variable unset",
			content: "version: \"3.7\"\nservices:\n  migrate:\n    image: \"repo/app:${TAG}\"\n",
			env:     map[string]string{"APP_VERSION": "v1"},
			job:     "migrate",
			words:   []string{`image "repo/app:" needs TAG, which is not set: set it in jobrun's environment (TAG=... jobrun migrate)`},
		},
		{
			name:    "replicated-job of several completions",
			content: "version: \"3.7\"\nservices:\n  migrate:\n    image: repo/app\n    deploy: {mode: replicated-job, replicas: 3}\n",
			job:     "migrate",
			words:   []string{"asks for 3 replicas", "set deploy.replicas to 1"},
		},
		{
			name:    "bad image reference",
			content: "version: \"3.7\"\nservices:\n  migrate:\n    image: \"UPPER/Case:tag\"\n",
			job:     "migrate",
			words:   []string{`"UPPER/Case:tag"`, "not a valid image reference"},
		},
		{
			name:    "no image",
			content: "version: \"3.7\"\nservices:\n  migrate:\n    command: [\"true\"]\n",
			job:     "migrate",
			words:   []string{"no image"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadStack("todobackend", []string{writeStack(t, "stack.yml", tt.content)}, tt.env)
			if err != nil {
				t.Fatalf("LoadStack: %v", err)
			}
			svc, err := s.Service(tt.job)
			if tt.words != nil {
				jobstest.WantExit(t, err, ExitUsage, tt.words...)
				return
			}
			if err != nil {
				t.Fatalf("Service(%q): %v", tt.job, err)
			}
			if svc.Name != tt.job || svc.Image != tt.image {
				t.Errorf("service = %s %s, want %s %s", svc.Name, svc.Image, tt.job, tt.image)
			}
		})
	}
}
