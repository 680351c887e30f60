package cwlogstest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"jobrun/logs/cwlogstest"
)

const (
	group  = "docker-swarm-lg"
	stream = "job-1.1.abc-0123456789ab"
)

// newClient is the real SDK client pointed at srv, with static credentials
// and no shared config files, so nothing on the machine changes it.
func newClient(t *testing.T, srv *cwlogstest.Server, optFns ...func(*cloudwatchlogs.Options)) *cloudwatchlogs.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	return cloudwatchlogs.NewFromConfig(cfg, append([]func(*cloudwatchlogs.Options){
		func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(srv.URL) },
	}, optFns...)...)
}

func noRetry(o *cloudwatchlogs.Options) { o.RetryMaxAttempts = 1 }

func startServer(t *testing.T, opts ...cwlogstest.Option) (*cwlogstest.Server, *cloudwatchlogs.Client) {
	t.Helper()
	srv := cwlogstest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv, newClient(t, srv)
}

// mustCreate makes group and stream through the API.
func mustCreate(t *testing.T, c *cloudwatchlogs.Client, g, s string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(g)}); err != nil {
		t.Fatalf("CreateLogGroup: %v", err)
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(g), LogStreamName: aws.String(s)}); err != nil {
		t.Fatalf("CreateLogStream: %v", err)
	}
}

func put(ctx context.Context, c *cloudwatchlogs.Client, g, s string, events ...types.InputLogEvent) error {
	_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(g), LogStreamName: aws.String(s), LogEvents: events})
	return err
}

// lines are n events "line 1".."line n", one ms apart from ts0.
func lines(ts0 int64, from, n int) []types.InputLogEvent {
	out := make([]types.InputLogEvent, n)
	for i := range out {
		out[i] = types.InputLogEvent{Timestamp: aws.Int64(ts0 + int64(i)), Message: aws.String(fmt.Sprintf("line %d", from+i))}
	}
	return out
}

func messages(events []types.OutputLogEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = aws.ToString(e.Message)
	}
	return out
}

func wantLines(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("line %d", from+i)
	}
	return out
}

// readForward pages from token (or the head) until the token comes back
// unchanged, and returns the events, the page sizes and the last token.
func readForward(t *testing.T, c *cloudwatchlogs.Client, g, s, token string, limit int32) ([]types.OutputLogEvent, []int, string) {
	t.Helper()
	var events []types.OutputLogEvent
	var sizes []int
	for range 10000 {
		in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(g), LogStreamName: aws.String(s), StartFromHead: aws.Bool(true)}
		if token != "" {
			in.NextToken = aws.String(token)
		}
		if limit > 0 {
			in.Limit = aws.Int32(limit)
		}
		out, err := c.GetLogEvents(context.Background(), in)
		if err != nil {
			t.Fatalf("GetLogEvents: %v", err)
		}
		next := aws.ToString(out.NextForwardToken)
		if next == token {
			if len(out.Events) != 0 {
				t.Fatalf("GetLogEvents returned %d events with an unchanged token", len(out.Events))
			}
			return events, sizes, token
		}
		events = append(events, out.Events...)
		sizes = append(sizes, len(out.Events))
		token = next
	}
	t.Fatal("GetLogEvents never caught up")
	return nil, nil, ""
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPutThenGetLogEvents(t *testing.T) {
	srv, c := startServer(t)
	ctx := context.Background()
	mustCreate(t, c, group, stream)
	// Equal timestamps keep the order they were put in.
	batch := []types.InputLogEvent{
		{Timestamp: aws.Int64(1000), Message: aws.String("a")},
		{Timestamp: aws.Int64(1000), Message: aws.String("b")},
		{Timestamp: aws.Int64(1001), Message: aws.String("c")},
	}
	before := time.Now().UnixMilli()
	out, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: batch,
		SequenceToken: aws.String("49000000000000000000000000000000000000000000000000000000"),
	})
	if err != nil {
		t.Fatalf("PutLogEvents: %v", err)
	}
	if aws.ToString(out.NextSequenceToken) == "" {
		t.Error("PutLogEvents returned no nextSequenceToken")
	}
	// A later batch with earlier timestamps is sorted in.
	if err := put(ctx, c, group, stream, types.InputLogEvent{Timestamp: aws.Int64(999), Message: aws.String("z")}); err != nil {
		t.Fatalf("PutLogEvents: %v", err)
	}
	got, _, _ := readForward(t, c, group, stream, "", 0)
	if want := []string{"z", "a", "b", "c"}; !equal(messages(got), want) {
		t.Errorf("events = %q, want %q", messages(got), want)
	}
	for _, e := range got {
		if ing := aws.ToInt64(e.IngestionTime); ing < before {
			t.Errorf("event %q: ingestionTime %d before the put (%d)", aws.ToString(e.Message), ing, before)
		}
	}
	if n := len(srv.Events(group, stream)); n != 4 {
		t.Errorf("Events() has %d events, want 4", n)
	}
	if s := srv.Streams(group); !equal(s, []string{stream}) {
		t.Errorf("Streams() = %q", s)
	}
	if n := srv.Calls("PutLogEvents"); n != 2 {
		t.Errorf("Calls(PutLogEvents) = %d, want 2", n)
	}
}

