package cwlogstest

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The service's limits, as documented for PutLogEvents and GetLogEvents.
const (
	MaxEventsPerPut = 10000    // events in one PutLogEvents call
	MaxBytesPerPut  = 1048576  // bytes in one PutLogEvents call, each event counted as len(message)+EventOverhead
	EventOverhead   = 26       // bytes added to each event's message when sizing a batch or an event
	MaxEventSize    = 262144   // len(message)+EventOverhead of one event
	MaxPageEvents   = 10000    // events in one GetLogEvents or FilterLogEvents page
	MaxPageBytes    = 1048576  // message bytes in one page (one event is returned even if larger)
	maxBatchSpan    = 86400000 // ms: a PutLogEvents batch may not span more than 24 hours
	maxListLimit    = 50       // DescribeLogGroups and DescribeLogStreams page size
	account         = "123456789012"
	region          = "us-east-1"
)

// Event is one stored log event. Times are milliseconds since the epoch, as
// on the wire.
type Event struct {
	Timestamp     int64 // as put
	Message       string
	IngestionTime int64 // when the server accepted it, by its clock
}

type event struct {
	ts, seq, ingest int64
	msg             string
}

func (e *event) key() key { return key{e.ts, e.seq} }

type stream struct {
	id      int64 // server-wide, for event IDs
	name    string
	created int64
	events  []event // ordered by key
	seq     int64   // last seq given out
	puts    int64   // accepted PutLogEvents calls, for sequence tokens
	bytes   int64
	// Valid when events is not empty.
	firstTS, lastTS, lastIngest int64
}

type group struct {
	name    string
	created int64
	streams map[string]*stream
	bytes   int64
}

// add stores one event, keeping the stream ordered by timestamp and, for
// equal timestamps, by arrival. Ingestion times never go back within a stream.
func (s *stream) add(ts int64, msg string, ingest int64) {
	if n := len(s.events); n > 0 {
		ingest = max(ingest, s.lastIngest)
	}
	s.seq++
	e := event{ts: ts, seq: s.seq, ingest: ingest, msg: msg}
	if n := len(s.events); n == 0 || s.events[n-1].ts <= ts {
		s.events = append(s.events, e)
	} else {
		i := sort.Search(n, func(i int) bool { return s.events[i].ts > ts })
		s.events = slices.Insert(s.events, i, e)
	}
	if len(s.events) == 1 {
		s.firstTS, s.lastTS = ts, ts
	}
	s.firstTS, s.lastTS, s.lastIngest = min(s.firstTS, ts), max(s.lastTS, ts), ingest
	s.bytes += int64(len(msg))
}

// firstTSAtLeast is the index of the first event with a timestamp >= ts.
func (s *stream) firstTSAtLeast(ts int64) int {
	return sort.Search(len(s.events), func(i int) bool { return s.events[i].ts >= ts })
}

// firstAfter is the index of the first event with a key > k.
func (s *stream) firstAfter(k key) int {
	return sort.Search(len(s.events), func(i int) bool { return k.less(s.events[i].key()) })
}

// firstNotBefore is the index of the first event with a key >= k.
func (s *stream) firstNotBefore(k key) int {
	return sort.Search(len(s.events), func(i int) bool { return !s.events[i].key().less(k) })
}

// window is the index range of events in [start, end) by timestamp, with
// start raised to the retention cutoff.
func (s *stream) window(start, end *int64, cutoff int64) (lo, hi int) {
	from := cutoff
	if start != nil {
		from = max(from, *start)
	}
	lo, hi = s.firstTSAtLeast(from), len(s.events)
	if end != nil {
		hi = s.firstTSAtLeast(*end)
	}
	return lo, max(lo, hi)
}

func groupArn(name string) string {
	return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", region, account, name)
}

