// Package completion is `jobrun completion bash|zsh`: a shell script that
// completes jobrun's commands and flags, taken from the app itself, and the
// job names of the stack file, which it asks `jobrun completion jobs` for
// each time (the services of -c files, else stack.yml in the current
// directory).
package completion

import (
	"bytes"
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/jobs"
)

var (
	//go:embed jobrun.bash
	bashScript string
	//go:embed jobrun.zsh
	zshScript string
)

// Options are jobrun completion's flags and argument.
type Options struct {
	Shell string // bash, zsh, or jobs: the job names, one a line
	Files []string
}

// NewCommand is `jobrun completion`.
func NewCommand(f *cmdutil.Factory) *cli.Command {
	o := &Options{}
	return &cli.Command{
		Name: "completion", Usage: "print a bash or zsh completion script: source <(jobrun completion bash)", ArgsUsage: "bash|zsh",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "compose-file", Aliases: []string{"c"}, Value: cli.NewStringSlice("stack.yml"), EnvVars: []string{"JOBRUN_COMPOSE_FILE"}, Usage: "stack file(s) whose services `completion jobs` lists"},
		},
		Action: func(c *cli.Context) error {
			o.Shell, o.Files = c.Args().First(), c.StringSlice("compose-file")
			if c.NArg() > 1 {
				return &jobs.UsageError{Msg: "name one shell: jobrun completion bash or jobrun completion zsh"}
			}
			return Run(f, c.App, o)
		},
	}
}

// Run prints the script for the shell, or the job names.
func Run(f *cmdutil.Factory, app *cli.App, o *Options) error {
	var text string
	switch o.Shell {
	case "jobs":
		return listJobs(f, o.Files)
	case "bash":
		text = bashScript
	case "zsh":
		text = zshScript
	default:
		return &jobs.UsageError{Msg: fmt.Sprintf("no completion for shell %q: use jobrun completion bash or jobrun completion zsh", o.Shell)}
	}
	script, err := render(text, describe(app, o.Shell))
	if err != nil {
		return err
	}
	_, err = f.IO.Out.Write(script)
	return err
}

// listJobs prints the services of the stack files, one a line, sorted: the
// job names. A missing or broken file lists none, silently: a completion has
// nowhere to say why.
func listJobs(f *cmdutil.Factory, files []string) error {
	stack, err := jobs.LoadStack("", files, f.Env)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(stack.Config.Services))
	for _, svc := range stack.Config.Services {
		names = append(names, svc.Name)
	}
	sort.Strings(names)
	_, err = fmt.Fprintln(f.IO.Out, strings.Join(names, "\n"))
	return err
}

// app is what a script completes: the commands, each with its flags and
// the kind of its arguments, and how each flag's value completes.
type app struct {
	Name     string
	Default  command   // the app's own flags: jobrun [flags] JOB...
	Commands []command // the visible commands
	Values   []value   // the flags whose value completes
	// Derived for the scripts: every command's name, every name of a flag
	// that takes a value, of those whose value completes to nothing, and of
	// the stack-file flag.
	CommandNames, ValueNames, Free, Files []string
}

type command struct {
	Name, Usage string
	Flags       []flag
	Jobs        bool     // its arguments are job names
	Words       []string // or these words
}

type flag struct {
	Names []string // --compose-file, -c
	Usage string
}

// value is how a flag's value completes: Kind is files, jobs, contexts,
// words (then Words) or "" (anything: nothing to offer); Action is the
// shell code that completes it.
type value struct {
	Names  []string
	Kind   string
	Words  []string
	Action string
}

// actions complete each kind of value, in bash and in zsh; %s is the words.
var actions = map[string]map[string]string{
	"bash": {
		"files":    `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))`,
		"jobs":     `COMPREPLY=($(compgen -W "$(_jobrun_jobs)" -- "$cur"))`,
		"contexts": `COMPREPLY=($(compgen -W "$(docker context ls --format '{{.Name}}' 2>/dev/null)" -- "$cur"))`,
		"words":    `COMPREPLY=($(compgen -W '%s' -- "$cur"))`,
	},
	"zsh": {
		"files":    `_files`,
		"jobs":     `compadd -- ${(f)"$(_jobrun_jobs)"}`,
		"contexts": `compadd -- ${(f)"$(docker context ls --format '{{.Name}}' 2>/dev/null)"}`,
		"words":    `compadd -- %s`,
	},
}

