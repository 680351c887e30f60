package cmdutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli/config"
)

// TestRegistryAuthSaysABrokenCredentialHelper: a credential helper that
// fails is an error naming it, not "no credentials" and an anonymous pull
// in silence; a config without credentials is "" and no error.
func TestRegistryAuthSaysABrokenCredentialHelper(t *testing.T) {
	tests := []struct {
		name, config string
		wantErr      []string
	}{
		{"no credentials", `{}`, nil},
		{"helper fails", `{"credsStore": "jobrunbroken"}`, []string{"cannot read the registry credentials for 127.0.0.1:5000/app:v1 with docker-credential-jobrunbroken", "fix the docker config's credsStore or credHelpers"}},
	}
	// docker/cli reads DOCKER_CONFIG once per process (another test may
	// have made it read it already): set its directory itself.
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	config.SetDir(dir)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			helper := "#!/bin/sh\necho 'the keychain is locked' >&2\nexit 1\n"
			if err := os.WriteFile(filepath.Join(dir, "docker-credential-jobrunbroken"), []byte(helper), 0o755); err != nil {
				t.Fatal(err)
			}
			var d DockerCLI
			auth, err := d.RegistryAuth("127.0.0.1:5000/app:v1")
			if tt.wantErr == nil {
				if err != nil || auth != "" {
					t.Fatalf("RegistryAuth = %q, %v; want none and no error", auth, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("RegistryAuth = %q, nil; want the helper's failure", auth)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q: want %q in it", err, want)
				}
			}
		})
	}
}
