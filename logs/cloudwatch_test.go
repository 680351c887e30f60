package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"jobrun/clocktest"
	"jobrun/logs/cwlogstest"
)

const (
	testGroup  = "docker-swarm-lg"
	testStream = "job-1.node1.task1-0123456789ab"
)

// isolateAWSEnv clears every setting the SDK would read from the machine:
// no region, no credentials, no shared files, no instance metadata.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
	} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// newTestCloudWatch is a CloudWatch reading testStream of testGroup from srv
// through the real SDK client, built the way jobrun builds it, on clock.
func newTestCloudWatch(t *testing.T, srv *cwlogstest.Server, clock *clocktest.Clock) *CloudWatch {
	t.Helper()
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	client, _, err := NewCloudWatchClient(context.Background(), AWSOptions{Region: "us-east-1", Endpoint: srv.URL})
	if err != nil {
		t.Fatalf("NewCloudWatchClient: %v", err)
	}
	return &CloudWatch{
		Client:       client,
		Group:        testGroup,
		Stream:       func(Task) (string, error) { return testStream, nil },
		Limiter:      rate.NewLimiter(rate.Inf, 1),
		Poll:         10 * time.Millisecond,
		FlushWait:    50 * time.Millisecond,
		DrainTimeout: 2 * time.Second,
		Now:          clock.Now,
		After:        clock.After,
	}
}

// startCW serves a CloudWatch on a fake clock, which the test moves.
func startCW(t *testing.T) (*cwlogstest.Server, *CloudWatch, *clocktest.Clock) {
	t.Helper()
	srv := cwlogstest.NewServer()
	t.Cleanup(srv.Close)
	clock := clocktest.New(time.Now())
	return srv, newTestCloudWatch(t, srv, clock), clock
}

// feed puts numbered lines into testStream, three to a millisecond so that
// events share timestamps, in batches of batch, and returns what a reader
// must print.
type feed struct {
	srv  *cwlogstest.Server
	ts0  int64
	next int
	want strings.Builder
	// polled lets the follower, waiting for its next poll, make it and
	// catch up: a batch put then lands while it follows, and the calls
	// come in the same order every time (the server's faults follow it).
	polled func()
	// poll lets the follower, waiting, make its next poll.
	poll func()
}

func newFeed(t *testing.T, srv *cwlogstest.Server, clock *clocktest.Clock) *feed {
	f := &feed{srv: srv, ts0: clock.Now().UnixMilli()}
	f.poll = func() {
		if clock.BlockUntil(t.Context(), 1) == nil {
			clock.AdvanceToNext()
		}
	}
	f.polled = func() {
		f.poll()
		_ = clock.BlockUntil(t.Context(), 1)
	}
	return f
}

// put puts n lines in batches, calling between (if set) between them.
func (f *feed) put(n, batch int, between func()) {
	for n > 0 {
		k := min(n, batch)
		events := make([]cwlogstest.Event, k)
		for i := range events {
			msg := fmt.Sprintf("line %06d of the job", f.next)
			events[i] = cwlogstest.Event{Timestamp: f.ts0 + int64(f.next/3), Message: msg}
			f.want.WriteString(msg + "\n")
			f.next++
		}
		f.srv.Put(testGroup, testStream, events...)
		n -= k
		if between != nil && n > 0 {
			between()
		}
	}
}

// follow runs Follow with a deadline and returns what it wrote.
func follow(t *testing.T, cw *CloudWatch, ended <-chan struct{}) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := cw.Follow(ctx, Task{ID: "task1"}, ended, &out, nil)
	if ctx.Err() != nil {
		t.Fatalf("Follow still running at the test's deadline")
	}
	return out.String(), err
}

