// Package version is `jobrun version`: the version, the commit and whether
// the tree was dirty, from what Go stamped into the binary.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/jobs"
)

// Options are jobrun version's flags and what the binary knows of itself.
type Options struct {
	Output string
	// Version is main.version, set with -ldflags "-X main.version=..."
	// ("dev" when not).
	Version string
	// ReadBuildInfo is runtime/debug.ReadBuildInfo; tests pass their own.
	ReadBuildInfo func() (*debug.BuildInfo, bool)
}

// Info is what `jobrun version` prints, and its JSON.
type Info struct {
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from ("" when the
	// build did not stamp it: go build -buildvcs=false, or not a checkout).
	Commit     string `json:"commit"`
	CommitTime string `json:"commitTime,omitempty"`
	// Dirty: the tree had uncommitted changes.
	Dirty     bool   `json:"dirty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// NewCommand is `jobrun version`; version is main.version.
func NewCommand(f *cmdutil.Factory, version string) *cli.Command {
	o := &Options{Version: version, ReadBuildInfo: debug.ReadBuildInfo}
	return &cli.Command{
		Name: "version", Usage: "print jobrun's version, commit and build",
		Flags: []cli.Flag{cmdutil.OutputFlag(&o.Output)},
		Action: func(c *cli.Context) error {
			return Run(f, o)
		},
	}
}

// Run prints the version as text or JSON.
func Run(f *cmdutil.Factory, o *Options) error {
	if err := cmdutil.CheckOutput(o.Output); err != nil {
		return err
	}
	info := Read(o.Version, o.ReadBuildInfo)
	if o.Output == "json" {
		return jobs.WriteJSON(f.IO.Out, info)
	}
	if _, err := fmt.Fprint(f.IO.Out, info.String()); err != nil {
		return &jobs.OutputError{Err: err}
	}
	return nil
}

// Read is the binary's Info: the version main was built with, else the
// main module's (a tagged `go install`, or Go's VCS pseudo-version), and the
// VCS stamps of the build.
func Read(version string, readBuildInfo func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := readBuildInfo()
	if !ok {
		return info
	}
	info.GoVersion = bi.GoVersion
	if (info.Version == "" || info.Version == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	goos, goarch := runtime.GOOS, runtime.GOARCH
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.CommitTime = s.Value
		case "vcs.modified":
			info.Dirty = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	info.Platform = goos + "/" + goarch
	return info
}

// Short names the build in one word, as records keep it: the version and,
// when stamped, the commit.
func (i Info) Short() string {
	if i.Commit == "" {
		return i.Version
	}
	short := i.Commit[:min(12, len(i.Commit))]
	if i.Dirty {
		short += "-dirty"
	}
	return i.Version + "+" + short
}

func (i Info) String() string {
	commit := "unknown (built without VCS stamps: go build -buildvcs=false or outside a git checkout)"
	if i.Commit != "" {
		commit = i.Commit
		if i.CommitTime != "" {
			commit += " (" + i.CommitTime + ")"
		}
		if i.Dirty {
			commit += ", dirty: built with uncommitted changes"
		} else {
			commit += ", clean"
		}
	}
	return fmt.Sprintf("jobrun %s\ncommit: %s\nbuilt:  %s %s\n", i.Version, commit, i.GoVersion, i.Platform)
}
