// Command jobrun runs a stack file's one-shot jobs (a database migrate, a
// collectstatic) on a Docker Swarm cluster, waits for them and shows their
// output. The command line is in commands/, the domain in jobs/, where
// output comes from in logs/.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/moby/term"

	"jobrun/commands"
	"jobrun/commands/cmdutil"
	"jobrun/jobs"
	"jobrun/notify"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run runs the command line and maps its error to the exit code, once.
func run(args []string, stdout, stderr io.Writer) int {
	// The first Ctrl-C or SIGTERM cancels the run, which stops the job and
	// cleans up (seconds); a second one exits at once.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	// A closed stdout (`jobrun migrate | head`) must not kill jobrun mid-run
	// and orphan the job: writes fail instead, and the reporter copes.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		sig := <-signals
		fmt.Fprintf(stderr, "jobrun: %v: stopping (once more to exit at once)\n", sig)
		cancel()
		<-signals
		fmt.Fprintf(stderr, "jobrun: interrupted twice: exiting without cleaning up; the job may still be running: docker service ls --filter label=%s\n", jobs.LabelJob)
		os.Exit(jobs.ExitInterrupted)
	}()
	app := commands.NewApp(factory(stdout, stderr), version)
	return commands.Exit(app.Run(ctx, args), stderr)
}

// factory is what the commands take from this process: its streams,
// environment, engine and clock.
func factory(stdout, stderr io.Writer) *cmdutil.Factory {
	streams := cmdutil.IO{Out: stdout, Err: stderr}
	streams.In, streams.InTerminal = cmdutil.Stdin(os.Stdin, stdout)
	if f, ok := stdout.(*os.File); ok {
		streams.OutIsTerminal = term.IsTerminal(f.Fd())
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	// The environment the commands see, as docker/cli sees the process's.
	docker := &cmdutil.DockerCLI{Getenv: func(k string) string { return env[k] }}
	host, _ := os.Hostname()
	account := ""
	if u, err := user.Current(); err == nil {
		account = u.Username
	}
	return &cmdutil.Factory{
		IO: streams, Connect: docker.Connect, RegistryAuth: docker.RegistryAuth, DockerCLI: docker.Get, Env: env,
		Now: time.Now, After: time.After, Hostname: host, Account: account, Notifier: notify.Default(),
		GitVersion: func() (string, error) {
			out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
			return strings.TrimSpace(string(out)), err
		},
	}
}