func TestCreateTwice(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	mustCreate(t, c, group, stream)
	calls := map[string]func() error{
		"CreateLogGroup": func() error {
			_, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)})
			return err
		},
		"CreateLogStream": func() error {
			_, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
			return err
		},
	}
	for name, call := range calls {
		var exists *types.ResourceAlreadyExistsException
		if err := call(); !errors.As(err, &exists) {
			t.Errorf("%s again: err = %v, want ResourceAlreadyExistsException", name, err)
		}
	}
}

func TestForwardTokens(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	mustCreate(t, c, group, stream)
	if err := put(ctx, c, group, stream, lines(1000, 1, 25)...); err != nil {
		t.Fatal(err)
	}

	got, sizes, token := readForward(t, c, group, stream, "", 10)
	if !equal(messages(got), wantLines(1, 25)) {
		t.Fatalf("first read = %q", messages(got))
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("page sizes = %v, want [10 10 5]", sizes)
	}
	if !strings.HasPrefix(token, "f/") {
		t.Errorf("forward token %q does not start with f/", token)
	}

	// Caught up: the same token comes back, as the same string, with no events.
	out, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
		StartFromHead: aws.Bool(true), NextToken: aws.String(token)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.NextForwardToken) != token || len(out.Events) != 0 {
		t.Errorf("caught up: token %q, %d events; want %q and none", aws.ToString(out.NextForwardToken), len(out.Events), token)
	}

	// Events put after catching up are read from the same token, once.
	if err := put(ctx, c, group, stream, lines(2000, 26, 3)...); err != nil {
		t.Fatal(err)
	}
	got, _, _ = readForward(t, c, group, stream, token, 10)
	if !equal(messages(got), wantLines(26, 3)) {
		t.Errorf("after append = %q, want lines 26-28", messages(got))
	}
}

func TestPaginatorStopsOnDuplicateToken(t *testing.T) {
	srv, c := startServer(t)
	srv.Put(group, stream, cwEvents(0, 15, 10)...)
	p := cloudwatchlogs.NewGetLogEventsPaginator(c, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true), Limit: aws.Int32(10),
	}, func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	n := 0
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 10 {
			t.Fatal("paginator did not stop")
		}
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Events)
	}
	if n != 15 {
		t.Errorf("paginator read %d events, want 15", n)
	}
}

// cwEvents are n events of size bytes each, timestamps from ts0 up.
func cwEvents(ts0 int64, n, size int) []cwlogstest.Event {
	out := make([]cwlogstest.Event, n)
	for i := range out {
		msg := fmt.Sprintf("%d ", i)
		out[i] = cwlogstest.Event{Timestamp: ts0 + int64(i), Message: msg + strings.Repeat("x", max(0, size-len(msg)))}
	}
	return out
}

