package clocktest

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

var start = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// fired says which of chs have delivered, and checks each delivered when.
func fired(t *testing.T, want time.Time, chs ...<-chan time.Time) []bool {
	t.Helper()
	got := make([]bool, len(chs))
	for i, ch := range chs {
		select {
		case at := <-ch:
			got[i] = true
			if !at.Equal(want) {
				t.Errorf("wait %d delivered %s, want the clock's time %s", i, at, want)
			}
		default:
		}
	}
	return got
}

func TestAdvanceFiresWhatIsDue(t *testing.T) {
	c := New(start)
	a, b, z := c.After(2*time.Second), c.After(time.Second), c.After(0)
	if got := fired(t, start, a, b, z); !slices.Equal(got, []bool{false, false, true}) {
		t.Errorf("at the start fired %v, want only the wait of 0", got)
	}
	c.Advance(time.Second - time.Nanosecond)
	if got := fired(t, start, a, b); slices.Contains(got, true) {
		t.Errorf("before any wait was due fired %v", got)
	}
	c.Advance(time.Nanosecond)
	if got := fired(t, start.Add(time.Second), a, b); !slices.Equal(got, []bool{false, true}) {
		t.Errorf("after 1s fired %v, want the 1s wait", got)
	}
	if c.Pending() != 1 {
		t.Errorf("pending %d, want 1", c.Pending())
	}
	c.Advance(5 * time.Second)
	if got := fired(t, start.Add(6*time.Second), a); !got[0] {
		t.Error("a wait passed by a long Advance did not fire")
	}
	if !c.Now().Equal(start.Add(6 * time.Second)) {
		t.Errorf("Now = %s, want 6s after the start", c.Now())
	}
	if got, want := c.Asked(), []time.Duration{2 * time.Second, time.Second, 0}; !slices.Equal(got, want) {
		t.Errorf("Asked = %v, want %v", got, want)
	}
}

func TestAdvanceToNext(t *testing.T) {
	c := New(start)
	if d := c.AdvanceToNext(); d != 0 || !c.Now().Equal(start) {
		t.Errorf("with nothing pending AdvanceToNext moved %s", d)
	}
	if _, ok := c.Next(); ok {
		t.Error("Next with nothing pending says something is")
	}
	late, soon, same := c.After(3*time.Second), c.After(time.Second), c.After(time.Second)
	if next, ok := c.Next(); !ok || !next.Equal(start.Add(time.Second)) {
		t.Errorf("Next = %s, %t; want 1s after the start", next, ok)
	}
	if d := c.AdvanceToNext(); d != time.Second {
		t.Errorf("AdvanceToNext moved %s, want 1s", d)
	}
	if got := fired(t, start.Add(time.Second), late, soon, same); !slices.Equal(got, []bool{false, true, true}) {
		t.Errorf("fired %v, want both waits due at 1s", got)
	}
	if d := c.AdvanceToNext(); d != 2*time.Second || !fired(t, start.Add(3*time.Second), late)[0] {
		t.Errorf("AdvanceToNext moved %s, want 2s to fire the 3s wait", d)
	}
}

// TestBlockUntil: a goroutine's waits are seen without sleeping, and a
// BlockUntil that cannot be met ends with its context.
func TestBlockUntil(t *testing.T) {
	c := New(start)
	done := make(chan time.Time)
	go func() {
		<-c.After(time.Second)
		<-c.After(time.Minute)
		done <- c.Now()
	}()
	if err := c.BlockUntil(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	asked, err := c.BlockUntilAsked(t.Context(), 2)
	if err != nil || !slices.Equal(asked, []time.Duration{time.Second, time.Minute}) {
		t.Fatalf("BlockUntilAsked = %v, %v; want [1s 1m]", asked, err)
	}
	c.Advance(time.Minute)
	if at := <-done; !at.Equal(start.Add(time.Minute + time.Second)) {
		t.Errorf("the goroutine ended at %s", at)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.BlockUntil(ctx, 1); err != context.Canceled {
		t.Errorf("BlockUntil with nothing pending and an ended context = %v, want context.Canceled", err)
	}
}

func TestAutoAdvance(t *testing.T) {
	c := New(start)
	c.AutoAdvance(t.Context())
	for _, d := range []time.Duration{time.Second, time.Hour, time.Millisecond} {
		<-c.After(d)
	}
	if got, want := c.Now(), start.Add(time.Hour+time.Second+time.Millisecond); !got.Equal(want) {
		t.Errorf("Now = %s, want %s: the clock moved by each wait", got, want)
	}
}

// TestAdvanceWhenIdle: a wait fires only once what the one before set off
// has run, however long that takes on another goroutine.
func TestAdvanceWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(start)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go c.AdvanceWhenIdle(ctx)
		var seen []time.Duration
		reacted := make(chan time.Duration)
		go func() {
			for d := range reacted {
				seen = append(seen, d) // a reaction on another goroutine
			}
		}()
		for _, d := range []time.Duration{time.Second, time.Minute} {
			<-c.After(d)
			reacted <- d
		}
		close(reacted)
		<-c.After(time.Hour) // fires once the reactions above have run
		if !slices.Equal(seen, []time.Duration{time.Second, time.Minute}) {
			t.Errorf("reactions seen %v before the last wait fired", seen)
		}
		if got, want := c.Now(), start.Add(time.Hour+time.Minute+time.Second); !got.Equal(want) {
			t.Errorf("Now = %s, want %s", got, want)
		}
	})
}