// groupOf resolves the logGroupName / logGroupIdentifier pair: exactly one,
// and an identifier may be a name or an ARN.
func groupOf(name, identifier string) (string, *Error) {
	switch {
	case name != "" && identifier != "":
		return "", invalidParameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != "":
		return name, nil
	case identifier == "":
		return "", invalidParameter("Either LogGroupName or LogGroupIdentifier is required.")
	case strings.HasPrefix(identifier, "arn:"):
		_, after, ok := strings.Cut(identifier, ":log-group:")
		if !ok {
			return "", invalidParameter("Invalid log group ARN: %s", identifier)
		}
		return strings.TrimSuffix(after, ":*"), nil
	}
	return identifier, nil
}

var (
	groupNameRE  = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]{1,512}$`)
	streamNameRE = regexp.MustCompile(`^[^:*]{1,512}$`)
)

// pageLimit checks an optional limit member against [1, maxLimit].
func pageLimit(limit *int32, maxLimit int) (int, *Error) {
	if limit == nil {
		return maxLimit, nil
	}
	if *limit < 1 || int(*limit) > maxLimit {
		return 0, invalidParameter("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *limit, maxLimit)
	}
	return int(*limit), nil
}

// cutoff is the oldest timestamp reads may return.
func (h *Handler) cutoff() int64 {
	r := h.retention.Load()
	if r <= 0 {
		return math.MinInt64
	}
	return h.nowMS() - r/1e6
}

func (h *Handler) lookup(groupName, streamName string) (*group, *stream, *Error) {
	g := h.groups[groupName]
	if g == nil {
		return nil, nil, notFound("log group")
	}
	if streamName == "" {
		return g, nil, nil
	}
	s := g.streams[streamName]
	if s == nil {
		return nil, nil, notFound("log stream")
	}
	return g, s, nil
}

func (h *Handler) createLogGroup(in createLogGroupInput) (any, *Error) {
	if in.LogGroupName == "" {
		return nil, missing("logGroupName")
	}
	if !groupNameRE.MatchString(in.LogGroupName) {
		return nil, invalidParameter("1 validation error detected: Value '%s' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", in.LogGroupName)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.groups[in.LogGroupName] != nil {
		return nil, alreadyExists("log group")
	}
	h.groups[in.LogGroupName] = &group{name: in.LogGroupName, created: h.nowMS(), streams: map[string]*stream{}}
	return struct{}{}, nil
}

func (h *Handler) createLogStream(in createLogStreamInput) (any, *Error) {
	switch {
	case in.LogGroupName == "":
		return nil, missing("logGroupName")
	case in.LogStreamName == "":
		return nil, missing("logStreamName")
	case !streamNameRE.MatchString(in.LogStreamName):
		return nil, invalidParameter("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", in.LogStreamName)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	g, _, err := h.lookup(in.LogGroupName, "")
	if err != nil {
		return nil, err
	}
	if g.streams[in.LogStreamName] != nil {
		return nil, alreadyExists("log stream")
	}
	h.nextStreamID++
	g.streams[in.LogStreamName] = &stream{id: h.nextStreamID, name: in.LogStreamName, created: h.nowMS()}
	return struct{}{}, nil
}

func (h *Handler) putLogEvents(in putLogEventsInput) (any, *Error) {
	switch {
	case in.LogGroupName == "":
		return nil, missing("logGroupName")
	case in.LogStreamName == "":
		return nil, missing("logStreamName")
	case len(in.LogEvents) == 0:
		return nil, invalidParameter("1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(in.LogEvents) > MaxEventsPerPut:
		return nil, invalidParameter("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to %d", MaxEventsPerPut)
	}
	size := 0
	for i, e := range in.LogEvents {
		switch {
		case e.Timestamp == nil:
			return nil, missing(fmt.Sprintf("logEvents.%d.member.timestamp", i+1))
		case e.Message == nil:
			return nil, missing(fmt.Sprintf("logEvents.%d.member.message", i+1))
		case *e.Message == "":
			return nil, invalidParameter("1 validation error detected: Value '' at 'logEvents.%d.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1)
		case *e.Timestamp < 0:
			return nil, invalidParameter("1 validation error detected: Value '%d' at 'logEvents.%d.member.timestamp' failed to satisfy constraint: Member must have value greater than or equal to 0", *e.Timestamp, i+1)
		case len(*e.Message)+EventOverhead > MaxEventSize:
			return nil, invalidParameter("Log event too large: %d bytes exceeds limit of %d", len(*e.Message)+EventOverhead, MaxEventSize)
		case i > 0 && *e.Timestamp < *in.LogEvents[i-1].Timestamp:
			return nil, invalidParameter("Log events in a single PutLogEvents request must be in chronological order.")
		}
		size += len(*e.Message) + EventOverhead
	}
	if size > MaxBytesPerPut {
		return nil, invalidParameter("Upload too large: %d bytes exceeds limit of %d", size, MaxBytesPerPut)
	}
	if *in.LogEvents[len(in.LogEvents)-1].Timestamp-*in.LogEvents[0].Timestamp > maxBatchSpan {
		return nil, invalidParameter("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	g, s, err := h.lookup(in.LogGroupName, in.LogStreamName)
	if err != nil {
		return nil, err
	}
	now := h.nowMS()
	for _, e := range in.LogEvents {
		s.add(*e.Timestamp, *e.Message, now)
		g.bytes += int64(len(*e.Message))
	}
	s.puts++
	h.putEvents += len(in.LogEvents)
	return putLogEventsOutput{NextSequenceToken: fmt.Sprintf("49%054d", s.id*1e9+s.puts)}, nil
}

func (h *Handler) describeLogGroups(in describeLogGroupsInput) (any, *Error) {
	limit, err := pageLimit(in.Limit, maxListLimit)
	if err != nil {
		return nil, err
	}
	var after string
	if in.NextToken != "" {
		t, ok := decodeListToken(in.NextToken)
		if !ok {
			return nil, invalidParameter("The specified nextToken is invalid.")
		}
		after = t.Name
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	var names []string
	for name := range h.groups {
		if strings.HasPrefix(name, in.LogGroupNamePrefix) && name > after {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := describeLogGroupsOutput{LogGroups: []logGroupOut{}}
	if len(names) > limit {
		names = names[:limit]
		out.NextToken = listToken{Name: names[limit-1]}.encode()
	}
	days := int32(0)
	if r := h.retention.Load(); r > 0 && r%int64(24*60*60*1e9) == 0 {
		days = int32(r / int64(24*60*60*1e9))
	}
	for _, name := range names {
		g := h.groups[name]
		out.LogGroups = append(out.LogGroups, logGroupOut{
			LogGroupName: name, CreationTime: g.created, RetentionInDays: days, StoredBytes: g.bytes,
			Arn: groupArn(name) + ":*", LogGroupArn: groupArn(name), LogGroupClass: "STANDARD",
		})
	}
	return out, nil
}

func (h *Handler) describeLogStreams(in describeLogStreamsInput) (any, *Error) {
	groupName, err := groupOf(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(in.Limit, maxListLimit)
	if err != nil {
		return nil, err
	}
	byTime := false
	switch in.OrderBy {
	case "", "LogStreamName":
	case "LastEventTime":
		byTime = true
		if in.LogStreamNamePrefix != "" {
			return nil, invalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
	default:
		return nil, invalidParameter("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", in.OrderBy)
	}
	var after *listToken
	if in.NextToken != "" {
		t, ok := decodeListToken(in.NextToken)
		if !ok {
			return nil, invalidParameter("The specified nextToken is invalid.")
		}
		after = &t
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	g, _, err := h.lookup(groupName, "")
	if err != nil {
		return nil, err
	}
	sortKey := func(s *stream) listToken {
		if byTime {
			return listToken{Name: s.name, TS: s.lastTS}
		}
		return listToken{Name: s.name}
	}
	order := func(a, b listToken) int {
		c := cmp.Or(cmp.Compare(a.TS, b.TS), strings.Compare(a.Name, b.Name))
		if in.Descending {
			return -c
		}
		return c
	}
	var streams []*stream
	for _, s := range g.streams {
		if strings.HasPrefix(s.name, in.LogStreamNamePrefix) && (after == nil || order(sortKey(s), *after) > 0) {
			streams = append(streams, s)
		}
	}
	slices.SortFunc(streams, func(a, b *stream) int { return order(sortKey(a), sortKey(b)) })
	out := describeLogStreamsOutput{LogStreams: []logStreamOut{}}
	if len(streams) > limit {
		streams = streams[:limit]
		out.NextToken = sortKey(streams[limit-1]).encode()
	}
	for _, s := range streams {
		o := logStreamOut{
			LogStreamName: s.name, CreationTime: s.created, StoredBytes: s.bytes,
			Arn: groupArn(g.name) + ":log-stream:" + s.name,
		}
		if len(s.events) > 0 {
			first, last, ingest := s.firstTS, s.lastTS, s.lastIngest
			o.FirstEventTimestamp, o.LastEventTimestamp, o.LastIngestionTime = &first, &last, &ingest
			o.UploadSequenceToken = fmt.Sprintf("49%054d", s.id*1e9+s.puts)
		}
		out.LogStreams = append(out.LogStreams, o)
	}
	return out, nil
}

// getLogEvents serves one page. With emptyPage, a page that would have had
// events comes back empty, with tokens for the same position that differ
// from the one passed in, as the service sometimes answers.
func (h *Handler) getLogEvents(in getLogEventsInput, emptyPage bool) (any, *Error) {
	groupName, err := groupOf(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamName == "" {
		return nil, missing("logStreamName")
	}
	limit, err := pageLimit(in.Limit, MaxPageEvents)
	if err != nil {
		return nil, err
	}
	dir, pos := byte('f'), head
	if in.NextToken != "" {
		var ok bool
		if dir, pos, ok = decodeToken(in.NextToken); !ok {
			return nil, invalidParameter("The specified nextToken is invalid.")
		}
	} else if !in.StartFromHead {
		dir, pos = 'b', tail
	}
	cutoff := h.cutoff()
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, s, err := h.lookup(groupName, in.LogStreamName)
	if err != nil {
		return nil, err
	}
	lo, hi := s.window(in.StartTime, in.EndTime, cutoff)
	var page []event
	if dir == 'f' {
		i, n := max(lo, s.firstAfter(pos)), 0
		for j := i; j < hi && j-i < limit && (j == i || n+len(s.events[j].msg) <= MaxPageBytes); j++ {
			n += len(s.events[j].msg)
			page = s.events[i : j+1]
		}
	} else {
		end := min(s.firstNotBefore(pos), hi)
		i, n := end, 0
		for i > lo && end-i < limit && (i == end || n+len(s.events[i-1].msg) <= MaxPageBytes) {
			i--
			n += len(s.events[i].msg)
		}
		page = s.events[i:end]
	}
	if len(page) > 0 && emptyPage {
		h.emptied.Add(1)
		page = nil
		if dir == 'f' {
			return getLogEventsOutput{Events: []outputLogEvent{},
				NextForwardToken:  h.freshToken('f', pos, in.NextToken),
				NextBackwardToken: encodeToken('b', key{pos.ts, pos.seq + 1}, 0)}, nil
		}
	}
	out := getLogEventsOutput{Events: make([]outputLogEvent, len(page))}
	for i, e := range page {
		out.Events[i] = outputLogEvent{Timestamp: e.ts, Message: e.msg, IngestionTime: e.ingest}
	}
	switch {
	case len(page) > 0:
		out.NextForwardToken = encodeToken('f', page[len(page)-1].key(), 0)
		out.NextBackwardToken = encodeToken('b', page[0].key(), 0)
	case dir == 'f':
		out.NextForwardToken = cmp.Or(in.NextToken, encodeToken('f', pos, 0))
		out.NextBackwardToken = encodeToken('b', key{pos.ts, pos.seq + 1}, 0)
	default: // backward and nothing (more) before the position
		end := s.firstNotBefore(pos)
		last := head // the position just before the backward token
		if end > 0 {
			last = s.events[end-1].key()
		}
		out.NextForwardToken = encodeToken('f', last, 0)
		if emptyPage {
			out.NextBackwardToken = h.freshToken('b', pos, in.NextToken)
		} else if in.NextToken != "" {
			out.NextBackwardToken = in.NextToken
		} else {
			out.NextBackwardToken = encodeToken('b', key{last.ts, last.seq + 1}, 0)
		}
	}
	return out, nil
}

// freshToken is a token for position k that differs from old.
func (h *Handler) freshToken(dir byte, k key, old string) string {
	for {
		if t := encodeToken(dir, k, h.nonce.Add(1)); t != old {
			return t
		}
	}
}

// fkey orders FilterLogEvents results: timestamp, ingestion time, stream,
// arrival.
type fkey struct {
	ts, ingest int64
	stream     string
	seq        int64
}

func compareFkey(a, b fkey) int {
	return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.ingest, b.ingest),
		strings.Compare(a.stream, b.stream), cmp.Compare(a.seq, b.seq))
}

func (s *stream) fkey(i int) fkey {
	e := &s.events[i]
	return fkey{e.ts, e.ingest, s.name, e.seq}
}

type hit struct {
	k fkey
	s *stream
	e *event
}

func (h *Handler) filterLogEvents(in filterLogEventsInput, emptyPage bool) (any, *Error) {
	groupName, err := groupOf(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamNamePrefix != "" && len(in.LogStreamNames) > 0 {
		return nil, invalidParameter("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	limit, err := pageLimit(in.Limit, MaxPageEvents)
	if err != nil {
		return nil, err
	}
	match, err := compilePattern(in.FilterPattern)
	if err != nil {
		return nil, err
	}
	asc := in.StartFromHead == nil || *in.StartFromHead
	var after *fkey
	if in.NextToken != "" {
		t, ok := decodeFilterToken(in.NextToken)
		if !ok {
			return nil, invalidParameter("The specified nextToken is invalid.")
		}
		asc, after = t.Asc, &fkey{t.TS, t.Ingest, t.Stream, t.Seq}
	}
	// Unlike GetLogEvents, FilterLogEvents' endTime is inclusive.
	var end *int64
	if in.EndTime != nil {
		e := *in.EndTime + 1
		end = &e
	}
	cutoff := h.cutoff()
	h.mu.RLock()
	defer h.mu.RUnlock()
	g, _, err := h.lookup(groupName, "")
	if err != nil {
		return nil, err
	}
	var streams []*stream
	if len(in.LogStreamNames) > 0 {
		for _, name := range in.LogStreamNames {
			if s := g.streams[name]; s != nil {
				streams = append(streams, s)
			}
		}
	} else {
		for _, s := range g.streams {
			if strings.HasPrefix(s.name, in.LogStreamNamePrefix) {
				streams = append(streams, s)
			}
		}
	}
	// Each stream gives at most limit+1 candidates beyond the token: enough
	// for a full page and to know whether more remain.
	var hits []hit
	for _, s := range streams {
		lo, hi := s.window(in.StartTime, end, cutoff)
		if after != nil { // a stream's events are in fkey order too
			at := sort.Search(len(s.events), func(i int) bool { return compareFkey(s.fkey(i), *after) > 0 })
			if asc {
				lo = max(lo, at)
			} else {
				hi = min(hi, sort.Search(len(s.events), func(i int) bool { return compareFkey(s.fkey(i), *after) >= 0 }))
			}
			hi = max(lo, hi)
		}
		n := 0
		for j := range hi - lo {
			i := lo + j
			if !asc {
				i = hi - 1 - j
			}
			if !match(s.events[i].msg) {
				continue
			}
			hits = append(hits, hit{s.fkey(i), s, &s.events[i]})
			if n++; n > limit {
				break
			}
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if asc {
			return compareFkey(a.k, b.k)
		}
		return compareFkey(b.k, a.k)
	})
	taken, bytes := 0, 0
	for taken < len(hits) && taken < limit && (taken == 0 || bytes+len(hits[taken].e.msg) <= MaxPageBytes) {
		bytes += len(hits[taken].e.msg)
		taken++
	}
	out := filterLogEventsOutput{Events: []filteredLogEvent{}, SearchedLogStreams: []searchedLogStream{}}
	if taken > 0 && emptyPage {
		h.emptied.Add(1)
		t := filterToken{Asc: asc, Nonce: h.nonce.Add(1)}
		if after != nil {
			t.TS, t.Ingest, t.Stream, t.Seq = after.ts, after.ingest, after.stream, after.seq
		} else if asc {
			t.TS, t.Ingest = math.MinInt64, math.MinInt64
		} else {
			t.TS, t.Ingest = math.MaxInt64, math.MaxInt64
		}
		out.NextToken = t.encode()
		return out, nil
	}
	for _, x := range hits[:taken] {
		out.Events = append(out.Events, filteredLogEvent{
			LogStreamName: x.s.name, Timestamp: x.e.ts, Message: x.e.msg, IngestionTime: x.e.ingest,
			EventID: fmt.Sprintf("%019d%018d%019d", x.e.ts, x.s.id, x.e.seq),
		})
	}
	if taken < len(hits) {
		k := hits[taken-1].k
		out.NextToken = filterToken{Asc: asc, TS: k.ts, Ingest: k.ingest, Stream: k.stream, Seq: k.seq}.encode()
	}
	return out, nil
}

// compilePattern supports the text forms of the filter pattern syntax: no
// pattern (everything), terms that must all appear ("ERROR timeout"), quoted
// phrases ("\"request failed\""), terms that must not appear ("-DEBUG") and
// alternatives ("?ERROR ?WARN"). Matching is case-sensitive, as the
// service's is. JSON and space-delimited patterns are refused.
func compilePattern(p string) (func(string) bool, *Error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return func(string) bool { return true }, nil
	}
	if p[0] == '{' || p[0] == '[' || strings.HasPrefix(p, "%") {
		return nil, invalidParameter("cwlogstest supports text filter patterns only, not %q", p)
	}
	var all, none, alts []string
	for p != "" {
		var term string
		neg, opt := false, false
		switch p[0] {
		case '-':
			neg, p = true, p[1:]
		case '?':
			opt, p = true, p[1:]
		}
		if strings.HasPrefix(p, `"`) {
			end := strings.Index(p[1:], `"`)
			if end < 0 {
				return nil, invalidParameter("Invalid filter pattern: unbalanced quotes in %q", p)
			}
			term, p = p[1:1+end], p[2+end:]
		} else {
			i := strings.IndexAny(p, " \t")
			if i < 0 {
				i = len(p)
			}
			term, p = p[:i], p[i:]
		}
		p = strings.TrimLeft(p, " \t")
		switch {
		case term == "":
		case neg:
			none = append(none, term)
		case opt:
			alts = append(alts, term)
		default:
			all = append(all, term)
		}
	}
	return func(msg string) bool {
		for _, t := range all {
			if !strings.Contains(msg, t) {
				return false
			}
		}
		for _, t := range none {
			if strings.Contains(msg, t) {
				return false
			}
		}
		if len(alts) == 0 {
			return true
		}
		for _, t := range alts {
			if strings.Contains(msg, t) {
				return true
			}
		}
		return false
	}, nil
}
