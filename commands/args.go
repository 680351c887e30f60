package commands

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// permute moves every flag before the first positional argument, so that
// `jobrun migrate --version X` parses like `jobrun --version X migrate`:
// urfave/cli v2 stops reading flags at the first argument. When that
// argument names a command, the flags go after it: they are that command's
// own, so `jobrun run migrate --follow` is refused. "--" ends the flags; it
// is moved in front of the job names (after a command name), where
// urfave/cli honours it. A command that runs a command line (jobrun exec
// JOB -- CMD) keeps its job before the "--", and takes everything after
// the job as the command line when there is no "--"; commandLines names
// those commands.
func permute(args []string, app *cli.App, commandLines ...string) []string {
	if len(args) == 0 {
		return args
	}
	all := [][]cli.Flag{app.Flags}
	for _, c := range app.Commands {
		all = append(all, c.Flags)
	}
	flags := app.Flags
	command := firstPositional(args[1:], valueTaking(all...))
	commandLine := false
	if c := app.Command(command); c != nil {
		flags = c.Flags
		commandLine = slices.Contains(commandLines, c.Name)
	} else {
		command = ""
	}
	takesValue := valueTaking(flags)
	out := []string{args[0]}
	if command != "" {
		out = append(out, command)
	}
	var positional []string
	dashdash, seenCommand := false, false
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--" && commandLine:
			// JOB -- CMD: the job stays before the --, so the command
			// sees whether there was one.
			out = append(out, positional...)
			positional = append([]string(nil), rest[i+1:]...)
			dashdash, i = true, len(rest)
		case a == "--":
			positional = append(positional, rest[i+1:]...)
			dashdash, i = true, len(rest)
		case commandLine && len(positional) > 0 && !slices.Contains(rest[i:], "--") && !ownFlag(a, takesValue):
			// No --: the rest is the command line, never jobrun's flags,
			// from its first word that is not one of the command's flags
			// (jobrun exec JOB --run R --attempt N replays with no command).
			positional = append(positional, rest[i:]...)
			i = len(rest)
		case len(a) > 1 && a[0] == '-':
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !hasValue && takesValue[name] {
				if i+1 == len(rest) {
					// No value: leave the flag last, so the parser says so
					// instead of taking a job name as its value.
					return append(out, a)
				}
				out = append(out, a, rest[i+1])
				i++
				continue
			}
			out = append(out, a)
		case command != "" && a == command && !seenCommand:
			seenCommand = true // already placed first
		default:
			positional = append(positional, a)
		}
	}
	if dashdash {
		out = append(out, "--")
	}
	return append(out, positional...)
}

// firstPositional is the first argument that is neither a flag nor the
// value of one.
func firstPositional(args []string, takesValue map[string]bool) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case len(a) <= 1 || a[0] != '-':
			return a
		case !strings.Contains(a, "=") && takesValue[strings.TrimLeft(a, "-")]:
			i++
		}
	}
	return ""
}

// ownFlag says whether a is a flag named in takesValue (valueTaking names
// every flag of its sets).
func ownFlag(a string, takesValue map[string]bool) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	_, known := takesValue[name]
	return len(a) > 1 && a[0] == '-' && known
}

// valueTaking names the flags that take a value, in any of the sets.
func valueTaking(sets ...[]cli.Flag) map[string]bool {
	takesValue := map[string]bool{}
	for _, flags := range sets {
		for _, f := range flags {
			_, isBool := f.(*cli.BoolFlag)
			for _, n := range f.Names() {
				takesValue[n] = takesValue[n] || !isBool
			}
		}
	}
	return takesValue
}
