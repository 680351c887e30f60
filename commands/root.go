// Package commands is jobrun's command line: the app, its default command
// (run), and one package per command below it, each an Options struct and
// a Run function that tests drive. What several commands share is a layer
// they all call: cmdutil (streams, engine, flags), and stackjobs (a
// stack's jobs checked, built and run: run, deploy, exec and plan).
package commands

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"

	"jobrun/commands/cmdutil"
	"jobrun/commands/completion"
	"jobrun/commands/deploy"
	"jobrun/commands/exec"
	"jobrun/commands/history"
	"jobrun/commands/logs"
	"jobrun/commands/plan"
	"jobrun/commands/prune"
	"jobrun/commands/run"
	"jobrun/commands/version"
	"jobrun/jobs"
)

// App is jobrun's command line.
type App struct{ app *cli.App }

// NewApp builds the command line; jobrunVersion is set when jobrun is built.
func NewApp(f *cmdutil.Factory, jobrunVersion string) *App {
	f.Jobrun = version.Read(jobrunVersion, debug.ReadBuildInfo).Short()
	o := run.NewOptions(f)
	app := &cli.App{
		Name:           "jobrun",
		Usage:          "run a stack file's one-shot jobs on Docker Swarm, wait for them, show their output",
		UsageText:      "jobrun [flags] JOB [JOB...]\n   jobrun run JOB [JOB...] [flags]\n   jobrun logs JOB [flags]\n   jobrun history [JOB]\n   jobrun version",
		HideVersion:    true, // --version is the job's version; `jobrun version` is ours
		Suggest:        true,
		Writer:         f.IO.Out,
		ErrWriter:      f.IO.Err,
		ExitErrHandler: func(*cli.Context, error) {}, // exit codes are mapped once, in main
		OnUsageError:   usageError,
		Flags:          run.Flags(o),
		Commands: []*cli.Command{
			run.NewCommand(f),
			deploy.NewCommand(f),
			deploy.NewRollbackCommand(f),
			exec.NewCommand(f),
			plan.NewCommand(f),
			history.NewCommand(f),
			logs.NewCommand(f),
			prune.NewCommand(f),
			version.NewCommand(f, jobrunVersion),
			completion.NewCommand(f),
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = usageError
	}
	app.Action = func(c *cli.Context) error {
		if c.NArg() == 0 && c.NumFlags() == 0 {
			return cli.ShowAppHelp(c)
		}
		if c.NArg() == 0 {
			// Flags but no job, e.g. `jobrun --version $EMPTY migrate`:
			// never exit 0 for a job that did not run.
			return &jobs.UsageError{Msg: "no job named: jobrun [flags] JOB [JOB...]"}
		}
		err := run.Run(c.Context, o.From(c))
		var usage *jobs.UsageError
		if cmd := closestCommand(c.App, c.Args().First()); cmd != "" && errors.As(err, &usage) {
			usage.Msg = fmt.Sprintf("unknown command %q: did you mean jobrun %s? (as a job: %s)", c.Args().First(), cmd, usage.Msg)
		}
		return err
	}
	return &App{app: app}
}

// Run runs the command line args (args[0] is the program).
func (a *App) Run(ctx context.Context, args []string) error {
	// urfave/cli answers `help NOSUCH` with its own exit code 3, which is
	// jobrun's "rejected": say it as the usage error it is.
	if len(args) > 2 && (args[1] == "help" || args[1] == "h") && a.app.Command(args[2]) == nil {
		return &jobs.UsageError{Msg: fmt.Sprintf("no command %q: jobrun --help lists them", args[2])}
	}
	return a.app.RunContext(ctx, permute(args, a.app, exec.Name))
}

// usageError turns urfave/cli's flag errors into one line that names the
// fix, instead of its error followed by the whole help text.
func usageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		flags := c.App.Flags
		if c.Command != nil && c.Command.Name != "" {
			flags = c.Command.Flags
		}
		if s := cli.SuggestFlag(flags, name, true); s != "" && similar(name, strings.TrimLeft(s, "-")) {
			msg += fmt.Sprintf(": did you mean %s?", s)
		} else if owner := ownerOf(c.App, name); owner != "" {
			msg += fmt.Sprintf(": --%s is a flag of jobrun %s", name, owner)
		}
	}
	return &jobs.UsageError{Msg: msg + " (jobrun --help lists the flags)"}
}

// ownerOf names the command that has the flag, if one does.
func ownerOf(app *cli.App, flag string) string {
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				if n == flag {
					return c.Name
				}
			}
		}
	}
	return ""
}

// closestCommand is the command a mistyped word most looks like, or "".
func closestCommand(app *cli.App, word string) string {
	best := ""
	for _, c := range app.Commands {
		if c.Name == word {
			return ""
		}
		if similar(word, c.Name) {
			best = c.Name
		}
	}
	return best
}

func similar(a, b string) bool { return smetrics.JaroWinkler(a, b, 0.7, 4) >= 0.85 }