func TestPageLimits(t *testing.T) {
	tests := []struct {
		name       string
		n, size    int
		limit      int32
		wantFirst  int // events in the first page
		wantTotal  int
		checkBytes bool
	}{
		{name: "10000 events by default", n: 25000, size: 20, wantFirst: cwlogstest.MaxPageEvents, wantTotal: 25000},
		{name: "limit", n: 100, size: 20, limit: 7, wantFirst: 7, wantTotal: 100},
		{name: "1 MB of messages", n: 100, size: 100 << 10, wantFirst: 10, wantTotal: 100, checkBytes: true},
		{name: "one event larger than the rest of the page", n: 5, size: 600 << 10, wantFirst: 1, wantTotal: 5, checkBytes: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := startServer(t)
			srv.Put(group, stream, cwEvents(0, tt.n, tt.size)...)
			got, sizes, _ := readForward(t, c, group, stream, "", tt.limit)
			if len(got) != tt.wantTotal {
				t.Errorf("read %d events, want %d", len(got), tt.wantTotal)
			}
			for i, e := range got {
				if !strings.HasPrefix(aws.ToString(e.Message), fmt.Sprintf("%d ", i)) {
					t.Fatalf("event %d is %.10q: not read in order exactly once", i, aws.ToString(e.Message))
				}
			}
			if len(sizes) == 0 || sizes[0] != tt.wantFirst {
				t.Errorf("page sizes %v, want the first %d", sizes, tt.wantFirst)
			}
			if tt.checkBytes {
				for i, n := range sizes {
					if n > 1 && n*tt.size > cwlogstest.MaxPageBytes {
						t.Errorf("page %d: %d events of %d bytes exceed 1 MB", i, n, tt.size)
					}
				}
			}
		})
	}
}

func TestTimeRange(t *testing.T) {
	srv, c := startServer(t)
	srv.Put(group, stream, cwEvents(1000, 10, 4)...) // timestamps 1000..1009
	out, err := c.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true),
		StartTime: aws.Int64(1003), EndTime: aws.Int64(1007),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ts []int64
	for _, e := range out.Events {
		ts = append(ts, aws.ToInt64(e.Timestamp))
	}
	if fmt.Sprint(ts) != "[1003 1004 1005 1006]" {
		t.Errorf("timestamps = %v, want 1003..1006 (endTime exclusive)", ts)
	}
}

func TestReadBackward(t *testing.T) {
	srv, c := startServer(t)
	srv.Put(group, stream, cwEvents(0, 25, 4)...)
	ctx := context.Background()
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), Limit: aws.Int32(10)}
	var pages []string
	for range 5 {
		out, err := c.GetLogEvents(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) == 0 {
			if aws.ToString(out.NextBackwardToken) != aws.ToString(in.NextToken) {
				t.Errorf("at the head: backward token %q, want the one passed in", aws.ToString(out.NextBackwardToken))
			}
			break
		}
		first, last := aws.ToString(out.Events[0].Message), aws.ToString(out.Events[len(out.Events)-1].Message)
		pages = append(pages, strings.Fields(first)[0]+".."+strings.Fields(last)[0])
		in.NextToken = out.NextBackwardToken
	}
	if got := strings.Join(pages, " "); got != "15..24 5..14 0..4" {
		t.Errorf("backward pages = %s, want 15..24 5..14 0..4", got)
	}
}

