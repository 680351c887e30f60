package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/jobs"
)

func TestPermute(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"nothing", "", ""},
		{"program only", "jobrun", "jobrun"},
		{"already in order", "jobrun --version X migrate", "jobrun --version X migrate"},
		{"flag after the job", "jobrun migrate --version X", "jobrun --version X migrate"},
		{"flag=value after the job", "jobrun migrate --version=X", "jobrun --version=X migrate"},
		{"bool flag does not take the next argument", "jobrun migrate --force collectstatic", "jobrun --force migrate collectstatic"},
		{"bool flag=value", "jobrun migrate --keep=false collectstatic", "jobrun --keep=false migrate collectstatic"},
		{"repeated short flag", "jobrun -c a.yml -c b.yml migrate", "jobrun -c a.yml -c b.yml migrate"},
		{"repeated short flag after the job", "jobrun migrate -c a.yml -c b.yml", "jobrun -c a.yml -c b.yml migrate"},
		{"short flag between jobs", "jobrun migrate -c a.yml collectstatic", "jobrun -c a.yml migrate collectstatic"},
		{"long alias", "jobrun migrate --compose-file a.yml", "jobrun --compose-file a.yml migrate"},
		{"single-dash long flag", "jobrun migrate -stack s", "jobrun -stack s migrate"},
		// A command's flags are its own: they go after its name.
		{"command then job then flag", "jobrun run migrate --stack s", "jobrun run --stack s migrate"},
		{"many flags around", "jobrun run migrate --stack s -o json collectstatic --parallel --max-attempts 0",
			"jobrun run --stack s -o json --parallel --max-attempts 0 migrate collectstatic"},
		{"flags before the command", "jobrun --stack s logs migrate -f", "jobrun logs --stack s -f migrate"},
		{"a flag value that names a command is a value", "jobrun -c logs migrate", "jobrun -c logs migrate"},
		{"value that looks like a flag", "jobrun migrate --restart-delay -5s", "jobrun --restart-delay -5s migrate"},
		{"-- ends the flags", "jobrun --stack s -- migrate --version X", "jobrun --stack s -- migrate --version X"},
		{"-- right away", "jobrun -- --weird", "jobrun -- --weird"},
		{"unknown flag stays a flag", "jobrun migrate --bogus X", "jobrun --bogus migrate X"},
		{"lone dash is an argument", "jobrun migrate - x", "jobrun migrate - x"},
		{"value flag last, without its value", "jobrun migrate --stack", "jobrun --stack"},
		{"-- after a job", "jobrun migrate --stack s -- --weird", "jobrun --stack s -- migrate --weird"},
		{"-- after a command", "jobrun run migrate -- --weird", "jobrun run -- migrate --weird"},
		// jobrun exec JOB -- CMD: the job stays before the --, the command after it is the command's.
		{"exec: the job before --", "jobrun exec migrate --version X -- ls -l", "jobrun exec --version X migrate -- ls -l"},
		{"exec: flags before the command", "jobrun --stack s exec -i migrate -- sh", "jobrun exec --stack s -i migrate -- sh"},
		{"exec without --: the rest is the command", "jobrun exec migrate ls -l --version X", "jobrun exec migrate ls -l --version X"},
		{"exec replay without --: its flags are jobrun's", "jobrun exec migrate --run R --attempt 1", "jobrun exec --run R --attempt 1 migrate"},
		{"exec without --: the rest from the command's first word", "jobrun exec migrate --run R ls -l", "jobrun exec --run R migrate ls -l"},
	}
	app := NewApp(&cmdutil.Factory{IO: cmdutil.IO{Out: io.Discard, Err: io.Discard}}, "test").app
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Fields(tt.in)
			orig := append([]string(nil), in...)
			got := permute(in, app, "exec")
			if strings.Join(got, " ") != tt.want || len(got) != len(strings.Fields(tt.want)) {
				t.Errorf("permute(%q) = %q, want %q", tt.in, got, strings.Fields(tt.want))
			}
			if fmt.Sprint(in) != fmt.Sprint(orig) {
				t.Errorf("permute changed its input: %q, was %q", in, orig)
			}
		})
	}
}

// parsed is what urfave/cli made of the arguments.
type parsed struct {
	command string // "" for the default action
	args    []string
	flags   map[string]string
}

// parse runs permute then urfave/cli with jobrun's own flags, and reports
// what the command would see, instead of running it.
func parse(t *testing.T, args []string) (parsed, error) {
	t.Helper()
	jobrun := NewApp(&cmdutil.Factory{IO: cmdutil.IO{Out: io.Discard, Err: io.Discard}}, "test").app
	flags := jobrun.Flags
	for _, f := range append(append(flags, jobrun.Command("logs").Flags...), jobrun.Command("history").Flags...) { // the environment must not set a flag
		if e, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, v := range e.GetEnvVars() {
				t.Setenv(v, "")
				os.Unsetenv(v)
			}
		}
	}
	var p parsed
	record := func(name string) cli.ActionFunc {
		return func(c *cli.Context) error {
			p.command, p.args, p.flags = name, c.Args().Slice(), map[string]string{}
			for _, n := range c.FlagNames() {
				switch {
				case !c.IsSet(n):
				case c.StringSlice(n) != nil:
					p.flags[n] = fmt.Sprint(c.StringSlice(n))
				default:
					p.flags[n] = fmt.Sprint(c.Value(n))
				}
			}
			return nil
		}
	}
	app := &cli.App{
		Name: "jobrun", HideVersion: true, Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Flags:          flags,
		Action:         record(""),
		Commands: []*cli.Command{
			{Name: "run", Flags: jobrun.Command("run").Flags, Action: record("run")},
			{Name: "logs", Flags: jobrun.Command("logs").Flags, Action: record("logs")},
			{Name: "history", Flags: jobrun.Command("history").Flags, Action: record("history")},
			{Name: "prune", Flags: jobrun.Command("prune").Flags, Action: record("prune")},
		},
	}
	err := app.Run(permute(args, app))
	return p, err
}

func TestPermuteThenParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		command string
		args    string
		flags   map[string]string // flag → value, for the flags that must be set
		err     string            // words of the parse error, when one is expected
	}{
		{name: "flag after the job", in: "jobrun migrate --version X", args: "migrate", flags: map[string]string{"version": "X"}},
		{name: "flag=value", in: "jobrun migrate --version=X", args: "migrate", flags: map[string]string{"version": "X"}},
		{name: "bool flag", in: "jobrun migrate --force collectstatic", args: "migrate collectstatic", flags: map[string]string{"force": "true"}},
		{name: "repeated -c", in: "jobrun migrate -c a.yml -c b.yml", args: "migrate", flags: map[string]string{"compose-file": "[a.yml b.yml]"}},
		{name: "run command", in: "jobrun run migrate --stack s", command: "run", args: "migrate", flags: map[string]string{"stack": "s"}},
		{name: "durations and ints", in: "jobrun migrate --timeout 5m --max-attempts 0 -o json", args: "migrate",
			flags: map[string]string{"timeout": "5m0s", "max-attempts": "0", "output": "json"}},
		{name: "-- keeps a flag-like job name", in: "jobrun --stack s -- --weird", args: "--weird", flags: map[string]string{"stack": "s"}},
		{name: "unknown flag is an error", in: "jobrun migrate --bogus X", err: "bogus"},
		{name: "logs flags", in: "jobrun logs migrate -f --attempt 2 --stack s", command: "logs", args: "migrate", flags: map[string]string{"follow": "true", "attempt": "2", "stack": "s"}},
		// A shell alias (jr='jobrun -c stack.yml --stack s') puts the shared
		// flags before every command.
		{name: "alias flags before logs", in: "jobrun -c stack.yml --stack s --context prod logs migrate", command: "logs", args: "migrate", flags: map[string]string{"stack": "s", "context": "prod"}},
		{name: "alias flags before history", in: "jobrun -c stack.yml --stack s history", command: "history", flags: map[string]string{"stack": "s"}},
		{name: "alias flags before prune", in: "jobrun --compose-file stack.yml --stack s prune migrate", command: "prune", args: "migrate", flags: map[string]string{"stack": "s"}},
		{name: "another command's flag is refused", in: "jobrun run migrate --follow --attempt 2", err: "follow"},
		{name: "the default command refuses logs flags too", in: "jobrun migrate --attempt 2", err: "attempt"},
		{
			name: "-- after a job name", in: "jobrun migrate --stack s -- --weird", args: "migrate --weird",
			flags: map[string]string{"stack": "s"},
		},
		{
			name: "value flag last without its value", in: "jobrun migrate --stack", err: "stack",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parse(t, strings.Fields(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want one mentioning %q (parsed %+v)", err, tt.err, p)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if p.command != tt.command || strings.Join(p.args, " ") != tt.args {
				t.Errorf("command %q args %q, want %q %q", p.command, p.args, tt.command, tt.args)
			}
			for name, want := range tt.flags {
				if got, ok := p.flags[name]; !ok || got != want {
					t.Errorf("flag %s = %q (set %v), want %q; all set: %v", name, got, ok, want, p.flags)
				}
			}
		})
	}
}

// TestFlagOfAnotherCommand: a flag given to a command that lacks it is
// refused with one line naming the command that has it; help for no
// command is a usage error too.
func TestFlagOfAnotherCommand(t *testing.T) {
	tests := []struct{ in, want string }{
		{"jobrun --timeout 5m logs migrate --stack s", "flag provided but not defined: -timeout: --timeout is a flag of jobrun run (jobrun --help lists the flags)"},
		{"jobrun run migrate --stack s --follow", "flag provided but not defined: -follow: --follow is a flag of jobrun logs (jobrun --help lists the flags)"},
		{"jobrun help nosuch", `no command "nosuch": jobrun --help lists them`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			app := NewApp(&cmdutil.Factory{IO: cmdutil.IO{Out: io.Discard, Err: io.Discard}}, "test")
			err := app.Run(context.Background(), strings.Fields(tt.in))
			var usage *jobs.UsageError
			if !errors.As(err, &usage) || usage.Msg != tt.want {
				t.Errorf("err = %v, want the usage error %q", err, tt.want)
			}
		})
	}
}

// TestPermuteCommandLineFromTheCommandsName: which command takes a command
// line is said by name, not read from its help text.
func TestPermuteCommandLineFromTheCommandsName(t *testing.T) {
	app := NewApp(&cmdutil.Factory{IO: cmdutil.IO{Out: io.Discard, Err: io.Discard}}, "test").app
	app.Command("exec").ArgsUsage = "JOB CMD" // help reworded: no " -- " in it
	in := strings.Fields("jobrun exec migrate --version X -- ls -l")
	want := "jobrun exec --version X migrate -- ls -l"
	if got := strings.Join(permute(in, app, "exec"), " "); got != want {
		t.Errorf("permute = %q, want %q", got, want)
	}
	// A command not named keeps the flags after its -- as arguments.
	want = "jobrun exec --version X -- migrate ls -l"
	if got := strings.Join(permute(in, app), " "); got != want {
		t.Errorf("permute without exec named = %q, want %q", got, want)
	}
}