func TestCloudWatchFollow(t *testing.T) {
	tests := []struct {
		name string
		// fault is set before Follow starts.
		fault func(*cwlogstest.Server)
		// before events are put before Follow starts.
		before int
		// endedFirst closes ended before Follow starts; otherwise during
		// runs while Follow runs, then ended is closed.
		endedFirst bool
		during     func(srv *cwlogstest.Server, f *feed)
		// check looks at the server's counters, to be sure the fault hit.
		check func(t *testing.T, s cwlogstest.Stats)
	}{
		{name: "put before, already ended", before: 250, endedFirst: true},
		{name: "ended, empty stream", endedFirst: true,
			fault: func(srv *cwlogstest.Server) { srv.Put(testGroup, testStream) }},
		{name: "appended while following", before: 20,
			during: func(_ *cwlogstest.Server, f *feed) { f.put(300, 7, f.polled) }},
		{name: "empty pages mid-stream", before: 100,
			fault:  func(srv *cwlogstest.Server) { srv.SetEmptyPages(0.3) },
			during: func(_ *cwlogstest.Server, f *feed) { f.put(100, 5, f.polled) },
			check: func(t *testing.T, s cwlogstest.Stats) {
				if s.EmptyPages == 0 {
					t.Error("no page was emptied")
				}
			}},
		{name: "50% throttling", before: 30,
			fault:  func(srv *cwlogstest.Server) { srv.SetThrottleRate(0.5) },
			during: func(_ *cwlogstest.Server, f *feed) { f.put(30, 15, f.polled) },
			check: func(t *testing.T, s cwlogstest.Stats) {
				if s.Throttled == 0 {
					t.Error("no call was throttled")
				}
			}},
		{name: "stream created after Follow starts",
			during: func(_ *cwlogstest.Server, f *feed) {
				f.polled() // the stream is missing, twice
				f.polled()
				f.put(50, 10, f.polled)
			}},
		{name: "outage while following", before: 10,
			during: func(srv *cwlogstest.Server, f *feed) {
				f.put(20, 5, f.polled)
				srv.SetOutage(true)
				f.put(20, 5, nil)
				f.poll()
				// The follower waits out the outage in the SDK's retries,
				// which keep the wall clock: a real outage, of real length.
				time.Sleep(250 * time.Millisecond)
				srv.SetOutage(false)
				f.put(20, 5, f.polled)
			},
			check: func(t *testing.T, s cwlogstest.Stats) {
				if s.Dropped == 0 {
					t.Error("no call was dropped by the outage")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cw, clock := startCW(t)
			if tt.fault != nil {
				tt.fault(srv)
			}
			f := newFeed(t, srv, clock)
			f.put(tt.before, 1000, nil)
			ended := make(chan struct{})
			var wg sync.WaitGroup
			if tt.endedFirst {
				close(ended)
				clock.AutoAdvance(t.Context())
			} else {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tt.during(srv, f)
					close(ended)
					clock.AutoAdvance(t.Context()) // the polls that see the stream settle
				}()
			}
			got, err := follow(t, cw, ended)
			wg.Wait()
			if err != nil {
				t.Fatalf("Follow: %v", err)
			}
			if want := f.want.String(); got != want {
				t.Errorf("output: %s", describeDiff(got, want))
			}
			st := srv.Stats()
			t.Logf("%d lines; GetLogEvents calls %d, throttled %d, dropped %d, emptied %d",
				f.next, st.Calls["GetLogEvents"], st.Throttled, st.Dropped, st.EmptyPages)
			if tt.check != nil {
				tt.check(t, st)
			}
		})
	}
}

func TestCloudWatchFollowManyPages(t *testing.T) {
	const n = 25000
	srv, cw, clock := startCW(t)
	clock.AutoAdvance(t.Context())
	f := newFeed(t, srv, clock)
	f.put(n, 10000, nil)
	ended := make(chan struct{})
	close(ended)
	got, err := follow(t, cw, ended)
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if want := f.want.String(); got != want {
		t.Errorf("output: %s", describeDiff(got, want))
	}
	pages := (n + cwlogstest.MaxPageEvents - 1) / cwlogstest.MaxPageEvents
	calls := srv.Calls("GetLogEvents")
	t.Logf("%d events: %d GetLogEvents calls (%d full pages)", n, calls, pages)
	if max := 3 + pages + 10; calls > max {
		t.Errorf("%d GetLogEvents calls, want at most %d", calls, max)
	}
}

