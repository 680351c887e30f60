package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs/jobstest"
	"jobrun/logs"
)

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []int // sizes of successive writes
	}{
		{"nothing", 10, nil},
		{"under the limit", 10, []int{3, 4}},
		{"exactly the limit", 10, []int{4, 6}},
		{"one byte over", 10, []int{4, 7}},
		{"many small writes", 10, repeat(1, 95)},
		{"small writes past twice the limit", 16, repeat(3, 50)},
		{"one large write", 10, []int{1000}},
		{"large then small", 10, []int{25, 1, 1, 1}},
		{"small then large then small", 64, []int{5, 5, 300, 7, 63, 1}},
		{"exactly twice the limit", 8, []int{16}},
		{"mixed", 1024, []int{100, 5000, 1, 1023, 2048, 17, 4096, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &tailBuffer{max: tt.max}
			var all []byte
			counter := byte(0)
			for _, n := range tt.writes {
				p := make([]byte, n)
				for i := range p {
					p[i] = counter
					counter++
				}
				got, err := tb.Write(p)
				if err != nil || got != n {
					t.Fatalf("Write(%d bytes) = %d, %v", n, got, err)
				}
				all = append(all, p...)
				if len(tb.buf) > 2*tt.max+n {
					t.Errorf("buffer grew to %d bytes with max %d", len(tb.buf), tt.max)
				}
			}
			want := all
			if len(want) > tt.max {
				want = want[len(want)-tt.max:]
			}
			if got := tb.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("Bytes() = %v (%d bytes), want the last %d bytes %v", got, len(got), len(want), want)
			}
			if wantTrunc := len(all) > tt.max; tb.truncated != wantTrunc {
				t.Errorf("truncated = %v, want %v (wrote %d, max %d)", tb.truncated, wantTrunc, len(all), tt.max)
			}
		})
	}
}

func repeat(n, times int) []int {
	out := make([]int, times)
	for i := range out {
		out[i] = n
	}
	return out
}

func TestPackOutputsRoundTrip(t *testing.T) {
	in := []AttemptOutput{
		{Number: 1, Output: []byte("Applying migrations...\nTraceback: boom\n")},
		{Number: 2, Output: []byte{0x00, 0xff, 0xfe, '\n', 0x1b}, Truncated: true},
		{Number: 3, Output: nil},
	}
	packed, err := packOutputs(append([]AttemptOutput(nil), in...))
	if err != nil {
		t.Fatal(err)
	}
	if len(packed) > maxStoredOutput {
		t.Errorf("packed %d bytes, limit %d", len(packed), maxStoredOutput)
	}
	got, err := unpackOutputs(packed)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("got %d outputs, want %d", len(got), len(in))
	}
	for i := range in {
		if got[i].Number != in[i].Number || !bytes.Equal(got[i].Output, in[i].Output) || got[i].Truncated != in[i].Truncated {
			t.Errorf("output %d = %+v, want %+v", i, got[i], in[i])
		}
	}
}

func TestPackOutputsShrinksIncompressibleData(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	orig := make([][]byte, 3)
	in := make([]AttemptOutput, len(orig))
	for i := range orig {
		orig[i] = make([]byte, 600<<10) // 1.8 MiB of noise in all
		rng.Read(orig[i])
		in[i] = AttemptOutput{Number: i + 1, Output: orig[i]}
	}
	packed, err := packOutputs(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(packed) > maxStoredOutput {
		t.Fatalf("packed %d bytes, over the %d limit", len(packed), maxStoredOutput)
	}
	got, err := unpackOutputs(packed)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d outputs, want 3", len(got))
	}
	for i, o := range got {
		if o.Number != i+1 || !o.Truncated {
			t.Errorf("output %d: number %d truncated %v, want %d true", i, o.Number, o.Truncated, i+1)
		}
		if len(o.Output) == 0 || len(o.Output) >= len(orig[i]) {
			t.Errorf("output %d kept %d of %d bytes", i, len(o.Output), len(orig[i]))
		}
		if !bytes.HasSuffix(orig[i], o.Output) {
			t.Errorf("output %d is not the tail of the original", i)
		}
	}
}

