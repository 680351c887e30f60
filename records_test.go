package main

// Run records at scale, against the real engine: thousands of records as
// the engine holds them, what the queries cost as they grow (counted on the
// wire and in allocations, never timed), and a prune of them all.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// scaleRuns is how many runs TestRecordsAtScale seeds, two configs each: on
// the private engine (2 CPUs, other tests running) 7 to 12 s to create and 8
// to 16 s for two prunes at once, 17 to 30 s in all.
const scaleRuns = 2500

// countingTransport counts the bytes of the engine's answers.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// received is how many bytes the engine sent while f ran.
func (c *countingTransport) received(f func()) int64 {
	before := c.n.Load()
	f()
	return c.n.Load() - before
}

// countingEngine is a client of the test engine whose answers are counted.
func countingEngine(t *testing.T) (*client.Client, *countingTransport) {
	t.Helper()
	base, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	dial := base.Dialer()
	wire := &countingTransport{base: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}}
	engine, err := client.New(client.FromEnv, client.WithHTTPClient(&http.Client{Transport: wire}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close(); base.Close() })
	return engine, wire
}

// scaleRun is run i of scaleRuns: one version every four runs, whose last
// succeeds; run 0 is the only run of v-old, and v-anchor succeeded at run
// 1 and failed, forced, among the newest runs.
func scaleRun(stack string, i int) jobs.Record {
	version, outcome := fmt.Sprintf("v%d", i/4), jobs.Failed
	if i%4 == 3 {
		outcome = jobs.Succeeded
	}
	switch i {
	case 0:
		version, outcome = "v-old", jobs.Succeeded
	case 1:
		version, outcome = "v-anchor", jobs.Succeeded
	case scaleRuns - 3:
		version, outcome = "v-anchor", jobs.Failed
	}
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	code := 0
	return jobs.Record{
		RunID: fmt.Sprintf("%s-%06x", started.Format("20060102T150405Z"), i), Job: "migrate", Stack: stack, Version: version,
		Image: testImage(), Service: "jobrun_" + stack + "_migrate", Mode: "replicated-job", Outcome: outcome,
		Reason: "attempt 1 ended", MaxRuns: 3, Started: started, Ended: started.Add(4 * time.Second), LogSource: "engine",
		Attempts: []jobs.Attempt{{
			Number: 1, TaskID: fmt.Sprintf("%025d", i), NodeID: "node1xxxxxxxxxxxxxxxxxxxx", ContainerID: fmt.Sprintf("%064x", i),
			State: swarm.TaskStateComplete, ExitCode: &code, Created: started, Updated: started.Add(4 * time.Second),
		}},
	}
}

// seedRuns saves runs from to to-1 as finish would, record and output, a
// few at a time.
func seedRuns(t *testing.T, records jobs.Records, stack string, from, to int) {
	t.Helper()
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, to-from)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				out := []jobs.AttemptOutput{{Number: 1, Output: fmt.Appendf(nil, "Applying todo.%04d... OK\n", i)}}
				if err := records.Save(context.Background(), scaleRun(stack, i), out); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := from; i < to; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("seed runs: %d failed, the first: %v", len(errs), <-errs)
	}
}

