package logs

import (
	"testing"
	"time"
)

// attached is what the container's own stream showed, write by write.
type attached struct {
	stream int
	data   string
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
			order := newWriteOrder()
			for _, a := range tt.attached {
				_, _ = order.writer(a.stream).Write([]byte(a.data))
			}
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
	order := newWriteOrder()
	for _, a := range []attached{{0, "Running migrations:\n"}, {0, "  Applying"}, {1, "one\n"}, {0, " todo.0003..."}, {1, "two\n"}, {1, "three\n"}} {
		_, _ = order.writer(a.stream).Write([]byte(a.data))
	}
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
