// Command countproxy serves the Docker engine API on a unix socket, forwards
// every request to the engine's own socket, and logs one line per request:
//
//	<unix time, ns> <TAB> <method> <TAB> <path and query>
//
// and, with -done, one line per answered request to another file:
//
//	<end, unix ns> <TAB> <start, unix ns> <TAB> <method> <TAB> <path and query>
//
// scripts/bench.sh points DOCKER_HOST at it to count the requests a client
// sends. Responses are streamed as they come (task and service logs).
//
//	countproxy -listen /tmp/p.sock -target /run/jobrun-engine/docker.sock -log requests.tsv [-done done.tsv]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "", "unix socket to serve on")
	target := flag.String("target", "/run/jobrun-engine/docker.sock", "the engine's unix socket")
	logPath := flag.String("log", "", "file to append one line per request to")
	donePath := flag.String("done", "", "file to append one line per finished request to (optional)")
	flag.Parse()
	if *listen == "" || *logPath == "" {
		fmt.Fprintln(os.Stderr, "countproxy: -listen and -log are required")
		os.Exit(2)
	}
	if err := run(*listen, *target, *logPath, *donePath); err != nil {
		fmt.Fprintln(os.Stderr, "countproxy:", err)
		os.Exit(1)
	}
}

func run(listen, target, logPath, donePath string) error {
	log, err := openLog(logPath)
	if err != nil {
		return err
	}
	defer log.close()
	var done *requestLog
	if donePath != "" {
		if done, err = openLog(donePath); err != nil {
			return err
		}
		defer done.close()
	}

	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker"
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", target)
			},
			MaxIdleConnsPerHost: 16,
		},
		FlushInterval: -1, // stream logs as they arrive
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		log.add("%d\t%s\t%s\n", start.UnixNano(), r.Method, r.URL.RequestURI())
		proxy.ServeHTTP(w, r)
		if done != nil {
			done.add("%d\t%d\t%s\t%s\n", time.Now().UnixNano(), start.UnixNano(), r.Method, r.URL.RequestURI())
		}
	})

	_ = os.Remove(listen)
	ln, err := net.Listen("unix", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		// Streams in flight (followed logs) may never end on their own.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	_ = os.Remove(listen)
	return err
}

// requestLog writes one line per request; flushed after each line so the
// file can be read while the proxy runs.
type requestLog struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

func openLog(path string) (*requestLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &requestLog{f: f, w: bufio.NewWriter(f)}, nil
}

func (l *requestLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
	_ = l.w.Flush()
}

func (l *requestLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.w.Flush()
	_ = l.f.Close()
}
