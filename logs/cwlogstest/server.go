// Package cwlogstest serves the CloudWatch Logs API from memory for tests,
// in the manner of net/http/httptest: real clients (aws-sdk-go-v2, Docker's
// awslogs log driver) talk to it over a real socket with the AWS JSON 1.1
// protocol.
//
// It serves CreateLogGroup, CreateLogStream, PutLogEvents,
// DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents
// with the service's limits, ordering and token rules, and can inject the
// faults a reader of the real service meets: throttling, latency, empty
// pages, outages, expired events and queued errors. Signatures are not
// checked.
package cwlogstest

import (
	"fmt"
	"net"
	"net/http"
	"sync"
)

// Server is a CloudWatch Logs endpoint listening on a loopback address. Its
// Handler's methods (Calls, Stats, Events, fault setters, ...) are promoted.
type Server struct {
	URL      string // http://127.0.0.1:port, for BaseEndpoint or awslogs-endpoint
	Listener net.Listener
	Config   *http.Server
	*Handler

	mu     sync.Mutex
	wg     sync.WaitGroup // one per open connection
	conns  map[net.Conn]http.ConnState
	closed bool
}

// NewServer starts and returns a new Server. Close it when done.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a Server listening on 127.0.0.1 but not yet
// serving: set fields (e.g. Config) and then call Start.
func NewUnstartedServer(opts ...Option) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("cwlogstest: failed to listen on a port: %v", err))
	}
	h := NewHandler(opts...)
	return &Server{Listener: ln, Config: &http.Server{Handler: h}, Handler: h}
}

// Start starts serving.
func (s *Server) Start() {
	if s.URL != "" {
		panic("cwlogstest: Server already started")
	}
	s.URL = "http://" + s.Listener.Addr().String()
	s.conns = map[net.Conn]http.ConnState{}
	s.Config.ConnState = s.track
	go s.Config.Serve(s.Listener)
}

// track follows connections so Close can end idle ones and wait for the
// others to finish their request.
func (s *Server) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateNew:
		s.wg.Add(1)
		s.conns[c] = state
		if s.closed {
			c.Close()
		}
	case http.StateActive, http.StateIdle:
		if _, ok := s.conns[c]; ok {
			s.conns[c] = state
			if state == http.StateIdle && s.closed {
				c.Close()
			}
		}
	case http.StateHijacked, http.StateClosed:
		if _, ok := s.conns[c]; ok {
			delete(s.conns, c)
			s.wg.Done()
		}
	}
}

// Close stops listening, closes idle connections and waits for requests in
// flight to be answered.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.Listener.Close()
	s.Config.SetKeepAlivesEnabled(false)
	for c, state := range s.conns {
		if state == http.StateIdle || state == http.StateNew {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}
