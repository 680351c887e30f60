package logs

import (
	"errors"
	"testing"
	"time"
)

// TestWatchStall: the user hears what a stalled call waits for once, with
// its last error, and nothing when the call succeeded in time.
func TestWatchStall(t *testing.T) {
	tests := []struct {
		name    string
		failure error // a failed try before the timer fires
		fire    bool  // the timer fires before the call ends
		want    string
	}{
		{"succeeded in time", nil, false, ""},
		{"failed, then succeeded in time", errors.New("connection refused"), false, ""},
		{"failing when the timer fires", errors.New("connection refused"), true, "connection refused"},
		{"no answer at all", nil, true, "no answer within 5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timer := make(chan time.Time, 1)
			var asked time.Duration
			said := make(chan string, 2)
			w := WatchStall(func(d time.Duration) <-chan time.Time { asked = d; return timer }, func(err error) { said <- err.Error() })
			if asked != StallAfter {
				t.Errorf("the watch waits %s, want %s", asked, StallAfter)
			}
			if tt.failure != nil {
				w.Failed(tt.failure, time.Second)
			}
			if tt.fire {
				timer <- time.Time{}
				if got := <-said; got != tt.want {
					t.Errorf("said %q, want %q", got, tt.want)
				}
			}
			w.Stop()
			timer <- time.Time{} // a late timer says nothing more
			select {
			case got := <-said:
				t.Errorf("said %q more", got)
			default:
			}
		})
	}
}