func TestRecordsAtScale(t *testing.T) {
	s := newSerialStack(t) // thousands of raft writes: not beside the timing-sensitive tests
	ctx := context.Background()
	engine, wire := countingEngine(t)
	records := jobs.Records{Engine: engine}
	migrate := jobs.RecordFilter{Stack: s.name, Job: "migrate"}

	// cost measures, at the records seeded so far, the bytes the engine
	// sends for the already-succeeded check and for a history of 20, and the
	// allocations the history makes beyond the listing itself: decoding.
	type cost struct {
		succeeded, history int64
		decoding           float64
	}
	measure := func() cost {
		var c cost
		c.succeeded = wire.received(func() {
			if rec, ok, err := records.Succeeded(ctx, s.name, "migrate", "v10"); err != nil || !ok || rec.RunID != scaleRun(s.name, 43).RunID {
				t.Fatalf("Succeeded(v10) = %s, %v, %v; want run 43", rec.RunID, ok, err)
			}
		})
		c.history = wire.received(func() {
			if recs, err := records.Find(ctx, migrate, 20); err != nil || len(recs) != 20 {
				t.Fatalf("Find(20) = %d records, %v", len(recs), err)
			}
		})
		list := make(client.Filters).Add("label", "io.jobrun.kind=record").Add("label", jobs.LabelStack+"="+s.name).Add("label", jobs.LabelJob+"=migrate")
		listing := testing.AllocsPerRun(2, func() { _, _ = engine.ConfigList(ctx, client.ConfigListOptions{Filters: list}) })
		history := testing.AllocsPerRun(2, func() { _, _ = records.Find(ctx, migrate, 20) })
		c.decoding = history - listing
		return c
	}

	start := time.Now()
	seedRuns(t, records, s.name, 0, 100)
	small := measure()
	seedRuns(t, records, s.name, 100, scaleRuns)
	t.Logf("seeded %d runs (%d configs) in %v", scaleRuns, 2*scaleRuns, time.Since(start).Round(time.Millisecond))
	large := measure()
	t.Logf("100 runs: Succeeded %d bytes, history of 20 %d bytes and %.0f allocations decoding", small.succeeded, small.history, small.decoding)
	t.Logf("%d runs: Succeeded %d bytes, history of 20 %d bytes and %.0f allocations decoding", scaleRuns, large.succeeded, large.history, large.decoding)

	// The engine filters by label: the check gets one record however many.
	if d := large.succeeded - small.succeeded; d < -64 || d > 64 {
		t.Errorf("the already-succeeded check got %d bytes at 100 runs, %d at %d: it grows with the runs", small.succeeded, large.succeeded, scaleRuns)
	}
	// Swarm cannot limit a listing: a history gets every record of the job
	// until a prune. It decodes only the 20 it shows (decoding one takes
	// some 25 allocations).
	if large.decoding > float64(scaleRuns)/2 {
		t.Errorf("a history of 20 made %.0f allocations beyond the listing at %d runs (%.0f at 100): it decodes what it does not show", large.decoding, scaleRuns, small.decoding)
	}

	// Two jobruns prune at once: each config goes once, neither fails.
	start = time.Now()
	var results [2]jobs.PruneResult
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			var err error
			if results[i], err = records.Prune(ctx, s.name, "migrate", jobs.DefaultKeep); err != nil {
				t.Errorf("prune %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	t.Logf("two prunes at once took %v: %+v, %+v", time.Since(start).Round(time.Millisecond), results[0], results[1])
	a, b := results[0], results[1]
	kept := jobs.DefaultKeep + 1 // and v-anchor's success
	if a.RemovedRecords+b.RemovedRecords != scaleRuns-kept || a.RemovedOutputs+b.RemovedOutputs != scaleRuns-jobs.DefaultKeep {
		t.Errorf("removed %d records and %d outputs between them, want %d and %d",
			a.RemovedRecords+b.RemovedRecords, a.RemovedOutputs+b.RemovedOutputs, scaleRuns-kept, scaleRuns-jobs.DefaultKeep)
	}
	if a.Failed+b.Failed != 0 || a.Kept != kept || b.Kept != kept {
		t.Errorf("results %+v, %+v: want no failure, %d kept", a, b, kept)
	}

	// What is left: the newest 50 runs whole, and v-anchor's success, its
	// record alone.
	var want []string
	for i := scaleRuns - jobs.DefaultKeep; i < scaleRuns; i++ {
		id := scaleRun(s.name, i).RunID
		want = append(want, "jobrun-"+id+"-output", "jobrun-"+id+"-record")
	}
	want = append(want, "jobrun-"+scaleRun(s.name, 1).RunID+"-record")
	list, err := engine.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", jobs.LabelStack+"="+s.name)})
	cfgs := list.Items
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cfgs {
		got = append(got, c.Spec.Name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("left %d configs, want %d: the newest %d runs and v-anchor's record", len(got), len(want), jobs.DefaultKeep)
	}

	for _, c := range []struct {
		version string
		run     int // -1: none
	}{{"v-anchor", 1}, {"v-old", -1}, {fmt.Sprintf("v%d", (scaleRuns-5)/4), (scaleRuns-5)/4*4 + 3}} {
		rec, ok, err := records.Succeeded(ctx, s.name, "migrate", c.version)
		if err != nil || ok != (c.run >= 0) || (ok && rec.RunID != scaleRun(s.name, c.run).RunID) {
			t.Errorf("after the prune, Succeeded(%s) = %s, %v, %v; want run %d", c.version, rec.RunID, ok, err, c.run)
		}
	}
	var history []jobs.Record
	after := wire.received(func() { history, err = records.Find(ctx, migrate, 20) })
	var newest []string
	for i := scaleRuns - 20; i < scaleRuns; i++ {
		newest = append(newest, scaleRun(s.name, i).RunID)
	}
	if err != nil || !slices.EqualFunc(history, newest, func(r jobs.Record, id string) bool { return r.RunID == id }) {
		t.Errorf("history after the prune = %d runs, %v; want the newest 20 runs, %s to %s", len(history), err, newest[0], newest[19])
	}
	// Pruned, a history costs what it did at 100 runs, or less.
	t.Logf("after the prune: history of 20 %d bytes", after)
	if after > small.history {
		t.Errorf("history of 20 after the prune got %d bytes, %d at 100 runs", after, small.history)
	}
}

// TestRecordsKeepRunsAndPrune: every run prunes its job's records to
// --keep-runs; jobrun prune bounds them at once.
func TestRecordsKeepRunsAndPrune(t *testing.T) {
	s := newStack(t)
	f := s.writeStack("stack.yml", countingJobs)
	for _, v := range []string{"v1", "v2", "v3"} {
		if r := s.jobrun(nil, "-c", f, "collectstatic", "--version", v, "--keep-runs", "2"); r.code != 0 {
			t.Fatalf("%s: exit %d", v, r.code)
		}
	}
	versions := func() string {
		h := s.jobrunQuiet(nil, "history", "collectstatic", "-o", "json")
		var doc struct{ Runs []jobs.Record }
		if err := json.Unmarshal([]byte(h.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, r := range doc.Runs {
			vs = append(vs, r.Version)
		}
		return strings.Join(vs, ",")
	}
	if got := versions(); got != "v2,v3" {
		t.Errorf("after three runs with --keep-runs 2: runs %q, want v2,v3", got)
	}
	p := s.jobrun(nil, "prune", "--keep-runs", "1")
	if p.code != 0 || !strings.Contains(p.stderr, "every job of stack "+s.name+": 2 runs, 1 kept; removed 1 records") {
		t.Errorf("prune: exit %d, stderr %q", p.code, p.stderr)
	}
	if got := versions(); got != "v3" {
		t.Errorf("after jobrun prune --keep-runs 1: runs %q, want v3", got)
	}
}
