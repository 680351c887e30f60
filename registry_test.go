package main

// End to end against a real registry (scripts/registry.sh: Debian's
// docker-registry with htpasswd auth on 127.0.0.1): jobrun pins the job's
// image to its registry digest, as `docker stack deploy --with-registry-auth`
// does, with the credentials of the docker config in DOCKER_CONFIG.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// testRegistry is the registry of scripts/registry.sh, from its env lines.
type testRegistry struct {
	addr, user, password string
}

func registryFromEnv(t *testing.T) testRegistry {
	t.Helper()
	addr := os.Getenv("JOBRUN_REGISTRY")
	if os.Getenv("JOBRUN_INTEGRATION") != "1" || addr == "" {
		t.Skip(`needs a swarm engine and a registry: run scripts/test.sh (or eval "$(scripts/registry.sh env)" with JOBRUN_INTEGRATION=1)`)
	}
	pw, err := os.ReadFile(os.Getenv("JOBRUN_REGISTRY_PASSWORD_FILE"))
	if err != nil {
		t.Fatalf("registry password: %v", err)
	}
	return testRegistry{addr: addr, user: os.Getenv("JOBRUN_REGISTRY_USER"), password: strings.TrimSpace(string(pw))}
}

// dockerConfig writes a docker config directory (for DOCKER_CONFIG) holding
// the registry's credentials, as `docker login` leaves it without a
// credential helper.
func (r testRegistry) dockerConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	doc := map[string]any{"auths": map[string]any{
		r.addr: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(r.user + ":" + r.password))},
	}}
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// push tags the local image src as ref and pushes it; it returns the
// manifest digest the registry answered with. The tag is removed locally
// when the test ends.
func (r testRegistry) push(t *testing.T, engine *client.Client, src, ref string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := engine.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: ref}); err != nil {
		t.Fatalf("tag %s as %s: %v", src, ref, err)
	}
	t.Cleanup(func() {
		// Only the tag goes: the image keeps its own name.
		if _, err := engine.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{}); err != nil {
			t.Errorf("remove tag %s: %v", ref, err)
		}
	})
	return r.pushTagged(t, engine, ref)
}

// pushTagged pushes ref, a tag the engine has, and returns the manifest
// digest the registry answered with.
func (r testRegistry) pushTagged(t *testing.T, engine *client.Client, ref string) string {
	t.Helper()
	stream, err := engine.ImagePush(context.Background(), ref, client.ImagePushOptions{RegistryAuth: r.auth(t)})
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	defer stream.Close()
	digest, err := pushedDigest(stream)
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return digest
}

// auth is the engine's X-Registry-Auth for this registry.
func (r testRegistry) auth(t *testing.T) string {
	t.Helper()
	auth, err := authconfig.Encode(registry.AuthConfig{Username: r.user, Password: r.password, ServerAddress: r.addr})
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

// manifestType is the media type of the manifest ref names, as the engine
// reads it from the registry.
func (r testRegistry) manifestType(t *testing.T, engine *client.Client, ref string) string {
	t.Helper()
	dist, err := engine.DistributionInspect(context.Background(), ref, client.DistributionInspectOptions{EncodedRegistryAuth: r.auth(t)})
	if err != nil {
		t.Fatalf("distribution inspect %s: %v", ref, err)
	}
	return dist.Descriptor.MediaType
}

// pushedDigest reads a push's JSON message stream to its end: an error
// message is the push's failure; the aux message carries the digest. Engine
// 29's containerd image store sends no aux message (its
// daemon/containerd/image_push.go writes only the status line that the
// graph-driver store sends with it, "TAG: digest: DIGEST size: N"): the
// digest is taken from that line then.
func pushedDigest(stream io.Reader) (string, error) {
	dec := json.NewDecoder(stream)
	digest := ""
	for {
		var msg struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Aux    *struct {
				Tag, Digest string
				Size        int
			} `json:"aux"`
		}
		switch err := dec.Decode(&msg); {
		case errors.Is(err, io.EOF):
			if digest == "" {
				return "", errors.New("the push stream ended without a digest")
			}
			return digest, nil
		case err != nil:
			return "", err
		}
		if msg.Error != "" {
			return "", errors.New(msg.Error)
		}
		if msg.Aux != nil && msg.Aux.Digest != "" {
			digest = msg.Aux.Digest
		} else if m := pushedStatus.FindStringSubmatch(msg.Status); m != nil && digest == "" {
			digest = m[1]
		}
	}
}

// pushedStatus is a push's last status line, with the manifest digest.
var pushedStatus = regexp.MustCompile(`^[^ ]+: digest: (sha256:[0-9a-f]{64}) size: [0-9]+$`)

