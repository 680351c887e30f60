package stackdeploy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
)

// writeFiles writes each content as a stack file in its own directory and
// returns their paths, in order.
func writeFiles(t *testing.T, contents ...string) []string {
	t.Helper()
	var paths []string
	for _, content := range contents {
		p := filepath.Join(t.TempDir(), "stack.yml")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func TestConfigDetails(t *testing.T) {
	paths := writeFiles(t, "version: \"3.7\"\nservices:\n  app: {image: x}\n", "version: \"3.7\"\nservices:\n  app: {image: y}\n")
	env := map[string]string{"TAG": "1"}
	details, err := ConfigDetails(paths, strings.NewReader(""), env)
	if err != nil {
		t.Fatal(err)
	}
	if details.WorkingDir != filepath.Dir(paths[0]) {
		t.Errorf("working dir %s, want the first file's %s", details.WorkingDir, filepath.Dir(paths[0]))
	}
	if details.Version != "3.7" {
		t.Errorf("version %q, want the first file's 3.7", details.Version)
	}
	if !reflect.DeepEqual(details.Environment, env) {
		t.Errorf("environment %v, want %v", details.Environment, env)
	}
	if len(details.ConfigFiles) != 2 || details.ConfigFiles[1].Filename != paths[1] {
		t.Fatalf("files %+v, want both, in order", details.ConfigFiles)
	}
	cfg, err := loader.Load(details)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Services[0].Image != "y" {
		t.Errorf("merged image %q, want the second file's y", cfg.Services[0].Image)
	}
}

func TestConfigDetailsStdin(t *testing.T) {
	details, err := ConfigDetails([]string{Stdin}, strings.NewReader("version: \"3.8\"\nservices:\n  app: {image: x}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if details.WorkingDir != wd || details.Version != "3.8" || details.ConfigFiles[0].Filename != Stdin {
		t.Errorf("got dir %s version %s file %s; want %s, 3.8, -", details.WorkingDir, details.Version, details.ConfigFiles[0].Filename, wd)
	}
}

func TestConfigDetailsErrors(t *testing.T) {
	bad := writeFiles(t, "services: [\n")
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"no file", nil, "specify a Compose file (with --compose-file)"},
		{"missing", []string{filepath.Join(t.TempDir(), "nope.yml")}, "read "},
		{"bad YAML", bad, "parse " + bad[0] + ": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigDetails(tt.files, strings.NewReader(""), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	const expose = "Ignoring deprecated options: expose: Exposing ports is unnecessary - services on the same network can access each other's containers on any port."
	tests := []struct {
		name  string
		files []string // merged in order, as -c a.yml -c b.yml
		skip  []string
		want  []string
	}{
		{name: "nothing ignored", files: []string{"services:\n  app: {image: x}\n"}},
		{name: "docker's lists, sorted", files: []string{"services:\n  app: {image: x, restart: always, privileged: true, expose: ['80']}\n  db: {image: x, container_name: db}\n"},
			want: []string{"Ignoring unsupported options: privileged, restart",
				"Ignoring deprecated options: container_name: Setting the container name is not supported.", expose}},
		{name: "a skipped service is left out", files: []string{"services:\n  migrate: {image: x, restart: 'no'}\n  app: {image: x, expose: ['80']}\n"},
			skip: []string{"migrate"}, want: []string{expose}},
		{name: "every file", files: []string{"services:\n  app: {image: x}\n", "services:\n  app: {restart: always}\n"},
			want: []string{"Ignoring unsupported options: restart"}},
		{name: "a service that is not a mapping", files: []string{"services:\n  app:\n  db: {image: x, restart: always}\n"},
			want: []string{"Ignoring unsupported options: restart"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var contents []string
			for _, c := range tt.files {
				contents = append(contents, "version: \"3.7\"\n"+c)
			}
			details, err := ConfigDetails(writeFiles(t, contents...), strings.NewReader(""), nil)
			if err != nil {
				t.Fatal(err)
			}
			before := len(details.ConfigFiles[0].Config["services"].(map[string]any))
			if got := Warnings(details, tt.skip); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%q\nwant %q", got, tt.want)
			}
			if after := len(details.ConfigFiles[0].Config["services"].(map[string]any)); after != before {
				t.Errorf("Warnings changed the details: %d services, then %d", before, after)
			}
		})
	}
}

// loadStack loads one stack file as jobrun does, from a directory of its
// own with the extra files (secrets' and configs' data) beside it.
func loadStack(t *testing.T, content string, extra map[string]string) *composetypes.Config {
	t.Helper()
	paths := writeFiles(t, "version: \"3.8\"\n"+content)
	for name, data := range extra {
		if err := os.WriteFile(filepath.Join(filepath.Dir(paths[0]), name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	details, err := ConfigDetails(paths, strings.NewReader(""), map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loader.Load(details)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestLoadFromDirectoryNoURL: a stack file in, and run from, a directory
// whose path is no valid URL loads, with its relative paths resolved; the
// process's working directory is as it was.
func TestLoadFromDirectoryNoURL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "50%_done")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if err := os.WriteFile("pw.txt", []byte("s3cret"), 0o644); err != nil {
		t.Fatal(err)
	}
	stack := "version: \"3.8\"\nservices:\n  app: {image: x, secrets: [pw]}\nsecrets:\n  pw: {file: ./pw.txt}\n"
	if err := os.WriteFile("stack.yml", []byte(stack), 0o644); err != nil {
		t.Fatal(err)
	}
	details, err := ConfigDetails([]string{"stack.yml"}, strings.NewReader(""), map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(details)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := filepath.Join(dir, "pw.txt"); cfg.Secrets["pw"].File != want {
		t.Errorf("secret file %q, want %q", cfg.Secrets["pw"].File, want)
	}
	if wd, _ := os.Getwd(); wd != dir {
		t.Errorf("working directory %q after Load, want %q", wd, dir)
	}
}
