package cwlogstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// targetPrefix is the X-Amz-Target service prefix of CloudWatch Logs.
const targetPrefix = "Logs_20140328."

// maxBody bounds a request body: a full PutLogEvents batch with every byte
// JSON-escaped still fits.
const maxBody = 8 << 20

// Handler serves the CloudWatch Logs API from memory. Use it through a
// Server, or mount it on any http.Server. Its methods are safe for
// concurrent use, also while requests are served.
type Handler struct {
	mu           sync.RWMutex
	groups       map[string]*group
	nextStreamID int64
	putEvents    int

	now func() time.Time
	log *slog.Logger

	// Faults, settable while serving.
	throttle   atomic.Uint64 // float64 bits
	empty      atomic.Uint64 // float64 bits
	latency    atomic.Int64  // ns
	retention  atomic.Int64  // ns
	outage     atomic.Bool
	readOutage atomic.Bool

	randMu sync.Mutex
	rand   *rand.Rand

	statsMu   sync.Mutex
	calls     map[string]int
	throttled int
	dropped   int
	injected  int
	failNext  map[string][]Error
	emptied   atomic.Int64
	nonce     atomic.Uint64
}

// Option configures a Handler or Server.
type Option func(*Handler)

// WithThrottleRate makes that fraction p (0 to 1) of read calls
// (GetLogEvents, FilterLogEvents, DescribeLogGroups, DescribeLogStreams)
// answer ThrottlingException. Which calls are throttled is decided by a
// generator seeded by WithSeed.
func WithThrottleRate(p float64) Option { return func(h *Handler) { h.SetThrottleRate(p) } }

// WithEmptyPages makes that fraction p of GetLogEvents and FilterLogEvents
// pages that would have had events come back empty, with a token that still
// leads on from the same position, as the service sometimes answers.
func WithEmptyPages(p float64) Option { return func(h *Handler) { h.SetEmptyPages(p) } }

// WithLatency delays every answer by d.
func WithLatency(d time.Duration) Option { return func(h *Handler) { h.SetLatency(d) } }

// WithRetention hides from reads the events whose timestamp is older than
// now-d, as the service does once a group's retention has passed.
func WithRetention(d time.Duration) Option { return func(h *Handler) { h.SetRetention(d) } }

