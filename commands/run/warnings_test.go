package run

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil"
)

// TestLoaderWarnings: what the compose loader logs (with logrus) reads as
// jobrun's own one-line warning, before anything reaches the engine.
func TestLoaderWarnings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "stack.yml")
	yaml := "version: \"3.7\"\nservices:\n  migrate:\n    image: busybox\n    secrets: [pw]\nsecrets:\n  pw: {external: {name: real_pw}}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	unreachable := errors.New("unreachable")
	f := &cmdutil.Factory{IO: cmdutil.IO{Out: &bytes.Buffer{}, Err: &errb}, Now: time.Now,
		Connect: func(context.Context, cmdutil.Common) (client.APIClient, cmdutil.EngineInfo, error) {
			return nil, cmdutil.EngineInfo{}, unreachable
		}}
	o := valid()
	o.Files, o.Factory = []string{file}, f
	if err := Run(context.Background(), &o); !errors.Is(err, unreachable) {
		t.Fatalf("err %v, want the engine's", err)
	}
	want := "jobrun: WARNING: secret pw: secret.external.name is deprecated in favor of secret.name\n"
	if errb.String() != want {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
}
