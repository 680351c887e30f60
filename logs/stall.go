package logs

import (
	"fmt"
	"sync"
	"time"
)

// StallAfter is how long a call to CloudWatch may go without success
// before the user is told what jobrun waits for.
const StallAfter = 5 * time.Second

// StallWatch tells say, once, when an operation has not succeeded
// StallAfter after it began, with its last error: one SDK call may itself
// take that long (it retries inside), so a timer decides, not the failures.
type StallWatch struct {
	mu   sync.Mutex
	last error
	done chan struct{}
}

// WatchStall starts watching an operation; after is the clock's. With a
// nil after it never tells.
func WatchStall(after func(time.Duration) <-chan time.Time, say func(error)) *StallWatch {
	w := &StallWatch{done: make(chan struct{})}
	if after == nil {
		return w
	}
	timer := after(StallAfter)
	go func() {
		select {
		case <-w.done:
		case <-timer:
			select {
			case <-w.done: // both ready: it succeeded in time
				return
			default:
			}
			w.mu.Lock()
			err := w.last
			w.mu.Unlock()
			if err == nil {
				err = fmt.Errorf("no answer within %s", StallAfter)
			}
			say(err)
		}
	}()
	return w
}

// Failed notes a failed try; its signature is retry.DoNotify's notify.
func (w *StallWatch) Failed(err error, _ time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = err
}

// Stop ends the watch: the operation is over.
func (w *StallWatch) Stop() { close(w.done) }
