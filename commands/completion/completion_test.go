package completion_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"jobrun/commands"
	"jobrun/commands/cmdutil"
)

// The test binary is jobrun itself when the scripts call it back for job
// names (JOBRUN_COMPLETION_AS_JOBRUN=1), as a shell does at <TAB>.
func TestMain(m *testing.M) {
	if os.Getenv("JOBRUN_COMPLETION_AS_JOBRUN") == "1" {
		if err := app(os.Stdout).Run(context.Background(), os.Args); err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func app(out *os.File) *commands.App {
	return commands.NewApp(&cmdutil.Factory{IO: cmdutil.IO{Out: out, Err: os.Stderr}, Env: map[string]string{}}, "test")
}

// script is `jobrun completion SHELL`, written to a file.
func script(t *testing.T, shell string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jobrun."+shell)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := app(f).Run(context.Background(), []string{"jobrun", "completion", shell}); err != nil {
		t.Fatal(err)
	}
	return path
}

// stackDir holds stack.yml (migrate, collectstatic) and other.yml (other).
func stackDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, yaml := range map[string]string{
		"stack.yml": "version: \"3.7\"\nservices:\n  migrate:\n    image: \"app:${APP_VERSION}\"\n  collectstatic:\n    image: app\n",
		"other.yml": "version: \"3.7\"\nservices:\n  other:\n    image: app\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestJobNames(t *testing.T) {
	dir := stackDir(t)
	t.Chdir(dir)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "collectstatic\nmigrate\n"},
		{[]string{"-c", "other.yml"}, "other\n"},
		{[]string{"-c", "stack.yml", "-c", "other.yml"}, "collectstatic\nmigrate\nother\n"},
		{[]string{"-c", "missing.yml"}, ""}, // nothing to offer, and nothing said
	} {
		out, err := os.CreateTemp(dir, "out")
		if err != nil {
			t.Fatal(err)
		}
		if err := app(out).Run(context.Background(), append([]string{"jobrun", "completion", "jobs"}, tt.args...)); err != nil {
			t.Errorf("%v: %v", tt.args, err)
		}
		got, _ := os.ReadFile(out.Name())
		out.Close()
		if string(got) != tt.want {
			t.Errorf("completion jobs %v: got %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestUnknownShell(t *testing.T) {
	err := app(os.Stdout).Run(context.Background(), []string{"jobrun", "completion", "fish"})
	if err == nil || !strings.Contains(err.Error(), "bash or jobrun completion zsh") {
		t.Errorf("got %v, want a usage error naming bash and zsh", err)
	}
}

// completions are what each line completes to at its end, in the shell,
// with the script as `jobrun completion SHELL` prints it.
var completions = []struct{ line, want string }{
	{"jobrun mi", "migrate"},
	{"jobrun ", "run deploy rollback exec plan history logs prune version completion help collectstatic migrate"},
	{"jobrun -c other.yml ", "run deploy rollback exec plan history logs prune version completion help other"},
	{"jobrun run --stack todo col", "collectstatic"},
	{"jobrun --version v1 migrate co", "collectstatic"},
	{"jobrun logs -c other.yml o", "other"},
	{"jobrun logs ", "collectstatic migrate"},
	{"jobrun history --st", "--stack"},
	{"jobrun run -o ", "text json"},
	{"jobrun --logs c", "cloudwatch"},
	{"jobrun --timeout ", ""},
	{"jobrun completion ", "bash zsh"},
	{"jobrun version ", ""},
}

// TestBash runs the script in bash as its completion does: COMP_WORDS and
// COMP_CWORD set, _jobrun called, COMPREPLY read.
func TestBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	path := script(t, "bash")
	self, _ := os.Executable()
	for _, c := range completions {
		// A line ending in a space completes a new, empty word.
		cmd := exec.Command(bash, "-c", `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _jobrun; echo "${COMPREPLY[*]}"`, "bash", path, self)
		cmd.Args = append(cmd.Args, args(c.line)...)
		check(t, cmd, c.line, c.want)
	}
}

// TestZsh runs the script in zsh with its completion builtins replaced by
// functions that print what they are given.
func TestZsh(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("no zsh (apt-get install zsh)")
	}
	path := script(t, "zsh")
	if out, err := exec.Command(zsh, "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	self, _ := os.Executable()
	stubs := `compdef() { :; }
# what zsh's compadd keeps: the words the current one begins
_keep() { local w; for w; do [[ $w == ${words[CURRENT]}* ]] && reply+=("$w"); done; }
compadd() { [[ $1 == -- ]] && shift; _keep "$@"; }
_describe() { local -a items; items=("${(@P)4}"); _keep "${items[@]%%:*}"; }
_files() { reply+=(FILES); }
`
	for _, c := range completions {
		cmd := exec.Command(zsh, "-f", "-c", stubs+`source "$1"; shift; words=("$@"); CURRENT=$#; reply=(); _jobrun; print -r -- "${reply[*]}"`, "zsh", path, self)
		cmd.Args = append(cmd.Args, args(c.line)...)
		check(t, cmd, c.line, c.want)
	}
}

// args are a command line's words after the program, as the shell splits
// them for completion: a trailing space starts an empty word.
func args(line string) []string {
	w := strings.Fields(line)[1:]
	if strings.HasSuffix(line, " ") {
		w = append(w, "")
	}
	return w
}

func check(t *testing.T, cmd *exec.Cmd, line, want string) {
	t.Helper()
	dir := stackDir(t)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "JOBRUN_COMPLETION_AS_JOBRUN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%q: %v\n%s", line, err, stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("%q completes to %q, want %q", line, got, want)
	}
}
