// Package clocktest is a fake clock for tests of code that takes its clock
// as Now and After (jobs.Runner, jobs.Waiter, logs.Engine, logs.CloudWatch,
// retry.Clock). Time moves only when the test says so, so a test needs no
// sleep and asserts what the code asked to wait, not how long it took.
//
// A test starts the code under test, waits until it is blocked on the clock
// (BlockUntil), then moves time (Advance, AdvanceToNext) and checks what
// happened. Code whose waits are all that happens can have its clock moved
// on for it (AutoAdvance); code of several goroutines, in a synctest bubble,
// once they are all blocked (AdvanceWhenIdle).
package clocktest

import (
	"context"
	"slices"
	"sync"
	"testing/synctest"
	"time"
)

// Clock is a fake clock, safe for concurrent use. Its zero value is not
// usable: make one with New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	pending []waiter        // asked, not fired yet, soonest first
	asked   []time.Duration // every wait asked of After, in order
	// changed is closed, and replaced, whenever pending or asked change:
	// BlockUntil waits on it instead of polling.
	changed chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// New is a clock that reads start until the test moves it.
func New(start time.Time) *Clock {
	return &Clock{now: start, changed: make(chan struct{})}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After delivers the clock's time once it has moved d on, as time.After. A
// wait of 0 or less has fired already. The channel has room for its one
// value, so a wait nobody reads any more (After has no Stop) stays pending
// until time passes it, and then fires into the void, as time.After's does.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, d)
	w := waiter{at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		w.ch <- c.now
	} else {
		i, _ := slices.BinarySearchFunc(c.pending, w.at, func(p waiter, at time.Time) int {
			if p.at.After(at) {
				return 1
			}
			return -1 // after every wait due at the same time: they fire in the order asked
		})
		c.pending = slices.Insert(c.pending, i, w)
	}
	c.signal()
	return w.ch
}

// Advance moves the clock d on and fires every wait that is then due, the
// soonest first.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	n := 0
	for n < len(c.pending) && !c.pending[n].at.After(c.now) {
		c.pending[n].ch <- c.now
		n++
	}
	if n > 0 {
		c.pending = slices.Delete(c.pending, 0, n)
		c.signal()
	}
}

// AdvanceToNext moves the clock to the soonest pending wait and fires it
// (with any due at the same time); it returns how far the clock moved, 0 if
// nothing waits.
func (c *Clock) AdvanceToNext() time.Duration {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return 0
	}
	d := c.pending[0].at.Sub(c.now)
	c.mu.Unlock()
	c.Advance(d) // a wait asked meanwhile that falls due sooner fires too, as it would in real time
	return d
}

// AutoAdvance moves the clock on to each wait as soon as one is pending,
// until ctx ends: for code whose own waits are all that happens (a retry
// loop), so that its waits pass at once and Asked lists them. Code with
// other goroutines may see time pass while they work: drive it step by step.
func (c *Clock) AutoAdvance(ctx context.Context) {
	go func() {
		for c.BlockUntil(ctx, 1) == nil {
			c.AdvanceToNext()
		}
	}()
}

// AdvanceWhenIdle moves the clock to its soonest pending wait each time
// every other goroutine of the test's synctest bubble is durably blocked,
// until ctx ends; call it on a goroutine of the bubble (synctest.Test), and
// end ctx before the bubble's test returns. For code of several goroutines:
// a wait fires only once every reaction to the one before has run (a
// follower seen ending, a cancel made), so the run is the same every time.
func (c *Clock) AdvanceWhenIdle(ctx context.Context) {
	for ctx.Err() == nil {
		synctest.Wait()
		if c.AdvanceToNext() == 0 {
			_ = c.BlockUntil(ctx, 1) // nothing to fire: wait for a wait
		}
	}
}

// Next is when the soonest pending wait falls due; false if none pends.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return time.Time{}, false
	}
	return c.pending[0].at, true
}

// Pending is how many waits are asked and not fired yet.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// Asked is every wait asked of After so far, in order, fired or not.
func (c *Clock) Asked() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

// BlockUntil returns once at least n waits are pending: the code under test
// has reached its n-th wait on the clock. It returns ctx's error if ctx ends
// first (a test's own deadline, t.Context()).
func (c *Clock) BlockUntil(ctx context.Context, n int) error {
	return c.await(ctx, func() bool { return len(c.pending) >= n })
}

// BlockUntilAsked returns once After has been asked for at least n waits in
// all, fired or not, and returns them in order. Unlike BlockUntil it counts
// waits the code has stopped reading, and those of 0, which never pend.
func (c *Clock) BlockUntilAsked(ctx context.Context, n int) ([]time.Duration, error) {
	err := c.await(ctx, func() bool { return len(c.asked) >= n })
	return c.Asked(), err
}

// await waits until cond, read under the lock, holds.
func (c *Clock) await(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ok, changed := cond(), c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// signal wakes every BlockUntil; c.mu is held.
func (c *Clock) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}
