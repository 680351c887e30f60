package cmdutil

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/moby/term"

	"jobrun/jobs"
)

// Stdin is the process's standard input and, when it is a terminal, how
// to put it in raw mode and follow its window's size (drawn on out), with
// moby/term as docker run -it does: main's, for IO.
func Stdin(in *os.File, out io.Writer) (io.Reader, *jobs.Terminal) {
	fd, isTerminal := term.GetFdInfo(in)
	if !isTerminal {
		return in, nil
	}
	return in, &jobs.Terminal{
		Out: out,
		Raw: func() func() {
			// Not SetRawTerminal: its SIGINT handler exits 0 at once,
			// leaving the task running.
			state, err := term.MakeRaw(fd)
			if err != nil {
				return func() {}
			}
			return func() { _ = term.RestoreTerminal(fd, state) }
		},
		Size: func() (uint, uint, bool) {
			ws, err := term.GetWinsize(fd)
			if err != nil || ws.Height == 0 || ws.Width == 0 {
				return 0, 0, false
			}
			return uint(ws.Height), uint(ws.Width), true
		},
		Resized: windowChanges,
	}
}

// windowChanges delivers a value at every SIGWINCH until ctx is done.
func windowChanges(ctx context.Context) <-chan struct{} {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	out := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}