func TestResourceNotFound(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	mustCreate(t, c, group, stream)
	tests := map[string]func() error{
		"GetLogEvents, no group": func() error {
			_, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("nope"), LogStreamName: aws.String(stream)})
			return err
		},
		"GetLogEvents, no stream": func() error {
			_, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("nope")})
			return err
		},
		"PutLogEvents, no stream": func() error { return put(ctx, c, group, "nope", lines(0, 1, 1)...) },
		"CreateLogStream, no group": func() error {
			_, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("nope"), LogStreamName: aws.String(stream)})
			return err
		},
		"DescribeLogStreams, no group": func() error {
			_, err := c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("nope")})
			return err
		},
		"FilterLogEvents, no group": func() error {
			_, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("nope")})
			return err
		},
	}
	for name, call := range tests {
		t.Run(name, func(t *testing.T) {
			var nf *types.ResourceNotFoundException
			if err := call(); !errors.As(err, &nf) {
				t.Fatalf("err = %v, want ResourceNotFoundException", err)
			}
			if !strings.HasPrefix(nf.ErrorMessage(), "The specified log ") {
				t.Errorf("message = %q", nf.ErrorMessage())
			}
		})
	}
}

func TestPutLogEventsRules(t *testing.T) {
	many := func(n, size int) []types.InputLogEvent {
		out := make([]types.InputLogEvent, n)
		for i := range out {
			out[i] = types.InputLogEvent{Timestamp: aws.Int64(1000), Message: aws.String(strings.Repeat("m", size))}
		}
		return out
	}
	maxMsg := cwlogstest.MaxEventSize - cwlogstest.EventOverhead
	tests := []struct {
		name    string
		events  []types.InputLogEvent
		invalid bool
	}{
		{"10000 events", many(10000, 1), false},
		{"10001 events", many(10001, 1), true},
		{"1048576 bytes", many(4, cwlogstest.MaxBytesPerPut/4-cwlogstest.EventOverhead), false},
		{"1048577 bytes", append(many(3, cwlogstest.MaxBytesPerPut/4-cwlogstest.EventOverhead), many(1, cwlogstest.MaxBytesPerPut/4-cwlogstest.EventOverhead+1)...), true},
		{"largest event", many(1, maxMsg), false},
		{"event too large", many(1, maxMsg+1), true},
		{"out of order", []types.InputLogEvent{
			{Timestamp: aws.Int64(2000), Message: aws.String("b")},
			{Timestamp: aws.Int64(1000), Message: aws.String("a")},
		}, true},
		{"more than 24 hours", []types.InputLogEvent{
			{Timestamp: aws.Int64(0), Message: aws.String("a")},
			{Timestamp: aws.Int64(24*3600*1000 + 1), Message: aws.String("b")},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := startServer(t)
			mustCreate(t, c, group, stream)
			err := put(context.Background(), c, group, stream, tt.events...)
			var invalid *types.InvalidParameterException
			if got := errors.As(err, &invalid); got != tt.invalid {
				t.Fatalf("err = %v, want InvalidParameterException: %v", err, tt.invalid)
			}
			stored := len(srv.Events(group, stream))
			if tt.invalid && stored != 0 || !tt.invalid && stored != len(tt.events) {
				t.Errorf("%d events stored", stored)
			}
		})
	}
}

func TestInvalidToken(t *testing.T) {
	srv, c := startServer(t)
	srv.Put(group, stream, cwEvents(0, 3, 4)...)
	for _, token := range []string{"garbage", "f/123", "x/00000000000000000000000000000000000000000000000000000000/s"} {
		_, err := c.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group),
			LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true), NextToken: aws.String(token)})
		var invalid *types.InvalidParameterException
		if !errors.As(err, &invalid) {
			t.Errorf("token %q: err = %v, want InvalidParameterException", token, err)
		}
	}
}

func TestThrottling(t *testing.T) {
	srv := cwlogstest.NewServer(cwlogstest.WithThrottleRate(1))
	defer srv.Close()
	c := newClient(t, srv, noRetry)
	ctx := context.Background()
	mustCreate(t, c, group, stream) // writes are never throttled

	_, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" {
		t.Fatalf("err = %v, want an APIError with code ThrottlingException", err)
	}
	if st := srv.Stats(); st.Throttled != 1 || st.Calls["GetLogEvents"] != 1 {
		t.Errorf("stats = %+v, want 1 throttled GetLogEvents", st)
	}

	srv.SetThrottleRate(0)
	if _, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
		t.Errorf("after SetThrottleRate(0): %v", err)
	}
}