func TestPackOutputsManySmallAttempts(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	in := make([]AttemptOutput, 600)
	for i := range in {
		in[i] = AttemptOutput{Number: i + 1, Output: make([]byte, 1024)}
		rng.Read(in[i].Output)
	}
	done := make(chan []byte, 1)
	go func() {
		packed, _ := packOutputs(in)
		done <- packed
	}()
	select {
	case packed := <-done:
		if len(packed) > maxStoredOutput {
			t.Errorf("packed %d bytes, over the %d limit", len(packed), maxStoredOutput)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("packOutputs did not return")
	}
}

func TestUnpackOutputsRejectsGarbage(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("not gzip"), {0x1f, 0x8b, 0x08}} {
		if _, err := unpackOutputs(data); err == nil {
			t.Errorf("unpackOutputs(%q) succeeded", data)
		}
	}
}

// configStore is the shared in-memory store with what these tests look
// at: the label filters of each listing, the removals done and the most in
// flight at once. remove, when set, answers a removal first (a fault, or a
// config gone meanwhile); it runs with the store locked.
type configStore struct {
	jobstest.Configs
	mu       sync.Mutex
	lists    [][]string // the label filters of each ConfigList, sorted
	removes  int
	inFlight int
	maxIn    int
	remove   func(id string) error
}

func (f *configStore) ConfigList(ctx context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	f.mu.Lock()
	f.lists = append(f.lists, slices.Sorted(maps.Keys(o.Filters["label"])))
	f.mu.Unlock()
	return f.Configs.ConfigList(ctx, o)
}

func (f *configStore) ConfigRemove(ctx context.Context, id string, o client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	f.mu.Lock()
	f.inFlight++
	f.maxIn = max(f.maxIn, f.inFlight)
	f.mu.Unlock()
	runtime.Gosched() // let removals overlap
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	if f.remove != nil {
		if err := f.remove(id); err != nil {
			return client.ConfigRemoveResult{}, err
		}
	}
	removed, err := f.Configs.ConfigRemove(ctx, id, o)
	if err == nil {
		f.removes++
	}
	return removed, err
}

// names lists the configs held, sorted.
func (f *configStore) names() []string {
	held, _ := f.Configs.ConfigList(context.Background(), client.ConfigListOptions{})
	var out []string
	for _, c := range held.Items {
		out = append(out, c.Spec.Name)
	}
	slices.Sort(out)
	return out
}

// testRun is a run to seed: its version and outcome, and whether it kept output.
type testRun struct {
	version string
	outcome Outcome
	output  bool
}

// testRecord is run i of a job, as finish saves it: started i minutes after
// the first, one attempt.
func testRecord(stack, job string, i int, r testRun) Record {
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	code := 0
	if r.outcome != Succeeded {
		code = 1
	}
	return Record{
		RunID: testRunID(i), Job: job, Stack: stack, Version: r.version, Service: ServiceName(stack, job),
		Image: "registry.example.com/todo/app:" + r.version, Mode: "replicated-job", Outcome: r.outcome,
		Reason: "attempt 1 ended", MaxRuns: 3, Started: started, Ended: started.Add(4 * time.Second), LogSource: "engine",
		Attempts: []Attempt{{
			Number: 1, TaskID: fmt.Sprintf("task%021d", i), NodeID: "node1xxxxxxxxxxxxxxxxxxxx", ContainerID: fmt.Sprintf("%064x", i),
			State: swarm.TaskStateComplete, ExitCode: &code, Created: started, Updated: started.Add(4 * time.Second),
		}},
	}
}

// testRunID is run i's ID: sortable by time, as newRunID makes them.
func testRunID(i int) string {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	return fmt.Sprintf("%s-%06x", t.Format("20060102T150405Z"), i)
}

// seed saves the runs of a job, oldest first, as finish does; the first is
// run number first.
func seed(t testing.TB, store ConfigAPI, stack, job string, first int, runs []testRun) {
	t.Helper()
	for i, r := range runs {
		var out []AttemptOutput
		if r.output {
			out = []AttemptOutput{{Number: 1, Output: []byte("Applying todo.0001_initial...\n")}}
		}
		if err := (Records{Engine: store}).Save(context.Background(), testRecord(stack, job, first+i, r), out); err != nil {
			t.Fatal(err)
		}
	}
}

// runs is n runs of one version each, every fourth failing.
func runs(n int) []testRun {
	out := make([]testRun, n)
	for i := range out {
		out[i] = testRun{version: fmt.Sprintf("v%d", i), outcome: Succeeded}
		if i%4 == 3 {
			out[i].outcome = Failed
		}
	}
	return out
}

func runIDs(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.RunID)
	}
	return out
}

