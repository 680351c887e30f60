package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// left says what is left of runs 0 to n-1: "3" is run 3's record and
// output, "3r" its record alone, "3o" its output alone.
func left(store *configStore, n int) []string {
	names := store.names()
	var out []string
	for i := range n {
		rec, output := slices.Contains(names, recordName(testRunID(i))), slices.Contains(names, outputName(testRunID(i)))
		switch {
		case rec && output:
			out = append(out, fmt.Sprint(i))
		case rec:
			out = append(out, fmt.Sprintf("%dr", i))
		case output:
			out = append(out, fmt.Sprintf("%do", i))
		}
	}
	return out
}

func TestPrune(t *testing.T) {
	ok, fail := Succeeded, Failed
	run := func(version string, outcome Outcome) testRun {
		return testRun{version: version, outcome: outcome, output: true}
	}
	tests := []struct {
		name string
		runs []testRun // oldest first: run 0 is the oldest
		keep int
		want []string // what stays: "3" run 3's record and output, "3r" its record alone
		res  PruneResult
	}{
		{
			name: "the newest keep runs",
			runs: []testRun{run("v1", ok), run("v2", ok), run("v3", fail), run("v4", ok), run("v5", ok)},
			keep: 2, want: []string{"3", "4"},
			res: PruneResult{Runs: 5, Kept: 2, RemovedRecords: 3, RemovedOutputs: 3},
		},
		{
			name: "fewer runs than keep",
			runs: []testRun{run("v1", ok), run("v2", fail)},
			keep: 50, want: []string{"0", "1"},
			res: PruneResult{Runs: 2, Kept: 2},
		},
		{
			name: "the newest success of a version still run",
			// v1 succeeded, then was forced again and failed twice: its success
			// stays for the already-succeeded check, its older success goes.
			runs: []testRun{run("v1", ok), run("v1", ok), run("v2", ok), run("v1", fail), run("v1", fail)},
			keep: 2, want: []string{"1r", "3", "4"},
			res: PruneResult{Runs: 5, Kept: 3, RemovedRecords: 2, RemovedOutputs: 3},
		},
		{
			name: "a version no longer run keeps nothing",
			runs: []testRun{run("v1", ok), run("v2", fail), run("v3", ok), run("v3", fail)},
			keep: 2, want: []string{"2", "3"},
			res: PruneResult{Runs: 4, Kept: 2, RemovedRecords: 2, RemovedOutputs: 2},
		},
		{
			name: "failed output is kept, a success's goes first",
			// keep 2: v2 failed twice (both kept, output and all); v1's success
			// is kept for the check, without its output.
			runs: []testRun{run("v1", fail), run("v1", ok), run("v2", fail), run("v1", fail), run("v2", fail)},
			keep: 2, want: []string{"1r", "3", "4"},
			res: PruneResult{Runs: 5, Kept: 3, RemovedRecords: 2, RemovedOutputs: 3},
		},
		{
			name: "runs without output",
			runs: []testRun{{version: "v1", outcome: ok}, {version: "v2", outcome: fail}, {version: "v3", outcome: ok}},
			keep: 1, want: []string{"2r"},
			res: PruneResult{Runs: 3, Kept: 1, RemovedRecords: 2, Gone: 2},
		},
		{
			name: "keep one",
			runs: []testRun{run("v1", ok), run("v2", ok), run("v2", fail)},
			keep: 1, want: []string{"1r", "2"},
			res: PruneResult{Runs: 3, Kept: 2, RemovedRecords: 1, RemovedOutputs: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &configStore{}
			seed(t, store, "todo", "migrate", 0, tt.runs)
			res, err := Records{Engine: store}.Prune(context.Background(), "todo", "migrate", tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			if got := left(store, len(tt.runs)); !slices.Equal(got, tt.want) {
				t.Errorf("kept %q, want %q", got, tt.want)
			}
			if res != tt.res {
				t.Errorf("result %+v, want %+v", res, tt.res)
			}
			// What the already-succeeded check finds is what it found before,
			// for every version with a run kept.
			for _, r := range tt.runs[len(tt.runs)-min(tt.keep, len(tt.runs)):] {
				got, found, err := Records{Engine: store}.Succeeded(context.Background(), "todo", "migrate", r.version)
				var want string
				for i, s := range tt.runs {
					if s.version == r.version && s.outcome == Succeeded {
						want = testRunID(i)
					}
				}
				if err != nil || found != (want != "") || got.RunID != want {
					t.Errorf("after the prune, Succeeded(%s) = %q, %v, %v; want %q", r.version, got.RunID, found, err, want)
				}
			}
		})
	}
}

func TestPruneEveryJobOfTheStack(t *testing.T) {
	store := &configStore{}
	seed(t, store, "todo", "migrate", 0, runs(5))
	seed(t, store, "todo", "seed", 5, runs(5))
	seed(t, store, "other", "migrate", 10, runs(5))
	res, err := Records{Engine: store}.Prune(context.Background(), "todo", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"3r", "4r", "8r", "9r", "10r", "11r", "12r", "13r", "14r"}
	if got := left(store, 15); !slices.Equal(got, want) {
		t.Errorf("kept %q, want %q: two of each job of stack todo, all of stack other", got, want)
	}
	if res.Runs != 10 || res.Kept != 4 || res.RemovedRecords != 6 {
		t.Errorf("result %+v, want 10 runs, 4 kept, 6 removed", res)
	}
}

func TestPruneFaults(t *testing.T) {
	refused := errors.New("permission denied by the authorization plugin")
	tests := []struct {
		name    string
		remove  func(store *configStore) func(id string) error
		wantErr error // nil: none
		check   func(t *testing.T, res PruneResult, store *configStore)
	}{
		{
			name: "configs another prune removed",
			remove: func(store *configStore) func(string) error {
				var n int
				return func(id string) error {
					if n++; n%3 != 0 { // every third removal finds it gone
						return nil
					}
					if _, err := store.Configs.ConfigRemove(context.Background(), id, client.ConfigRemoveOptions{}); err == nil {
						return cerrdefs.ErrNotFound.WithMessage(fmt.Sprintf("config %s not found", id))
					}
					return nil
				}
			},
			check: func(t *testing.T, res PruneResult, store *configStore) {
				if res.Gone == 0 || res.RemovedRecords+res.RemovedOutputs+res.Gone != 2*195 || res.Failed != 0 {
					t.Errorf("result %+v: want every removal done once, some found gone", res)
				}
				if n := len(store.names()); n != 2*5 {
					t.Errorf("%d configs left, want the 5 runs kept", n)
				}
			},
		},
		{
			name: "the engine refuses",
			remove: func(*configStore) func(string) error {
				return func(string) error { return refused }
			},
			wantErr: refused,
			check: func(t *testing.T, res PruneResult, store *configStore) {
				// The feeder may have handed out one more before it saw the refusal.
				if res.Failed == 0 || res.Failed > pruneWorkers+1 || store.removes != 0 {
					t.Errorf("result %+v after %d removals: want it to stop at the first refusal, with at most %d in flight", res, store.removes, pruneWorkers)
				}
				if n := len(store.names()); n != 2*200 {
					t.Errorf("%d configs left, want all 400", n)
				}
			},
		},
		{
			name: "an output the engine refuses to remove keeps its record",
			remove: func(*configStore) func(string) error {
				return func(id string) error {
					if id == outputName(testRunID(0)) {
						return refused
					}
					return nil
				}
			},
			wantErr: refused,
			check: func(t *testing.T, res PruneResult, store *configStore) {
				if !slices.Contains(store.names(), recordName(testRunID(0))) {
					t.Error("run 0's record went while its output stayed")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &configStore{}
			seed(t, store, "todo", "migrate", 0, withOutput(runs(200)))
			store.remove = tt.remove(store)
			res, err := Records{Engine: store}.Prune(context.Background(), "todo", "migrate", 5)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			tt.check(t, res, store)
		})
	}
}

func withOutput(runs []testRun) []testRun {
	for i := range runs {
		runs[i].output = true
	}
	return runs
}

// TestPruneTenThousand is the first prune of a swarm that kept every run:
// all goes, a few removals at a time. (Runs without output: packing output
// is what would take the time here.)
func TestPruneTenThousand(t *testing.T) {
	store := &configStore{}
	seed(t, store, "todo", "migrate", 0, runs(10000))
	res, err := Records{Engine: store}.Prune(context.Background(), "todo", "migrate", DefaultKeep)
	if err != nil {
		t.Fatal(err)
	}
	want := PruneResult{Runs: 10000, Kept: DefaultKeep, RemovedRecords: 10000 - DefaultKeep, Gone: 10000 - DefaultKeep}
	if res != want {
		t.Errorf("result %+v, want %+v", res, want)
	}
	if store.maxIn > pruneWorkers || store.maxIn < 2 {
		t.Errorf("%d removals in flight at most, want 2 to %d", store.maxIn, pruneWorkers)
	}
}

// TestConcurrentPrunes: two jobruns prune the same job at once; each config
// goes once, and neither fails for what the other removed.
func TestConcurrentPrunes(t *testing.T) {
	store := &configStore{}
	seed(t, store, "todo", "migrate", 0, withOutput(runs(500)))
	var wg sync.WaitGroup
	results := make([]PruneResult, 2)
	for i := range results {
		wg.Go(func() {
			var err error
			if results[i], err = (Records{Engine: store}).Prune(context.Background(), "todo", "migrate", 10); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	a, b := results[0], results[1]
	if a.RemovedRecords+b.RemovedRecords != 490 || a.RemovedOutputs+b.RemovedOutputs != 490 {
		t.Errorf("results %+v and %+v: want 490 records and 490 outputs removed between them", a, b)
	}
	if n := len(store.names()); n != 20 {
		t.Errorf("%d configs left, want the 10 newest runs'", n)
	}
}

func TestPruneKeepsAtLeastOne(t *testing.T) {
	store := &configStore{}
	seed(t, store, "todo", "migrate", 0, runs(3))
	_, err := Records{Engine: store}.Prune(context.Background(), "todo", "migrate", 0)
	var usage *UsageError
	if !errors.As(err, &usage) || len(store.names()) != 3 || len(store.lists) != 0 {
		t.Errorf("Prune(keep 0) = %v, %d configs left, %d listings: want a usage error and nothing asked or removed", err, len(store.names()), len(store.lists))
	}
}

func TestPruneInterrupted(t *testing.T) {
	store := &configStore{}
	seed(t, store, "todo", "migrate", 0, withOutput(runs(300)))
	ctx, cancel := context.WithCancel(context.Background())
	store.remove = func(string) error {
		if store.removes == 100 {
			cancel()
		}
		return nil
	}
	res, err := Records{Engine: store}.Prune(ctx, "todo", "migrate", 5)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want it cancelled", err)
	}
	if res.Failed != 0 || res.RemovedRecords >= 295 {
		t.Errorf("result %+v: want it stopped, no removal counted as refused", res)
	}
	// Outputs go before records: no output is left without its record.
	names := store.names()
	for _, name := range names {
		if runID, ok := strings.CutSuffix(strings.TrimPrefix(name, "jobrun-"), "-output"); ok && !slices.Contains(names, recordName(runID)) {
			t.Errorf("output %s left without its record", name)
		}
	}
}