func TestThrottlingIsSeeded(t *testing.T) {
	pattern := func(seed uint64) string {
		srv := cwlogstest.NewServer(cwlogstest.WithThrottleRate(0.5), cwlogstest.WithSeed(seed))
		defer srv.Close()
		c := newClient(t, srv, noRetry)
		var b strings.Builder
		for range 40 {
			_, err := c.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{})
			b.WriteString(map[bool]string{true: "T", false: "."}[err != nil])
		}
		return b.String()
	}
	a, b := pattern(7), pattern(7)
	if a != b {
		t.Errorf("same seed, different throttling: %s vs %s", a, b)
	}
	if n := strings.Count(a, "T"); n < 8 || n > 32 {
		t.Errorf("%d of 40 calls throttled at rate 0.5: %s", n, a)
	}
}

func TestInjectedErrors(t *testing.T) {
	tests := []struct {
		err    cwlogstest.Error
		target any // the SDK's type for the error, if it models one
	}{
		{cwlogstest.ErrServiceUnavailable, new(*types.ServiceUnavailableException)},
		{cwlogstest.ErrInternalFailure, nil},
		{cwlogstest.ErrThrottling, new(*types.ThrottlingException)},
	}
	for _, tt := range tests {
		t.Run(tt.err.Type, func(t *testing.T) {
			srv := cwlogstest.NewServer()
			defer srv.Close()
			c := newClient(t, srv, noRetry)
			srv.FailNext("DescribeLogGroups", 1, tt.err)
			_, err := c.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{})
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tt.err.Type {
				t.Fatalf("err = %v, want %s", err, tt.err.Type)
			}
			if tt.target != nil && !errors.As(err, tt.target) {
				t.Errorf("err %T is not %T", err, tt.target)
			}
			if _, err := c.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil {
				t.Errorf("second call: %v", err)
			}
		})
	}
}

func TestOutage(t *testing.T) {
	srv := cwlogstest.NewServer()
	defer srv.Close()
	c := newClient(t, srv, noRetry)
	srv.SetOutage(true)
	_, err := c.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{})
	var api smithy.APIError
	if err == nil || errors.As(err, &api) {
		t.Fatalf("during the outage: err = %v, want a transport error", err)
	}
	if st := srv.Stats(); st.Dropped != 1 {
		t.Errorf("Dropped = %d, want 1", st.Dropped)
	}
	srv.SetOutage(false)
	if _, err := c.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}

func TestEmptyPages(t *testing.T) {
	srv, c := startServer(t, cwlogstest.WithEmptyPages(0.5), cwlogstest.WithSeed(3))
	srv.Put(group, stream, cwEvents(0, 100, 4)...)
	got, _, _ := readForward(t, c, group, stream, "", 10)
	if len(got) != 100 {
		t.Fatalf("read %d events through empty pages, want 100", len(got))
	}
	for i, e := range got {
		if !strings.HasPrefix(aws.ToString(e.Message), fmt.Sprintf("%d ", i)) {
			t.Fatalf("event %d is %q", i, aws.ToString(e.Message))
		}
	}
	if srv.Stats().EmptyPages == 0 {
		t.Error("no empty page was served")
	}
}

func TestRetention(t *testing.T) {
	now := time.UnixMilli(10 * 3600 * 1000)
	srv, c := startServer(t, cwlogstest.WithClock(func() time.Time { return now }), cwlogstest.WithRetention(time.Hour))
	hour := int64(3600 * 1000)
	srv.Put(group, stream,
		cwlogstest.Event{Timestamp: now.UnixMilli() - 2*hour, Message: "expired"},
		cwlogstest.Event{Timestamp: now.UnixMilli() - hour/2, Message: "kept"})
	got, _, _ := readForward(t, c, group, stream, "", 0)
	if !equal(messages(got), []string{"kept"}) {
		t.Errorf("GetLogEvents = %q, want only the event within retention", messages(got))
	}
	out, err := c.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)})
	if err != nil || len(out.Events) != 1 {
		t.Errorf("FilterLogEvents: %d events, err %v; want 1", len(out.Events), err)
	}
}

