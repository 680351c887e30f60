package version

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"

	"jobrun/commands/cmdutil"
)

func buildInfo(mainVersion string, settings ...string) func() (*debug.BuildInfo, bool) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "jobrun", Version: mainVersion}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return func() (*debug.BuildInfo, bool) { return bi, true }
}

func TestVersion(t *testing.T) {
	stamped := []string{"GOOS", "linux", "GOARCH", "arm64", "vcs.revision", "0d44826a1b2c", "vcs.time", "2026-11-26T12:00:00Z"}
	tests := []struct {
		name, version string
		info          func() (*debug.BuildInfo, bool)
		want          []string
	}{
		{name: "release build", version: "v1.2.0", info: buildInfo("(devel)", append(stamped, "vcs.modified", "false")...),
			want: []string{"jobrun v1.2.0\n", "commit: 0d44826a1b2c (2026-11-26T12:00:00Z), clean\n", "built:  go1.26.8 linux/arm64\n"}},
		{name: "dirty tree", version: "dev", info: buildInfo("v0.0.0-20261126120000-0d44826a1b2c+dirty", append(stamped, "vcs.modified", "true")...),
			want: []string{"jobrun v0.0.0-20261126120000-0d44826a1b2c+dirty\n", "commit: 0d44826a1b2c (2026-11-26T12:00:00Z), dirty: built with uncommitted changes\n"}},
		{name: "no VCS stamps", version: "dev", info: buildInfo("(devel)"),
			want: []string{"jobrun dev\n", "commit: unknown (built without VCS stamps"}},
		{name: "no build info", version: "dev", info: func() (*debug.BuildInfo, bool) { return nil, false },
			want: []string{"jobrun dev\n", "commit: unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			f := &cmdutil.Factory{IO: cmdutil.IO{Out: &out}}
			if err := Run(f, &Options{Output: "text", Version: tt.version, ReadBuildInfo: tt.info}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	var out bytes.Buffer
	f := &cmdutil.Factory{IO: cmdutil.IO{Out: &out}}
	info := buildInfo("(devel)", "vcs.revision", "0d44826a1b2c", "vcs.time", "2026-11-26T12:00:00Z", "vcs.modified", "true", "GOOS", "darwin", "GOARCH", "amd64")
	if err := Run(f, &Options{Output: "json", Version: "v1.2.0", ReadBuildInfo: info}); err != nil {
		t.Fatal(err)
	}
	var got Info
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	want := Info{Version: "v1.2.0", Commit: "0d44826a1b2c", CommitTime: "2026-11-26T12:00:00Z", Dirty: true, GoVersion: "go1.26.8", Platform: "darwin/amd64"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if err := Run(f, &Options{Output: "yaml", ReadBuildInfo: info}); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Errorf("-o yaml: %v, want a usage error", err)
	}
}
