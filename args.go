package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// permute moves every flag before the first positional argument, so that
// `jobrun migrate --version X` parses like `jobrun --version X migrate`:
// urfave/cli v2 stops reading flags at the first argument. All of jobrun's
// flags are global, so moving them in front of a command name is safe.
// "--" ends the flags; it is moved in front of the job names (after a
// command name), where urfave/cli honours it.
func permute(args []string, flags []cli.Flag, isCommand func(string) bool) []string {
	if len(args) == 0 {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	out := []string{args[0]}
	var positional []string
	dashdash := false
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i+1:]...)
			dashdash, i = true, len(rest)
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
		default:
			positional = append(positional, a)
		}
	}
	if dashdash {
		if len(positional) > 0 && isCommand(positional[0]) {
			out, positional = append(out, positional[0]), positional[1:]
		}
		out = append(out, "--")
	}
	return append(out, positional...)
}
