package run

import (
	"errors"
	"testing"
	"time"

	"jobrun/commands/cmdutil"
	"jobrun/commands/stackjobs"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

// valid is a run's options as the flags' defaults leave them.
func valid() Options {
	return Options{Jobs: []string{"migrate"}, Options: stackjobs.Options{
		Common: cmdutil.Common{Stack: "todobackend", ConnectTimeout: 10 * time.Second},
		Files:  []string{"stack.yml"}, Version: "3db46c4", Output: "text",
		MaxAttempts: -1, ResolveImage: "always", PendingTimeout: 2 * time.Minute,
		Run:  jobs.RunOptions{Timeout: time.Hour, KeepRuns: jobs.DefaultKeep, Reconnect: 2 * time.Minute},
		Logs: jobs.LogOptions{Mode: "auto", FlushWait: 5 * time.Second, DrainTimeout: 30 * time.Second},
	}}
}

func TestOptionsCheck(t *testing.T) {
	noGit := func() (string, error) { return "", errors.New("not a git checkout") }
	tests := []struct {
		name    string
		change  func(o *Options)
		git     func() (string, error)
		wantErr string // words of the usage error; "" for none
		check   func(jobs.SpecOptions, Options) string
	}{
		{name: "defaults", check: func(s jobs.SpecOptions, o Options) string {
			if s.MaxAttempts != nil || s.RestartDelay != nil || !o.Run.QueryRegistry || s.Version != "3db46c4" {
				return "defaults changed the stack file's policy or skipped the registry"
			}
			return ""
		}},
		{name: "restarts and delay", change: func(o *Options) { o.MaxAttempts, o.RestartDelay = 0, "5s" }, check: func(s jobs.SpecOptions, _ Options) string {
			if s.MaxAttempts == nil || *s.MaxAttempts != 0 || s.RestartDelay == nil || *s.RestartDelay != 5*time.Second {
				return "flags not carried"
			}
			return ""
		}},
		{name: "resolve-image never", change: func(o *Options) { o.ResolveImage = "never" }, check: func(_ jobs.SpecOptions, o Options) string {
			if o.Run.QueryRegistry {
				return "asks the registry"
			}
			return ""
		}},
		{name: "version from git", change: func(o *Options) { o.Version = "" }, git: func() (string, error) { return "abc1234", nil },
			check: func(s jobs.SpecOptions, _ Options) string {
				if s.Version != "abc1234" {
					return "version " + s.Version
				}
				return ""
			}},
		{name: "no version anywhere", change: func(o *Options) { o.Version = "" }, wantErr: "no version to run: pass --version"},
		{name: "version not a tag", change: func(o *Options) { o.Version = "v1/evil" }, wantErr: `version "v1/evil" is not a valid image tag`},
		{name: "no stack", change: func(o *Options) { o.Stack = "" }, wantErr: "--stack is required"},
		{name: "bad output", change: func(o *Options) { o.Output = "yaml" }, wantErr: `--output "yaml" is unknown`},
		{name: "bad logs", change: func(o *Options) { o.Logs.Mode = "syslog" }, wantErr: `--logs "syslog" is unknown`},
		{name: "zero timeout", change: func(o *Options) { o.Run.Timeout = 0 }, wantErr: "--timeout 0s must be positive"},
		{name: "zero pending timeout", change: func(o *Options) { o.PendingTimeout = 0 }, wantErr: "--pending-timeout 0s must be positive"},
		{name: "zero engine wait", change: func(o *Options) { o.Run.Reconnect = 0 }, wantErr: "--engine-wait 0s must be positive"},
		{name: "bad resolve-image", change: func(o *Options) { o.ResolveImage = "sometimes" }, wantErr: `--resolve-image "sometimes" is unknown`},
		{name: "keep no runs", change: func(o *Options) { o.Run.KeepRuns = 0 }, wantErr: "--keep-runs 0 must be at least 1"},
		{name: "bad restart delay", change: func(o *Options) { o.RestartDelay = "soon" }, wantErr: `--restart-delay "soon" is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			if tt.change != nil {
				tt.change(&o)
			}
			git := tt.git
			if git == nil {
				git = noGit
			}
			o.Factory = &cmdutil.Factory{GitVersion: git}
			spec, err := o.Check()
			if tt.wantErr != "" {
				jobstest.WantExit(t, err, jobs.ExitUsage, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if problem := tt.check(spec, o); problem != "" {
				t.Error(problem)
			}
		})
	}
}
