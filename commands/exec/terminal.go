package exec

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/moby/term"

	"jobrun/jobs"
)

// processStdin is jobrun's own stdin and, when it is a terminal, how to
// put it in raw mode and follow its window's size, with moby/term as
// docker run -it does.
func processStdin(out io.Writer) Stdin {
	s := Stdin{In: os.Stdin}
	fd, isTerminal := term.GetFdInfo(os.Stdin)
	if !isTerminal {
		return s
	}
	s.IsTerminal = true
	s.Terminal = &jobs.Terminal{
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
	return s
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