func TestRegistryPinsTheImageDigest(t *testing.T) {
	reg := registryFromEnv(t)
	t.Parallel()
	engine, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	var b [4]byte
	_, _ = rand.Read(b[:])
	ref := reg.addr + "/jobrun-test/busybox:it" + hex.EncodeToString(b[:])
	digest := reg.push(t, engine, testImage(), ref)
	t.Logf("pushed %s: %s", ref, digest)
	img, err := engine.ImageInspect(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	platform := swarm.Platform{OS: img.Os, Architecture: img.Architecture}
	withAuth := reg.dockerConfig(t)
	// A pinned service is placed by the platforms the engine's registry
	// lookup reports, as docker stack deploy places it. Engine 20.10 pushes
	// a Docker schema2 manifest and reports the platform of its config.
	// Engine 29's containerd image store pushes an OCI manifest, for which
	// the lookup reports none (moby's distribution route reads platforms
	// from schema2 manifests and manifest lists only): docker stack deploy
	// and jobrun then place the service by none.
	wantPlatforms := []swarm.Platform{platform}
	if reg.manifestType(t, engine, ref) == "application/vnd.oci.image.manifest.v1+json" {
		wantPlatforms = nil
	}

	cases := []struct {
		name, dockerConfig string
		args               []string
		pinned             bool
	}{
		{"default (always) with credentials", withAuth, nil, true},
		// A job service is always new: "changed" resolves as "always" does.
		{"changed with credentials", withAuth, []string{"--resolve-image", "changed"}, true},
		{"never", withAuth, []string{"--resolve-image", "never"}, false},
		// What `docker stack deploy` does without --with-registry-auth: the
		// client's digest lookup through the engine is refused (401), the
		// client warns "could not be accessed on a registry to record its
		// digest" and creates the service with the bare tag anyway; the task
		// then runs (this engine prefers its local image, so it pulls
		// nothing). jobrun passes the warning on and the job succeeds.
		{"no credentials", t.TempDir(), nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t)
			f := s.writeStack("stack.yml", fmt.Sprintf(`version: "3.7"
services:
  pinned:
    image: %s
    command: ["sh", "-c", "echo ran from the registry image"]
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 1}
`, ref))
			env := []string{"DOCKER_CONFIG=" + c.dockerConfig}
			r := s.jobrun(env, append([]string{"-c", f, "pinned", "--version", "v1", "--keep", "-o", "json"}, c.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0", r.code)
			}
			if !strings.Contains(r.stderr, "ran from the registry image") {
				t.Errorf("the job's output is missing")
			}
			wantImage := ref
			if c.pinned {
				wantImage = ref + "@" + digest
			}

			// The kept service, as the engine has it.
			svcs := s.jobServices()
			if len(svcs) != 1 {
				t.Fatalf("%d job services after --keep, want 1", len(svcs))
			}
			spec := svcs[0].Spec.TaskTemplate
			if got := spec.ContainerSpec.Image; got != wantImage {
				t.Errorf("service image %q, want %q", got, wantImage)
			}
			var platforms []swarm.Platform
			if spec.Placement != nil {
				platforms = spec.Placement.Platforms
			}
			if c.pinned && !slices.Equal(platforms, wantPlatforms) {
				t.Errorf("placement platforms %+v, want %+v from the registry", platforms, wantPlatforms)
			}
			if !c.pinned && len(platforms) != 0 {
				t.Errorf("placement platforms %+v, want none: the registry was not asked", platforms)
			}
			unpinnedWarning := strings.Contains(r.stderr, "could not be accessed on a registry to record")
			if wantWarning := c.name == "no credentials"; unpinnedWarning != wantWarning {
				t.Errorf("engine warning that the digest could not be recorded: shown %v, want %v", unpinnedWarning, wantWarning)
			}

			// The run record: from the run itself (-o json) and, after it,
			// from the swarm (history -o json). `jobrun logs` prints no image.
			var run struct{ Runs []jobs.Record }
			if err := json.Unmarshal([]byte(r.stdout), &run); err != nil || len(run.Runs) != 1 {
				t.Fatalf("stdout is not one run's JSON document: %v", err)
			}
			h := s.jobrun(nil, "history", "pinned", "-o", "json")
			var hist struct{ Runs []jobs.Record }
			if err := json.Unmarshal([]byte(h.stdout), &hist); err != nil || len(hist.Runs) != 1 {
				t.Fatalf("history -o json: exit %d, not one run: %v", h.code, err)
			}
			// The record names the image the engine ran: pinned when it was.
			for what, rec := range map[string]jobs.Record{"run -o json": run.Runs[0], "history -o json": hist.Runs[0]} {
				if rec.Image != wantImage {
					t.Errorf("%s: record image %q, want %q", what, rec.Image, wantImage)
				}
			}
			l := s.jobrun(nil, "logs", "pinned")
			if l.code != 0 || l.stdout != "ran from the registry image\n" {
				t.Errorf("logs: exit %d, stdout %q", l.code, l.stdout)
			}

			// The credentials reach the engine, never the output or the record.
			for what, out := range map[string]string{"run": r.stdout + r.stderr, "history": h.stdout + h.stderr, "logs": l.stdout + l.stderr} {
				if strings.Contains(out, reg.password) {
					t.Errorf("%s prints the registry password", what)
				}
			}
		})
	}
}