func TestRecordQueriesFilterByLabel(t *testing.T) {
	base := []string{"io.jobrun.kind=record", "io.jobrun.stack=todo"}
	tests := []struct {
		name  string
		query func(Records) error
		want  []string // beside base
	}{
		{"succeeded", func(r Records) error {
			_, _, err := r.Succeeded(context.Background(), "todo", "migrate", "v7")
			return err
		}, []string{"io.jobrun.job=migrate", "io.jobrun.outcome=succeeded", "io.jobrun.version=v7"}},
		{"find one job", func(r Records) error {
			_, err := r.Find(context.Background(), RecordFilter{Stack: "todo", Job: "migrate"}, 20)
			return err
		}, []string{"io.jobrun.job=migrate"}},
		{"find a run", func(r Records) error {
			_, err := r.Find(context.Background(), RecordFilter{Stack: "todo", Job: "migrate", RunID: testRunID(3)}, 1)
			return err
		}, []string{"io.jobrun.job=migrate", "io.jobrun.run-id=" + testRunID(3)}},
		{"every job", func(r Records) error {
			_, err := r.Find(context.Background(), RecordFilter{Stack: "todo"}, 0)
			return err
		}, nil},
		{"prune", func(r Records) error {
			_, err := r.Prune(context.Background(), "todo", "migrate", 2)
			return err
		}, []string{"io.jobrun.job=migrate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &configStore{}
			seed(t, store, "todo", "migrate", 0, runs(8))
			store.lists = nil
			if err := tt.query(Records{Engine: store}); err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(append(slices.Clone(base), tt.want...)))
			if len(store.lists) != 1 || !slices.Equal(store.lists[0], want) {
				t.Errorf("listed with label filters %q, want one listing with %q", store.lists, want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	store := &configStore{}
	seed(t, store, "todo", "migrate", 0, runs(30))
	seed(t, store, "todo", "seed", 30, runs(3))
	// Someone else's config with jobrun's labels, named to sort newest.
	_, _ = store.ConfigCreate(context.Background(), client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: "jobrun-99999999T000000Z-zzzzzz-record", Labels: map[string]string{
			LabelKind: kindRecord, LabelStack: "todo", LabelJob: "migrate"}},
		Data: []byte("not a record"),
	}})
	ids := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, testRunID(i))
		}
		return out
	}
	tests := []struct {
		name   string
		filter RecordFilter
		limit  int
		want   []string
	}{
		{"the newest 5, oldest first", RecordFilter{Stack: "todo", Job: "migrate"}, 5, ids(25, 30)},
		{"every run", RecordFilter{Stack: "todo", Job: "migrate"}, 0, ids(0, 30)},
		{"more than there are", RecordFilter{Stack: "todo", Job: "seed"}, 10, ids(30, 33)},
		{"failures of one job", RecordFilter{Stack: "todo", Job: "migrate", Outcome: Failed}, 2, []string{testRunID(23), testRunID(27)}},
		{"one run", RecordFilter{Stack: "todo", Job: "migrate", RunID: testRunID(4)}, 1, ids(4, 5)},
		{"another stack", RecordFilter{Stack: "other"}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := Records{Engine: store}.Find(context.Background(), tt.filter, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := runIDs(recs); !slices.Equal(got, tt.want) {
				t.Errorf("got runs %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSucceeded(t *testing.T) {
	history := []testRun{
		{version: "v1", outcome: Succeeded},
		{version: "v2", outcome: Failed},
		{version: "v1", outcome: Succeeded}, // --force
		{version: "v1", outcome: Failed},    // --force again
		{version: "v3", outcome: Interrupted},
	}
	tests := []struct {
		version string
		want    string // run ID, "" for none
	}{
		{"v1", testRunID(2)},
		{"v2", ""},
		{"v3", ""},
		{"v4", ""},
		{"", ""},
	}
	store := &configStore{}
	seed(t, store, "todo", "migrate", 0, history)
	for _, tt := range tests {
		t.Run("version="+tt.version, func(t *testing.T) {
			rec, ok, err := Records{Engine: store}.Succeeded(context.Background(), "todo", "migrate", tt.version)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.want != "") || rec.RunID != tt.want {
				t.Errorf("Succeeded = %q, %v; want %q", rec.RunID, ok, tt.want)
			}
		})
	}
}

// TestQueriesDecodeOnlyWhatTheyReturn counts the allocations a query makes
// beyond the engine's listing, a stand-in for records decoded (some 25
// allocations each): the newest 20 of 10,000 cost what the newest 20 of 100 do.
func TestQueriesDecodeOnlyWhatTheyReturn(t *testing.T) {
	ctx := context.Background()
	migrate := RecordFilter{Stack: "todo", Job: "migrate"}
	queries := map[string]func(Records){
		"history of 20": func(r Records) { _, _ = r.Find(ctx, migrate, 20) },
		"newest run":    func(r Records) { _, _ = r.Find(ctx, migrate, 1) },
	}
	beyond := map[string][]float64{}
	for _, n := range []int{100, 10000} {
		store := &configStore{}
		seed(t, store, "todo", "migrate", 0, runs(n))
		listing := testing.AllocsPerRun(5, func() { _, _ = store.ConfigList(ctx, client.ConfigListOptions{Filters: migrate.args()}) })
		for name, q := range queries {
			beyond[name] = append(beyond[name], testing.AllocsPerRun(5, func() { q(Records{Engine: store}) })-listing)
		}
	}
	for name, a := range beyond {
		if a[1] > a[0]+10 {
			t.Errorf("%s: %.0f allocations beyond the listing with 10,000 records, %.0f with 100: it decodes what it does not return", name, a[1], a[0])
		}
	}
}

// answered is a ConfigAPI that answers each listing with a copy of what
// the store answered the first time. The engine filters on the manager: what
// a benchmark counts is what jobrun does with what it is sent.
type answered struct {
	ConfigAPI
	cache map[string][]swarm.Config
}

func (a answered) ConfigList(ctx context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	key, err := json.Marshal(o.Filters) // maps marshal with sorted keys
	if err != nil {
		return client.ConfigListResult{}, err
	}
	cfgs, ok := a.cache[string(key)]
	if !ok {
		listed, err := a.ConfigAPI.ConfigList(ctx, o)
		if err != nil {
			return client.ConfigListResult{}, err
		}
		cfgs = listed.Items
		a.cache[string(key)] = cfgs
	}
	return client.ConfigListResult{Items: slices.Clone(cfgs)}, nil
}

// BenchmarkRecords is the already-succeeded check and `jobrun history` over
// a job's records, as jobrun handles what the engine sends (receiving it is
// not counted: records_test.go measures that). "before" is what the commands
// did until now: history decoded every record, and the check scanned them all
// for the version (one not yet run: the usual case, and the worst).
func BenchmarkRecords(b *testing.B) {
	ctx := context.Background()
	migrate := RecordFilter{Stack: "todo", Job: "migrate"}
	cases := []struct {
		name string
		run  func(Records) error
	}{
		{"history/before=all", func(r Records) error { _, err := r.Find(ctx, migrate, 0); return err }},
		{"history/after=newest20", func(r Records) error { _, err := r.Find(ctx, migrate, 20); return err }},
		{"succeeded/before=scan", func(r Records) error {
			recs, err := r.Find(ctx, migrate, 0)
			for _, rec := range recs {
				if rec.Version == "new" && rec.Outcome == Succeeded {
					break
				}
			}
			return err
		}},
		{"succeeded/after=filter", func(r Records) error { _, _, err := r.Succeeded(ctx, "todo", "migrate", "new"); return err }},
	}
	for _, n := range []int{10, 1000, 10000} {
		store := &configStore{}
		seed(b, store, "todo", "migrate", 0, runs(n))
		engine := answered{ConfigAPI: store, cache: map[string][]swarm.Config{}}
		for _, c := range cases {
			b.Run(fmt.Sprintf("%s/records=%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := c.run(Records{Engine: engine}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestRecordKeepsTheWriteOrder: the hints an attempt's CloudWatch read
// learned come back with its record, for jobrun logs.
func TestRecordKeepsTheWriteOrder(t *testing.T) {
	store := &configStore{}
	rec := testRecord("todo", "migrate", 0, testRun{version: "v1", outcome: Failed})
	rec.Attempts[0].Order = []logs.Hint{{Stream: 1, Line: "Traceback (most recent call last):\n", Before: "  Applying todo.0003_todoitem_slug..."}}
	if err := (Records{Engine: store}).Save(context.Background(), rec, nil); err != nil {
		t.Fatal(err)
	}
	found, err := Records{Engine: store}.Find(context.Background(), RecordFilter{RunID: rec.RunID}, 1)
	if err != nil || len(found) != 1 {
		t.Fatalf("found %v (%v)", found, err)
	}
	if got := found[0].Attempts[0].Order; !reflect.DeepEqual(got, rec.Attempts[0].Order) {
		t.Errorf("order read back %+v, want %+v", got, rec.Attempts[0].Order)
	}
}