func TestCloudWatchFollowSplitLine(t *testing.T) {
	// The awslogs driver cuts a 300 KiB line into events of maxEventMessage
	// bytes and a remainder; only a shorter event ends a line.
	first, rest := strings.Repeat("a", 262118), strings.Repeat("b", 45082)
	// A 300 KiB line of 3-byte runes: the driver's findValidSplit cuts it
	// before the rune that would cross the maximum, at 262116 bytes.
	euro := strings.Repeat("€", 307200/3)
	tests := []struct {
		name     string
		messages []string
		want     string
	}{
		{"300 KiB line", []string{first, rest, "next"}, first + rest + "\nnext\n"},
		{"line of exactly the maximum, then another", []string{first, "c"}, first + "c\n"},
		{"a rune short of the maximum", []string{first[3:], "c"}, first[3:] + "c\n"},
		{"more than a rune short of the maximum", []string{first[4:], "c"}, first[4:] + "\nc\n"},
		{"line twice the maximum", []string{first, first, "tail"}, first + first + "tail\n"},
		{"300 KiB line of multi-byte runes", []string{euro[:262116], euro[262116:], "next"}, euro + "\nnext\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cw, clock := startCW(t)
			clock.AutoAdvance(t.Context())
			ts := clock.Now().UnixMilli()
			for _, m := range tt.messages {
				srv.Put(testGroup, testStream, cwlogstest.Event{Timestamp: ts, Message: m})
			}
			ended := make(chan struct{})
			close(ended)
			got, err := follow(t, cw, ended)
			if err != nil {
				t.Fatalf("Follow: %v", err)
			}
			if got != tt.want {
				t.Errorf("output: %s", describeDiff(got, tt.want))
			}
		})
	}
}

// TestCloudWatchFollowStreamNeverCreated: an ended attempt's stream that
// never appears is waited for, poll by poll, until the drain timeout.
func TestCloudWatchFollowStreamNeverCreated(t *testing.T) {
	_, cw, clock := startCW(t)
	clock.AutoAdvance(t.Context())
	start := clock.Now()
	ended := make(chan struct{})
	close(ended)
	got, err := follow(t, cw, ended)
	if !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("Follow = %v, want ErrDrainTimeout", err)
	}
	if !strings.Contains(err.Error(), testGroup+"/"+testStream) {
		t.Errorf("error %q does not name the stream", err)
	}
	if got != "" {
		t.Errorf("wrote %q, want nothing", got)
	}
	asked := clock.Asked()
	if polls := int(cw.DrainTimeout / cw.Poll); len(asked) != polls || count(asked, cw.Poll) != polls {
		t.Errorf("waits asked %v, want %d polls of %s", asked, polls, cw.Poll)
	}
	if waited := clock.Now().Sub(start); waited != cw.DrainTimeout {
		t.Errorf("gave up after %s on its clock, want the drain timeout %s", waited, cw.DrainTimeout)
	}
}