func TestFilterLogEvents(t *testing.T) {
	srv, c := startServer(t)
	// Two streams whose events interleave in time; every third is an ERROR.
	for i := range 30 {
		s := []string{"a", "b"}[i%2]
		level := map[bool]string{true: "ERROR", false: "INFO"}[i%3 == 0]
		srv.Put(group, s, cwlogstest.Event{Timestamp: 1000 + int64(i), Message: fmt.Sprintf("%s %d", level, i)})
	}
	tests := []struct {
		name string
		in   cloudwatchlogs.FilterLogEventsInput
		want string
	}{
		{"all, paged", cloudwatchlogs.FilterLogEventsInput{Limit: aws.Int32(4)}, "0-29"},
		{"substring", cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String("ERROR")}, "0 3 6 9 12 15 18 21 24 27"},
		{"one stream", cloudwatchlogs.FilterLogEventsInput{LogStreamNames: []string{"b"}, FilterPattern: aws.String("ERROR"), Limit: aws.Int32(2)}, "3 9 15 21 27"},
		{"time range, endTime inclusive", cloudwatchlogs.FilterLogEventsInput{StartTime: aws.Int64(1010), EndTime: aws.Int64(1012)}, "10 11 12"},
		{"newest first", cloudwatchlogs.FilterLogEventsInput{StartFromHead: aws.Bool(false), StartTime: aws.Int64(1025), Limit: aws.Int32(2)}, "29 28 27 26 25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.LogGroupName = aws.String(group)
			var got []string
			pages := 0
			for {
				out, err := c.FilterLogEvents(context.Background(), &in)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, e := range out.Events {
					_, n, _ := strings.Cut(aws.ToString(e.Message), " ")
					got = append(got, n)
					if want := []string{"a", "b"}[atoi(n)%2]; aws.ToString(e.LogStreamName) != want {
						t.Errorf("event %s from stream %q, want %q", n, aws.ToString(e.LogStreamName), want)
					}
				}
				if out.NextToken == nil {
					break
				}
				if pages > 100 {
					t.Fatal("no end of pages")
				}
				in.NextToken = out.NextToken
			}
			want := tt.want
			if want == "0-29" {
				want = strings.Trim(fmt.Sprint(seq(30)), "[]")
			}
			if strings.Join(got, " ") != want {
				t.Errorf("events = %s, want %s", strings.Join(got, " "), want)
			}
		})
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestDescribeLogStreams(t *testing.T) {
	srv, c := startServer(t)
	for i := range 60 {
		srv.Put(group, fmt.Sprintf("s%02d", i), cwlogstest.Event{Timestamp: int64(1000 - i), Message: "m"})
	}
	ctx := context.Background()
	tests := []struct {
		name  string
		in    cloudwatchlogs.DescribeLogStreamsInput
		pages string // first..last name per page
	}{
		{"by name, pages of 50", cloudwatchlogs.DescribeLogStreamsInput{}, "s00..s49 s50..s59"},
		{"prefix", cloudwatchlogs.DescribeLogStreamsInput{LogStreamNamePrefix: aws.String("s5")}, "s50..s59"},
		{"newest event first", cloudwatchlogs.DescribeLogStreamsInput{OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(30)}, "s00..s29 s30..s59"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.LogGroupName = aws.String(group)
			var pages []string
			for range 10 {
				out, err := c.DescribeLogStreams(ctx, &in)
				if err != nil {
					t.Fatal(err)
				}
				s := out.LogStreams
				pages = append(pages, aws.ToString(s[0].LogStreamName)+".."+aws.ToString(s[len(s)-1].LogStreamName))
				if out.NextToken == nil {
					break
				}
				in.NextToken = out.NextToken
			}
			if got := strings.Join(pages, " "); got != tt.pages {
				t.Errorf("pages = %s, want %s", got, tt.pages)
			}
		})
	}
	out, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("docker-")})
	if err != nil || len(out.LogGroups) != 1 || aws.ToString(out.LogGroups[0].LogGroupName) != group {
		t.Errorf("DescribeLogGroups: %+v, %v", out, err)
	}
}