// values are the flags whose values complete; other flags that take a
// value complete nothing, and a name no command has is left out.
var values = map[string]value{
	"compose-file":    {Kind: "files"},
	"job":             {Kind: "jobs"},
	"post-deploy-job": {Kind: "jobs"},
	"context":         {Kind: "contexts"},
	"output":          {Kind: "words", Words: []string{"text", "json"}},
	"logs":            {Kind: "words", Words: []string{"auto", "cloudwatch", "docker"}},
	"resolve-image":   {Kind: "words", Words: []string{"always", "changed", "never"}},
}

// args are the words a command's arguments complete to.
var args = map[string][]string{"completion": {"bash", "zsh"}}

func describe(a *cli.App, shell string) app {
	out := app{Name: a.Name, Default: command{Flags: flags(a.Flags), Jobs: true}}
	seen := map[string]bool{}
	addValues := func(fs []cli.Flag) {
		for _, f := range fs {
			names := dashed(f.Names())
			if !takesValue(f) || seen[names[0]] {
				continue
			}
			seen[names[0]] = true
			v := values[f.Names()[0]]
			v.Names = names
			if v.Kind != "" {
				v.Action = actions[shell][v.Kind]
				if v.Kind == "words" {
					v.Action = fmt.Sprintf(v.Action, strings.Join(v.Words, " "))
				}
			}
			out.Values = append(out.Values, v)
		}
	}
	addValues(a.Flags)
	for _, c := range a.Commands {
		if c.Hidden {
			continue
		}
		out.Commands = append(out.Commands, command{Name: c.Name, Usage: c.Usage, Flags: flags(c.Flags),
			Jobs: strings.Contains(c.ArgsUsage, "JOB"), Words: args[c.Name]})
		addValues(c.Flags)
	}
	sort.Slice(out.Values, func(i, j int) bool { return out.Values[i].Names[0] < out.Values[j].Names[0] })
	for _, c := range out.Commands {
		out.CommandNames = append(out.CommandNames, c.Name)
	}
	all := out.Values
	out.Values = nil
	for _, v := range all {
		out.ValueNames = append(out.ValueNames, v.Names...)
		switch v.Kind {
		case "":
			out.Free = append(out.Free, v.Names...)
		case "files":
			out.Files = append(out.Files, v.Names...)
			fallthrough
		default:
			out.Values = append(out.Values, v)
		}
	}
	return out
}

func flags(fs []cli.Flag) []flag {
	var out []flag
	for _, f := range fs {
		if v, ok := f.(cli.VisibleFlag); (ok && !v.IsVisible()) || f.Names()[0] == "help" {
			continue // --help is every command's: urfave/cli adds it as it runs one
		}
		usage := ""
		if d, ok := f.(cli.DocGenerationFlag); ok {
			usage = strings.ReplaceAll(d.GetUsage(), "`", "") // `N` placeholders, as --help shows them
		}
		out = append(out, flag{Names: dashed(f.Names()), Usage: usage})
	}
	return out
}

func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}

// dashed is --long for each long name and -s for each short one.
func dashed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "--" + n
		if len(n) == 1 {
			out[i] = "-" + n
		}
	}
	return out
}

// render fills a script template; its delimiters are {% %}, since shell
// scripts are full of {{ }} and [[ ]].
func render(text string, a app) ([]byte, error) {
	t, err := template.New("script").Delims("{%", "%}").Funcs(template.FuncMap{
		"join": strings.Join,
		// sq quotes a string for the shell, in single quotes.
		"sq": func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" },
		// zdesc is "name:description" for zsh's _describe, quoted.
		"zdesc": func(name, usage string) string {
			return "'" + strings.ReplaceAll(strings.ReplaceAll(name, ":", `\:`)+":"+usage, "'", `'\''`) + "'"
		},
		"names": func(fs []flag) string {
			var all []string
			for _, f := range fs {
				all = append(all, f.Names...)
			}
			return strings.Join(all, " ")
		},
	}).Parse(text)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, a); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
