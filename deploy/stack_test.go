package deploy

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestConfigWarnings(t *testing.T) {
	const expose = "Ignoring deprecated options: expose: Exposing ports is unnecessary - services on the same network can access each other's containers on any port."
	tests := []struct {
		name  string
		files []string // merged in order, as -c a.yml -c b.yml
		jobs  []string
		want  []string
	}{
		{name: "nothing ignored", files: []string{"services:\n  app: {image: x}\n"}},
		{name: "docker's lists, sorted", files: []string{"services:\n  app: {image: x, restart: always, privileged: true, expose: ['80']}\n  db: {image: x, container_name: db}\n"},
			want: []string{"Ignoring unsupported options: privileged, restart",
				"Ignoring deprecated options: container_name: Setting the container name is not supported.", expose}},
		{name: "a job's restart is jobrun's to read", files: []string{"services:\n  migrate: {image: x, restart: 'no'}\n  app: {image: x, expose: ['80']}\n"},
			jobs: []string{"migrate"}, want: []string{expose}},
		{name: "every file", files: []string{"services:\n  app: {image: x}\n", "services:\n  app: {restart: always}\n"},
			want: []string{"Ignoring unsupported options: restart"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var paths []string
			for i, content := range tt.files {
				p := filepath.Join(t.TempDir(), "stack.yml")
				if err := os.WriteFile(p, []byte("version: \"3.7\"\n"+content), 0o644); err != nil {
					t.Fatal(i, err)
				}
				paths = append(paths, p)
			}
			if got := ConfigWarnings(paths, tt.jobs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%q\nwant %q", got, tt.want)
			}
		})
	}
}