// TestCloudWatchFollowCancelled: Follow returns when its context ends,
// without waiting for its next poll.
func TestCloudWatchFollowCancelled(t *testing.T) {
	tests := []struct {
		name   string
		create bool
	}{
		{"stream exists", true},
		{"stream missing", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cw, clock := startCW(t)
			f := newFeed(t, srv, clock)
			if tt.create {
				f.put(5, 5, nil)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			var out bytes.Buffer
			go func() { done <- cw.Follow(ctx, Task{ID: "task1"}, make(chan struct{}), &out, nil) }()
			if err := clock.BlockUntil(t.Context(), 1); err != nil { // caught up: waiting for the next poll
				t.Fatal(err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Follow = %v, want nil", err)
			}
			if clock.Pending() != 1 {
				t.Errorf("%d waits pending, want the poll Follow left when cancelled", clock.Pending())
			}
			if want := f.want.String(); out.String() != want {
				t.Errorf("output: %s", describeDiff(out.String(), want))
			}
		})
	}
}

func TestCloudWatchRead(t *testing.T) {
	srv, cw, clock := startCW(t)
	f := newFeed(t, srv, clock)
	f.put(12345, 10000, nil)
	var out bytes.Buffer
	n, err := cw.Read(context.Background(), testStream, nil, &out)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if n != 12345 {
		t.Errorf("Read = %d events, want 12345", n)
	}
	if want := f.want.String(); out.String() != want {
		t.Errorf("output: %s", describeDiff(out.String(), want))
	}

	out.Reset()
	n, err = cw.Read(context.Background(), "no-such-stream", nil, &out)
	if !IsNotFound(err) {
		t.Errorf("Read of a missing stream = %v, want a ResourceNotFoundException", err)
	}
	if n != 0 || out.Len() != 0 {
		t.Errorf("Read of a missing stream: %d events, wrote %q", n, out.String())
	}
}

func TestCloudWatchNameLocation(t *testing.T) {
	cw := &CloudWatch{Stream: StreamNamer{Template: DefaultStreamTemplate}.Name}
	task := Task{ID: "t1", ServiceName: "svc", NodeID: "n1", ContainerID: "0123456789abcdef"}
	if got, want := cw.Location(task), "svc.n1.t1-0123456789ab"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got := cw.Location(Task{ID: "t2"}); got != "" {
		t.Errorf("Location of a task with no container = %q, want \"\"", got)
	}
	if cw.Name() != "cloudwatch" {
		t.Errorf("Name = %q", cw.Name())
	}
}

func TestConsoleURL(t *testing.T) {
	got := ConsoleURL("us-east-1", "docker-swarm-lg", "a.b/c-1")
	want := "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/docker-swarm-lg/log-events/a.b$252Fc-1"
	if got != want {
		t.Errorf("ConsoleURL =\n%s\nwant\n%s", got, want)
	}
	got = ConsoleURL("eu-west-1", "/ecs/my_group", "web#1")
	want = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fecs$252Fmy_group/log-events/web$25231"
	if got != want {
		t.Errorf("ConsoleURL =\n%s\nwant\n%s", got, want)
	}
}

func TestNewCloudWatchClientErrors(t *testing.T) {
	t.Run("no region", func(t *testing.T) {
		isolateAWSEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		_, _, err := NewCloudWatchClient(context.Background(), AWSOptions{})
		var re RegionError
		if !errors.As(err, &re) {
			t.Fatalf("err = %v, want RegionError", err)
		}
		if !strings.Contains(err.Error(), "--region") {
			t.Errorf("error %q does not say how to fix it", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		isolateAWSEnv(t)
		_, _, err := NewCloudWatchClient(context.Background(), AWSOptions{Region: "us-east-1"})
		var ce *CredentialsError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want *CredentialsError", err)
		}
		if ce.Unwrap() == nil {
			t.Error("CredentialsError wraps no cause")
		}
		if !strings.Contains(err.Error(), "--logs docker") {
			t.Errorf("error %q does not mention --logs docker", err)
		}
	})
	t.Run("region from the environment", func(t *testing.T) {
		isolateAWSEnv(t)
		t.Setenv("AWS_REGION", "eu-west-1")
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		c, cfg, err := NewCloudWatchClient(context.Background(), AWSOptions{})
		if err != nil || c == nil {
			t.Fatalf("NewCloudWatchClient = %v, %v", c, err)
		}
		if cfg.Region != "eu-west-1" {
			t.Errorf("region = %q, want eu-west-1", cfg.Region)
		}
	})
}
