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
	"github.com/docker/docker/pkg/stdcopy"
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
		if err := writeEvents(io.Discard, events); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineDemux splits the engine's multiplexed log stream.
func BenchmarkEngineDemux(b *testing.B) {
	var mux bytes.Buffer
	out := stdcopy.NewStdWriter(&mux, stdcopy.Stdout)
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(out, "  Applying todo.%06d_initial... OK\n", i)
	}
	data := mux.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := stdcopy.StdCopy(io.Discard, io.Discard, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
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
		if n, err := cw.Read(context.Background(), "s", io.Discard); err != nil || n != lines {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(srv.Calls("GetLogEvents")-before)/float64(b.N), "calls/read")
}
