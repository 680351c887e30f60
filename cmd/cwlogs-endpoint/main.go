// Command cwlogs-endpoint serves an in-memory CloudWatch Logs API (package
// cwlogstest) on a local address, for Docker's awslogs log driver
// (--log-opt awslogs-endpoint=URL) and for demos. It prints its URL on
// stdout once listening and runs until SIGINT or SIGTERM.
//
//	cwlogs-endpoint -addr 127.0.0.1:4566 [-throttle 0.5] [-latency 10ms] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"jobrun/logs/cwlogstest"
)

type options struct {
	addr       string
	throttle   float64
	emptyPages float64
	latency    time.Duration
	retention  time.Duration
	seed       uint64
	verbose    bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "cwlogs-endpoint:", err)
		os.Exit(2)
	}
}

func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return run(ctx, opts, stdout, stderr)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("cwlogs-endpoint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:4566", "address to listen on (port 0 picks a free one)")
	fs.Float64Var(&o.throttle, "throttle", 0, "fraction of read calls answered ThrottlingException")
	fs.Float64Var(&o.emptyPages, "empty-pages", 0, "fraction of non-empty read pages answered empty")
	fs.DurationVar(&o.latency, "latency", 0, "delay before every answer")
	fs.DurationVar(&o.retention, "retention", 0, "hide events older than this from reads (0: keep all)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for -throttle and -empty-pages")
	fs.BoolVar(&o.verbose, "v", false, "log every call on stderr")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return o, nil
}

// run serves until ctx is done, then finishes the requests in flight.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	h := cwlogstest.NewHandler(
		cwlogstest.WithThrottleRate(o.throttle), cwlogstest.WithEmptyPages(o.emptyPages),
		cwlogstest.WithLatency(o.latency), cwlogstest.WithRetention(o.retention),
		cwlogstest.WithSeed(o.seed), cwlogstest.WithLogger(logger),
	)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	st := h.Stats()
	logger.Info("stopped", "calls", st.Calls, "events", st.Events, "throttled", st.Throttled)
	return err
}