// WithSeed seeds the generator behind WithThrottleRate and WithEmptyPages
// (default 1): the same seed and the same sequence of calls give the same
// faults.
func WithSeed(seed uint64) Option {
	return func(h *Handler) { h.rand = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithClock sets the clock behind ingestion and creation times and
// retention (default time.Now).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithLogger logs each call at debug level: operation, group, stream,
// number of events, outcome.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// NewHandler returns an empty CloudWatch Logs with the given options.
func NewHandler(opts ...Option) *Handler {
	h := &Handler{
		groups:   map[string]*group{},
		now:      time.Now,
		log:      slog.New(slog.DiscardHandler),
		calls:    map[string]int{},
		failNext: map[string][]Error{},
	}
	WithSeed(1)(h)
	for _, o := range opts {
		o(h)
	}
	return h
}

// SetThrottleRate changes WithThrottleRate while serving.
func (h *Handler) SetThrottleRate(p float64) { h.throttle.Store(math.Float64bits(p)) }

// SetEmptyPages changes WithEmptyPages while serving.
func (h *Handler) SetEmptyPages(p float64) { h.empty.Store(math.Float64bits(p)) }

// SetLatency changes WithLatency while serving.
func (h *Handler) SetLatency(d time.Duration) { h.latency.Store(int64(d)) }

// SetRetention changes WithRetention while serving; 0 keeps events forever.
func (h *Handler) SetRetention(d time.Duration) { h.retention.Store(int64(d)) }

// SetOutage turns an outage on or off. During an outage every request's
// connection is closed without an answer, as when the endpoint is
// unreachable mid-call.
func (h *Handler) SetOutage(on bool) { h.outage.Store(on) }

// SetReadOutage is SetOutage for the read operations only: the readers'
// path to CloudWatch is down while the engines' log drivers still write.
func (h *Handler) SetReadOutage(on bool) { h.readOutage.Store(on) }

// FailNext makes the next n calls of op (e.g. "GetLogEvents") answer e,
// e.g. ErrServiceUnavailable or ErrInternalFailure, after any already queued.
func (h *Handler) FailNext(op string, n int, e Error) {
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	for range n {
		h.failNext[op] = append(h.failNext[op], e)
	}
}

// Stats counts what the handler has served.
type Stats struct {
	Calls      map[string]int // requests by operation, whatever their outcome
	Throttled  int            // answered ThrottlingException by WithThrottleRate
	Dropped    int            // closed without an answer during an outage
	Injected   int            // answered an error queued by FailNext
	EmptyPages int            // pages emptied by WithEmptyPages
	Events     int            // log events accepted by PutLogEvents
}

// Stats returns a snapshot of the counters.
func (h *Handler) Stats() Stats {
	h.mu.RLock()
	events := h.putEvents
	h.mu.RUnlock()
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	calls := make(map[string]int, len(h.calls))
	for op, n := range h.calls {
		calls[op] = n
	}
	return Stats{Calls: calls, Throttled: h.throttled, Dropped: h.dropped, Injected: h.injected,
		EmptyPages: int(h.emptied.Load()), Events: events}
}

// Calls is the number of requests for op (e.g. "PutLogEvents") so far,
// whatever their outcome.
func (h *Handler) Calls(op string) int {
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	return h.calls[op]
}

// Events returns every event stored in a stream, in the order GetLogEvents
// reads them, including those hidden by WithRetention. It returns nil if
// the stream does not exist.
func (h *Handler) Events(groupName, streamName string) []Event {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, s, err := h.lookup(groupName, streamName)
	if err != nil || s == nil {
		return nil
	}
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		out[i] = Event{Timestamp: e.ts, Message: e.msg, IngestionTime: e.ingest}
	}
	return out
}

// Streams returns the names of a group's streams, sorted; nil if the group
// does not exist.
func (h *Handler) Streams(groupName string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	g := h.groups[groupName]
	if g == nil {
		return nil
	}
	names := make([]string, 0, len(g.streams))
	for name := range g.streams {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Put stores events in a stream as PutLogEvents would, creating the group
// and stream if needed, without the per-call limits: for tests that need
// a stream filled quickly. Timestamps must be >= 0; IngestionTime is
// ignored and set from the clock.
func (h *Handler) Put(groupName, streamName string, events ...Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.nowMS()
	g := h.groups[groupName]
	if g == nil {
		g = &group{name: groupName, created: now, streams: map[string]*stream{}}
		h.groups[groupName] = g
	}
	s := g.streams[streamName]
	if s == nil {
		h.nextStreamID++
		s = &stream{id: h.nextStreamID, name: streamName, created: now}
		g.streams[streamName] = s
	}
	for _, e := range events {
		if e.Timestamp < 0 {
			panic(fmt.Sprintf("cwlogstest: negative timestamp %d", e.Timestamp))
		}
		s.add(e.Timestamp, e.Message, now)
		g.bytes += int64(len(e.Message))
	}
	s.puts++
	h.putEvents += len(events)
}

func (h *Handler) nowMS() int64 { return h.now().UnixMilli() }

// chance draws from the seeded generator: true with probability p.
func (h *Handler) chance(bits *atomic.Uint64) bool {
	p := math.Float64frombits(bits.Load())
	if p <= 0 {
		return false
	}
	h.randMu.Lock()
	defer h.randMu.Unlock()
	return h.rand.Float64() < p
}

// ops maps each operation to its decoder and implementation; read ops can
// be throttled and emptied.
var ops = map[string]struct {
	read bool
	call func(h *Handler, body []byte, emptyPage bool) (any, *Error)
}{
	"CreateLogGroup":     {false, serve((*Handler).createLogGroup)},
	"CreateLogStream":    {false, serve((*Handler).createLogStream)},
	"PutLogEvents":       {false, serve((*Handler).putLogEvents)},
	"DescribeLogGroups":  {true, serve((*Handler).describeLogGroups)},
	"DescribeLogStreams": {true, serve((*Handler).describeLogStreams)},
	"GetLogEvents":       {true, servePaged((*Handler).getLogEvents)},
	"FilterLogEvents":    {true, servePaged((*Handler).filterLogEvents)},
}

func serve[In any](f func(*Handler, In) (any, *Error)) func(*Handler, []byte, bool) (any, *Error) {
	return servePaged(func(h *Handler, in In, _ bool) (any, *Error) { return f(h, in) })
}

func servePaged[In any](f func(*Handler, In, bool) (any, *Error)) func(*Handler, []byte, bool) (any, *Error) {
	return func(h *Handler, body []byte, emptyPage bool) (any, *Error) {
		var in In
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, serializationError("Unable to parse request body: " + err.Error())
		}
		return f(h, in, emptyPage)
	}
}

// summary is what the debug log says of a request.
type summary struct {
	LogGroupName  string            `json:"logGroupName"`
	LogStreamName string            `json:"logStreamName"`
	LogEvents     []json.RawMessage `json:"logEvents"`
	NextToken     string            `json:"nextToken"`
	SequenceToken string            `json:"sequenceToken"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	h.statsMu.Lock()
	h.calls[op]++
	h.statsMu.Unlock()

	if h.outage.Load() || (h.readOutage.Load() && ops[op].read) {
		h.statsMu.Lock()
		h.dropped++
		h.statsMu.Unlock()
		h.log.Debug("cwlogs call dropped (outage)", "op", op)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
		panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the response instead
	}
	if d := time.Duration(h.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	out, e := h.handle(r, op)
	if e != nil {
		w.Header().Set("x-amzn-ErrorType", e.Type)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", fmt.Sprintf("%08x-0000-4000-8000-%012x", start.UnixNano()&0xffffffff, h.nonce.Add(1)))
	status := http.StatusOK
	if e != nil {
		status, out = e.Status, errorBody{Type: e.Type, Message: e.Message}
	}
	body, err := json.Marshal(out)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"__type":"InternalFailure"}`)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// handle checks the protocol, applies faults and runs op.
func (h *Handler) handle(r *http.Request, op string) (any, *Error) {
	spec, known := ops[op]
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		return nil, &Error{Status: http.StatusNotFound, Type: "UnknownOperationException", Message: "Only POST / is served."}
	case !known:
		return nil, &Error{Status: http.StatusBadRequest, Type: "UnknownOperationException",
			Message: fmt.Sprintf("Unknown or unsupported X-Amz-Target %q", r.Header.Get("X-Amz-Target"))}
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1"):
		return nil, serializationError("Content-Type must be application/x-amz-json-1.1")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Type: "SerializationException", Message: "Request body too large"}
		}
		return nil, serializationError("Unable to read request body: " + err.Error())
	}
	var sum summary
	json.Unmarshal(body, &sum)
	logAttrs := []any{"op", op, "group", sum.LogGroupName, "stream", sum.LogStreamName,
		"events", len(sum.LogEvents), "nextToken", sum.NextToken, "sequenceToken", sum.SequenceToken, "bytes", len(body),
		"userAgent", r.Header.Get("User-Agent")}

	h.statsMu.Lock()
	var injected *Error
	if q := h.failNext[op]; len(q) > 0 {
		injected, h.failNext[op] = &q[0], q[1:]
		h.injected++
	}
	h.statsMu.Unlock()
	if injected != nil {
		h.log.Debug("cwlogs call", append(logAttrs, "error", injected.Type, "injected", true)...)
		return nil, injected
	}
	if spec.read && h.chance(&h.throttle) {
		h.statsMu.Lock()
		h.throttled++
		h.statsMu.Unlock()
		h.log.Debug("cwlogs call", append(logAttrs, "error", "ThrottlingException")...)
		e := ErrThrottling
		return nil, &e
	}
	out, e := spec.call(h, body, spec.read && h.chance(&h.empty))
	if e != nil {
		h.log.Debug("cwlogs call", append(logAttrs, "error", e.Type, "message", e.Message)...)
		return nil, e
	}
	h.log.Debug("cwlogs call", logAttrs...)
	return out, nil
}
