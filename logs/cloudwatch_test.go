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
// through the real SDK client, built the way jobrun builds it.
func newTestCloudWatch(t *testing.T, srv *cwlogstest.Server) *CloudWatch {
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
		Now:          time.Now,
		After:        time.After,
	}
}

func startCW(t *testing.T) (*cwlogstest.Server, *CloudWatch) {
	t.Helper()
	srv := cwlogstest.NewServer()
	t.Cleanup(srv.Close)
	return srv, newTestCloudWatch(t, srv)
}

// feed puts numbered lines into testStream, three to a millisecond so that
// events share timestamps, in batches of batch, and returns what a reader
// must print.
type feed struct {
	srv  *cwlogstest.Server
	ts0  int64
	next int
	want strings.Builder
}

func newFeed(srv *cwlogstest.Server) *feed {
	return &feed{srv: srv, ts0: time.Now().UnixMilli()}
}

func (f *feed) put(n, batch int, pause time.Duration) {
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
		if pause > 0 && n > 0 {
			time.Sleep(pause)
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
			during: func(_ *cwlogstest.Server, f *feed) { f.put(300, 7, 3*time.Millisecond) }},
		{name: "empty pages mid-stream", before: 100,
			fault:  func(srv *cwlogstest.Server) { srv.SetEmptyPages(0.3) },
			during: func(_ *cwlogstest.Server, f *feed) { f.put(100, 5, 5*time.Millisecond) },
			check: func(t *testing.T, s cwlogstest.Stats) {
				if s.EmptyPages == 0 {
					t.Error("no page was emptied")
				}
			}},
		{name: "50% throttling", before: 30,
			fault:  func(srv *cwlogstest.Server) { srv.SetThrottleRate(0.5) },
			during: func(_ *cwlogstest.Server, f *feed) { f.put(30, 5, 20*time.Millisecond) },
			check: func(t *testing.T, s cwlogstest.Stats) {
				if s.Throttled == 0 {
					t.Error("no call was throttled")
				}
			}},
		{name: "stream created after Follow starts",
			during: func(_ *cwlogstest.Server, f *feed) {
				time.Sleep(300 * time.Millisecond)
				f.put(50, 10, 5*time.Millisecond)
			}},
		{name: "outage while following", before: 10,
			during: func(srv *cwlogstest.Server, f *feed) {
				f.put(20, 5, 5*time.Millisecond)
				srv.SetOutage(true)
				f.put(20, 5, 10*time.Millisecond)
				time.Sleep(250 * time.Millisecond)
				srv.SetOutage(false)
				f.put(20, 5, 5*time.Millisecond)
			},
			check: func(t *testing.T, s cwlogstest.Stats) {
				if s.Dropped == 0 {
					t.Error("no call was dropped by the outage")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cw := startCW(t)
			if tt.fault != nil {
				tt.fault(srv)
			}
			f := newFeed(srv)
			f.put(tt.before, 1000, 0)
			ended := make(chan struct{})
			var wg sync.WaitGroup
			if tt.endedFirst {
				close(ended)
			} else {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tt.during(srv, f)
					close(ended)
				}()
			}
			start := time.Now()
			got, err := follow(t, cw, ended)
			wg.Wait()
			if err != nil {
				t.Fatalf("Follow: %v", err)
			}
			if want := f.want.String(); got != want {
				t.Errorf("output: %s", describeDiff(got, want))
			}
			st := srv.Stats()
			t.Logf("%d lines in %v; GetLogEvents calls %d, throttled %d, dropped %d, emptied %d",
				f.next, time.Since(start).Round(time.Millisecond), st.Calls["GetLogEvents"], st.Throttled, st.Dropped, st.EmptyPages)
			if tt.check != nil {
				tt.check(t, st)
			}
		})
	}
}

func TestCloudWatchFollowManyPages(t *testing.T) {
	const n = 25000
	srv, cw := startCW(t)
	f := newFeed(srv)
	f.put(n, 10000, 0)
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
			srv, cw := startCW(t)
			ts := time.Now().UnixMilli()
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

func TestCloudWatchFollowStreamNeverCreated(t *testing.T) {
	_, cw := startCW(t)
	ended := make(chan struct{})
	close(ended)
	start := time.Now()
	got, err := follow(t, cw, ended)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("Follow = %v, want ErrDrainTimeout", err)
	}
	if !strings.Contains(err.Error(), testGroup+"/"+testStream) {
		t.Errorf("error %q does not name the stream", err)
	}
	if got != "" {
		t.Errorf("wrote %q, want nothing", got)
	}
	if elapsed < cw.DrainTimeout || elapsed > cw.DrainTimeout+2*time.Second {
		t.Errorf("returned after %v, want about %v", elapsed, cw.DrainTimeout)
	}
}

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
			srv, cw := startCW(t)
			f := newFeed(srv)
			if tt.create {
				f.put(5, 5, 0)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			var out bytes.Buffer
			go func() { done <- cw.Follow(ctx, Task{ID: "task1"}, make(chan struct{}), &out, nil) }()
			time.Sleep(150 * time.Millisecond)
			cancel()
			cancelled := time.Now()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Follow = %v, want nil", err)
				}
				if d := time.Since(cancelled); d > 500*time.Millisecond {
					t.Errorf("Follow returned %v after cancel", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Follow did not return after the context was cancelled")
			}
			if want := f.want.String(); out.String() != want {
				t.Errorf("output: %s", describeDiff(out.String(), want))
			}
		})
	}
}

func TestCloudWatchRead(t *testing.T) {
	srv, cw := startCW(t)
	f := newFeed(srv)
	f.put(12345, 10000, 0)
	var out bytes.Buffer
	n, err := cw.Read(context.Background(), testStream, &out)
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
	n, err = cw.Read(context.Background(), "no-such-stream", &out)
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
