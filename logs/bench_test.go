package logs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/moby/moby/client"
	"golang.org/x/time/rate"

	"jobrun/logs/cwlogstest"
)

// BenchmarkStreamName is computed once per attempt.
func BenchmarkStreamName(b *testing.B) {
	n := StreamNamer{Template: DefaultStreamTemplate, Image: "todobackend:3db46c4"}
	t := Task{ID: "770zvbjrm2un9g708hww1uz31", ServiceName: "jobrun_todobackend_migrate", NodeID: "b2xn60d1alwii5e3ucbvawqcj", ContainerID: "ca4e071e5ea8f00dfeedbeef0123456789abcdef0123456789abcdef01234567"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Name(t); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteEvents turns a full GetLogEvents page into output bytes.
func BenchmarkWriteEvents(b *testing.B) {
	events := make([]types.OutputLogEvent, 10000)
	size := 0
	for i := range events {
		events[i].Message = aws.String(fmt.Sprintf("  Applying todo.%06d_initial... OK", i))
		size += len(*events[i].Message) + 1
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := writeEvents(io.Discard, events, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// migrationLog is 10,000 lines of a migration, stdout with a stderr line
// every tenth, a microsecond apart, logged as stamped.
func migrationLog() taskLog {
	l := make(taskLog, 10000)
	for i := range l {
		l[i] = out(time.Duration(i)*time.Microsecond, fmt.Sprintf("  Applying todo.%06d_initial... OK\n", i))
		if i%10 == 9 {
			l[i] = errl(l[i].at, fmt.Sprintf("warning: row %d has no owner\n", i))
		}
	}
	return l
}

// benchMerge reads data (one or more reads of the log, each a new read) and
// merges it as Follow does: lines/s and allocations a line.
func benchMerge(b *testing.B, lines int, reads ...[]byte) {
	size := 0
	for _, r := range reads {
		size += len(r)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		m := newMerger(0, io.Discard, io.Discard)
		for _, data := range reads {
			m.replaying()
			r := newMuxReader(bytes.NewReader(data))
			for {
				e, err := r.next()
				if err != nil {
					break
				}
				m.add(e, now)
				if err := m.emit(now, emitLive); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := m.emit(now, emitAll); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkEngineMerge parses the engine's multiplexed stream with stamps
// and merges stdout and stderr in stamp order.
func BenchmarkEngineMerge(b *testing.B) {
	benchMerge(b, 10000, migrationLog().encode(false))
}

// BenchmarkEngineResend: the whole log, then all of it again, as when a
// worker's dockerd came back; the second copy is dropped line by line.
func BenchmarkEngineResend(b *testing.B) {
	data := migrationLog().encode(false)
	benchMerge(b, 20000, data, data)
}

// BenchmarkEngineFollow runs Follow on an ended task: the final read through
// a fake engine, the parse goroutine and the merge.
func BenchmarkEngineFollow(b *testing.B) {
	data := migrationLog().encode(false)
	fake := fakeTaskLogger{taskLogs: func(context.Context, string, client.TaskLogsOptions) (client.TaskLogsResult, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
	ended := make(chan struct{})
	close(ended)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := (Engine{Client: fake}).Follow(context.Background(), Task{ID: "t"}, ended, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkCloudWatchRead reads a 100,000-line stream from the test
// endpoint over HTTP with the real SDK client: lines/s and calls per read.
func BenchmarkCloudWatchRead(b *testing.B) {
	b.Setenv("AWS_ACCESS_KEY_ID", "AKIDJOBRUNTEST")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "jobrun-test-secret")
	srv := cwlogstest.NewServer()
	defer srv.Close()
	const lines = 100000
	events := make([]cwlogstest.Event, lines)
	ts := time.Now().UnixMilli()
	for i := range events {
		events[i] = cwlogstest.Event{Timestamp: ts, Message: fmt.Sprintf("line %d of the migration output", i)}
	}
	srv.Put("docker-swarm-lg", "s", events...)
	client, _, err := NewCloudWatchClient(context.Background(), AWSOptions{Region: "us-east-1", Endpoint: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	cw := &CloudWatch{Client: client, Group: "docker-swarm-lg", Limiter: rate.NewLimiter(rate.Inf, 1)}
	before := srv.Calls("GetLogEvents")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n, err := cw.Read(context.Background(), "s", nil, io.Discard); err != nil || n != lines {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(srv.Calls("GetLogEvents")-before)/float64(b.N), "calls/read")
}