func TestCloseWaitsForRequests(t *testing.T) {
	srv := cwlogstest.NewServer(cwlogstest.WithLatency(300 * time.Millisecond))
	c := newClient(t, srv, noRetry)
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err = c.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{})
	}()
	for srv.Calls("DescribeLogGroups") == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	srv.Close()
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("Close returned after %v, before the request in flight was answered", d)
	}
	wg.Wait()
	if err != nil {
		t.Errorf("request in flight during Close: %v", err)
	}
}

// A million ~50-byte events fit in modest memory and page out in order.
func TestMillionEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	srv, c := startServer(t)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 1_000_000
	batch := make([]cwlogstest.Event, 0, 10000)
	for i := range n {
		batch = append(batch, cwlogstest.Event{Timestamp: int64(i / 100), Message: fmt.Sprintf("%08d %s", i, strings.Repeat("x", 41))})
		if len(batch) == cap(batch) {
			srv.Put(group, stream, batch...)
			batch = batch[:0]
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("1M events: %d MiB of heap", grew>>20)
	if grew > 200<<20 {
		t.Errorf("1M events take %d MiB of heap, want at most 200", grew>>20)
	}
	got, sizes, _ := readForward(t, c, group, stream, "", 0)
	if len(got) != n || len(sizes) != n/cwlogstest.MaxPageEvents {
		t.Fatalf("read %d events in %d pages", len(got), len(sizes))
	}
	for i, e := range got {
		if want := fmt.Sprintf("%08d ", i); !strings.HasPrefix(aws.ToString(e.Message), want) {
			t.Fatalf("event %d is %q", i, aws.ToString(e.Message))
		}
	}
}

// Writers and a follower share the server while faults change: run with -race.
func TestConcurrentUse(t *testing.T) {
	// Half the time 30% of reads are throttled, and the follower reads
	// hundreds of pages: with the SDK's 3 attempts one in 37 throttled reads
	// fails for good (seen once in CI); with 10, one in 170,000.
	srv := cwlogstest.NewServer(cwlogstest.WithEmptyPages(0.2))
	t.Cleanup(srv.Close)
	c := newClient(t, srv, func(o *cloudwatchlogs.Options) { o.RetryMaxAttempts = 10 })
	ctx := context.Background()
	mustCreate(t, c, group, stream)
	const writers, batches, perBatch = 3, 20, 50
	var wg sync.WaitGroup
	// The followed stream gets timestamps in the order it receives events: a
	// reader never sees events put behind its position.
	var followedMu sync.Mutex
	followedTS := int64(0)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := fmt.Sprintf("w%d", w)
			if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s)}); err != nil {
				t.Error(err)
				return
			}
			for b := range batches {
				srv.SetThrottleRate(float64(b%2) * 0.3) // the SDK retries throttled reads
				if err := put(ctx, c, group, s, lines(int64(b*perBatch), b*perBatch+1, perBatch)...); err != nil {
					t.Error(err)
				}
				followedMu.Lock()
				followedTS++
				if err := put(ctx, c, group, stream, lines(followedTS, 0, 1)...); err != nil {
					t.Error(err)
				}
				followedMu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	token, total := "", 0
	for caughtUpAfterDone := false; !caughtUpAfterDone; {
		select {
		case <-done:
			caughtUpAfterDone = true
		default:
		}
		got, _, last := readForward(t, c, group, stream, token, 7)
		total, token = total+len(got), last
	}
	srv.SetThrottleRate(0)
	if total != writers*batches {
		t.Errorf("follower read %d events, want %d", total, writers*batches)
	}
	for w := range writers {
		if n := len(srv.Events(group, fmt.Sprintf("w%d", w))); n != batches*perBatch {
			t.Errorf("stream w%d has %d events, want %d", w, n, batches*perBatch)
		}
	}
}
