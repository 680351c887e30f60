package logs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"jobrun/logs/cwlogstest"
)

// attached is what the container's own stream showed, write by write.
type attached struct {
	stream int
	data   string
}

// orderFrom is the write order learned from what the container showed.
func orderFrom(shown []attached) *writeOrder {
	order := newWriteOrder()
	for _, a := range shown {
		_, _ = order.writer(a.stream).Write([]byte(a.data))
	}
	return order
}

// TestWriteOrder: the merger writes an unended line where the attached
// container showed it, before the other stream's line that followed it,
// and never twice.
func TestWriteOrder(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		attached []attached // the container's stream
		steps    []step     // the engine's stamped log
		want     string
	}{
		{
			name: "Django's Applying line before the traceback it caused",
			attached: []attached{{0, "Operations to perform:\n"}, {0, "  Applying todo.0003..."}, {1, "Traceback (most recent call last):\n"},
				{1, "  File \"manage.py\"\n"}, {1, "IntegrityError: (1062)\n"}},
			// the unended line is stamped at the job's exit, after the traceback
			steps: []step{o(0, 1, "Operations to perform:\n"), e(ms, 5, "Traceback (most recent call last):\n"), e(ms, 6, "  File \"manage.py\"\n"),
				e(ms, 7, "IntegrityError: (1062)\n"), o(2*ms, 9, "  Applying todo.0003...")},
			want: "0:Operations to perform:\n|0:  Applying todo.0003...|1:Traceback (most recent call last):\n|1:  File \"manage.py\"\n|1:IntegrityError: (1062)\n|",
		},
		{
			name:     "a line that ends later is written on from where it was",
			attached: []attached{{0, "Running migrations:\n"}, {0, "  Applying todo.0002..."}, {1, "Warning: slow\n"}, {0, " OK\n"}},
			steps:    []step{o(0, 1, "Running migrations:\n"), e(0, 2, "Warning: slow\n"), o(ms, 3, "  Applying todo.0002... OK\n")},
			want:     "0:Running migrations:\n|0:  Applying todo.0002...|1:Warning: slow\n|0: OK\n|",
		},
		{
			name: "a line the attach joined halfway is never written early",
			// attached after "Waiting for db" was written: only its dots show
			attached: []attached{{0, ".."}, {1, "connection refused\n"}},
			steps:    []step{o(0, 1, "Waiting for db..\n"), e(ms, 2, "connection refused\n")},
			want:     "0:Waiting for db..\n|1:connection refused\n|",
		},
		{
			name:     "what the attached stream never showed is merged by the stamps",
			attached: []attached{{0, "  Applying todo.0003..."}},
			steps:    []step{e(0, 5, "Traceback (most recent call last):\n"), o(ms, 9, "  Applying todo.0003...")},
			want:     "1:Traceback (most recent call last):\n|0:  Applying todo.0003...|",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order := orderFrom(tt.attached)
			var tr transcript
			m := newMerger(100*time.Millisecond, tr.stream(0), tr.stream(1))
			m.order = order
			for _, s := range tt.steps {
				m.add(entry{stream: s.stream, stamp: s.stamp * 1e6, data: []byte(s.data)}, clock0.Add(s.at))
			}
			if err := m.emit(clock0, emitAll); err != nil {
				t.Fatal(err)
			}
			if got := tr.b.String(); got != tt.want {
				t.Errorf("written:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestWriteOrderHintsOnce: a fragment goes before the first line of the
// other stream that ended after it, not before every one.
func TestWriteOrderHintsOnce(t *testing.T) {
	order := orderFrom([]attached{{0, "Running migrations:\n"}, {0, "  Applying"}, {1, "one\n"}, {0, " todo.0003..."}, {1, "two\n"}, {1, "three\n"}})
	for _, tt := range []struct {
		line, want string
		ok         bool
	}{{"one\n", "  Applying", true}, {"two\n", " todo.0003...", true}, {"three\n", "", false}, {"one\n", "", false}} {
		got, ok := order.before(1, []byte(tt.line))
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("before %q = %q, %t; want %q, %t", tt.line, got, ok, tt.want, tt.ok)
		}
	}
	var none *writeOrder // no attached stream: nothing to say
	if _, ok := none.before(0, []byte("x\n")); ok {
		t.Error("a nil writeOrder gave a fragment")
	}
}

// events are a CloudWatch stream's messages, as the awslogs driver sends
// them: a line a message, without its newline.
func events(msgs ...string) []cwtypes.OutputLogEvent {
	out := make([]cwtypes.OutputLogEvent, len(msgs))
	for i, m := range msgs {
		out[i].Message = aws.String(m)
	}
	return out
}

// TestCloudWatchWriteOrder: an attempt's CloudWatch events are written
// with its unended lines where the attached container showed them, and
// never twice; the same from the hints a run record keeps (JSON), as
// jobrun logs reads them.
func TestCloudWatchWriteOrder(t *testing.T) {
	tests := []struct {
		name     string
		attached []attached
		events   []string // the driver's, in its order
		want     string
	}{
		{
			name: "Django's Applying line before the traceback it caused",
			attached: []attached{{0, "Running migrations:\n"}, {0, "  Applying todo.0003..."}, {1, "Traceback (most recent call last):\n"},
				{1, "  File \"manage.py\"\n"}, {1, "IntegrityError: (1062)\n"}},
			// the driver sends the unended line at the job's exit
			events: []string{"Running migrations:", "Traceback (most recent call last):", "  File \"manage.py\"", "IntegrityError: (1062)", "  Applying todo.0003..."},
			want:   "Running migrations:\n  Applying todo.0003...Traceback (most recent call last):\n  File \"manage.py\"\nIntegrityError: (1062)\n",
		},
		{
			name:     "a line that ends later is written on from where it was",
			attached: []attached{{0, "Running migrations:\n"}, {0, "  Applying todo.0002..."}, {1, "Warning: slow\n"}, {0, " OK\n"}, {0, "  Applying todo.0003... OK\n"}},
			events:   []string{"Running migrations:", "Warning: slow", "  Applying todo.0002... OK", "  Applying todo.0003... OK"},
			want:     "Running migrations:\n  Applying todo.0002...Warning: slow\n OK\n  Applying todo.0003... OK\n",
		},
		{
			name:     "an unended stderr line before a stdout line",
			attached: []attached{{1, "connection refused\n"}, {1, "Retrying in 3 s..."}, {0, "db is up\n"}},
			events:   []string{"connection refused", "db is up", "Retrying in 3 s..."},
			want:     "connection refused\nRetrying in 3 s...db is up\n",
		},
		{
			name:     "a line the attach joined halfway is never written early",
			attached: []attached{{0, ".."}, {1, "connection refused\n"}},
			events:   []string{"connection refused", "Waiting for db.."},
			want:     "connection refused\nWaiting for db..\n",
		},
		{
			name:     "a line of the early one's stream before its own event is said whole",
			attached: []attached{{0, "Running migrations:\n"}, {0, "  Applying todo.0003..."}, {1, "Traceback\n"}},
			events:   []string{"Running migrations:", "Traceback", "  Applying todo.0002... OK", "  Applying todo.0003..."},
			want:     "Running migrations:\n  Applying todo.0003...Traceback\n  Applying todo.0002... OK\n",
		},
		{
			name:   "nothing attached: the driver's order",
			events: []string{"Traceback", "  Applying todo.0003..."},
			want:   "Traceback\n  Applying todo.0003...\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := orderFrom(tt.attached)
			kept, err := json.Marshal(live.keptHints())
			if err != nil {
				t.Fatal(err)
			}
			var hints []Hint
			if err := json.Unmarshal(kept, &hints); err != nil {
				t.Fatal(err)
			}
			for what, order := range map[string]*writeOrder{"live": live, "from the record": orderOf(hints)} {
				var out bytes.Buffer
				o := &eventOrder{order: order}
				for _, e := range events(tt.events...) { // a page each: what o knows lasts across pages
					if err := writeEvents(&out, []cwtypes.OutputLogEvent{e}, o); err != nil {
						t.Fatal(err)
					}
				}
				if out.String() != tt.want {
					t.Errorf("%s: written\n got %q\nwant %q", what, out.String(), tt.want)
				}
			}
		})
	}
}

// TestWriteOrderKeepsBoundedHints: the hints a record keeps are bounded
// in count and bytes; the order still holds live past the bounds.
func TestWriteOrderKeepsBoundedHints(t *testing.T) {
	tests := []struct {
		name      string
		fragment  string
		lines     int
		wantKept  int
		wantBytes int
	}{
		{"a few", "  Applying x...", 3, 3, 3 * len("  Applying x...line\n")},
		{"more than the count", ".", 2 * maxKeptHints, maxKeptHints, maxKeptHints * len(".line\n")},
		{"more than the bytes", strings.Repeat("x", 6<<10), 5, 2, 2 * (6<<10 + len("line\n"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newWriteOrder()
			_, _ = o.writer(0).Write([]byte("Running migrations:\n")) // a stream's first line may be joined halfway
			for range tt.lines {
				_, _ = o.writer(0).Write([]byte(tt.fragment))
				_, _ = o.writer(1).Write([]byte("line\n"))
				_, _ = o.writer(0).Write([]byte("\n"))
			}
			kept, size := o.keptHints(), 0
			for _, h := range kept {
				size += len(h.Line) + len(h.Before)
			}
			if len(kept) != tt.wantKept || size != tt.wantBytes {
				t.Errorf("kept %d hints of %d bytes, want %d of %d", len(kept), size, tt.wantKept, tt.wantBytes)
			}
			for i := range tt.lines {
				if frag, ok := o.before(1, []byte("line\n")); !ok || string(frag) != tt.fragment {
					t.Fatalf("line %d: before = %q, %t; want the fragment live", i, frag, ok)
				}
			}
		})
	}
}

// attacher is the engine of node, whose container showed attached; its
// stream ends once read (drained closes then).
type attacher struct {
	node     string
	attached []attached
	drained  chan struct{}
}

func (a *attacher) NodeID(context.Context) (string, error) { return a.node, nil }

func (a *attacher) ContainerAttach(context.Context, string, client.ContainerAttachOptions) (client.ContainerAttachResult, error) {
	var framed bytes.Buffer
	for _, w := range a.attached {
		kind := stdcopy.Stdout
		if w.stream == 1 {
			kind = stdcopy.Stderr
		}
		framed.WriteString(frameOf(kind, w.data))
	}
	conn, peer := net.Pipe()
	_ = peer.Close()
	return client.ContainerAttachResult{HijackedResponse: client.HijackedResponse{Conn: conn, Reader: bufio.NewReader(readFunc(func(p []byte) (int, error) {
		n, err := framed.Read(p)
		if err == io.EOF {
			close(a.drained)
		}
		return n, err
	}))}}, nil
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// TestCloudWatchFollowAttached: following a task on the node jobrun talks
// to, CloudWatch's Follow attaches as the engine source does, writes the
// unended line before the traceback, and keeps the hints for the record;
// on another node it cannot, and the driver's order stands.
func TestCloudWatchFollowAttached(t *testing.T) {
	django := []attached{{0, "Running migrations:\n"}, {0, "  Applying todo.0003..."}, {1, "Traceback (most recent call last):\n"}, {1, "IntegrityError: (1062)\n"}}
	driver := []string{"Running migrations:", "Traceback (most recent call last):", "IntegrityError: (1062)", "  Applying todo.0003..."}
	tests := []struct {
		name      string
		node      string
		want      string
		wantHints []Hint
	}{
		{"on jobrun's node", "n1", "Running migrations:\n  Applying todo.0003...Traceback (most recent call last):\nIntegrityError: (1062)\n",
			[]Hint{{Stream: 1, Line: "Traceback (most recent call last):\n", Before: "  Applying todo.0003..."}}},
		{"on another node", "n2", "Running migrations:\nTraceback (most recent call last):\nIntegrityError: (1062)\n  Applying todo.0003...\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cw, clock := startCW(t)
			a := &attacher{node: tt.node, attached: django, drained: make(chan struct{})}
			cw.Attach = a
			task := Task{ID: "task1", ContainerID: "c1", NodeID: "n1"}
			ended := make(chan struct{})
			go func() {
				if tt.node == task.NodeID {
					<-a.drained // the job's bytes, as written, before the driver's late events
				}
				events := make([]cwlogstest.Event, len(driver))
				for i, m := range driver {
					events[i] = cwlogstest.Event{Timestamp: clock.Now().UnixMilli(), Message: m}
				}
				srv.Put(testGroup, testStream, events...)
				close(ended)
				clock.AutoAdvance(t.Context())
			}()
			var out bytes.Buffer
			if err := cw.Follow(t.Context(), task, ended, &out, nil); err != nil {
				t.Fatalf("Follow: %v", err)
			}
			if out.String() != tt.want {
				t.Errorf("written\n got %q\nwant %q", out.String(), tt.want)
			}
			if got := cw.Hints(task); !reflect.DeepEqual(got, tt.wantHints) {
				t.Errorf("hints kept %+v, want %+v", got, tt.wantHints)
			}
			out.Reset()
			if _, err := cw.Read(t.Context(), testStream, cw.Hints(task), &out); err != nil || out.String() != tt.want {
				t.Errorf("read again with the hints kept: %q (%v), want %q", out.String(), err, tt.want)
			}
		})
	}
}
