package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// permute moves every flag before the first positional argument, so that
// `jobrun migrate --version X` parses like `jobrun --version X migrate`:
// urfave/cli v2 stops reading flags at the first argument. All of jobrun's
// flags are global, so moving them in front of a command name is safe.
// "--" ends the flags, as usual.
func permute(args []string, flags []cli.Flag) []string {
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
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i:]...)
			i = len(rest)
		case len(a) > 1 && a[0] == '-':
			out = append(out, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				out = append(out, rest[i+1])
				i++
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(out, positional...)
}
