package jobs

import (
	"time"

	"jobrun/retry"
)

// outage follows whether the engine answers, so that a wait on a fault is
// said once when it starts, with the engine's own reason, and once when it
// ends, with how long it lasted: never a line per retry.
type outage struct {
	now    func() time.Time
	onDown func(reason string)
	onBack func(after time.Duration)
	since  time.Time // zero while the engine answers
}

// observe takes the outcome of one engine call made at start: an engine
// that does not answer may take long to say so (a manager without a leader
// gives up on a request after 20 s), and it was out from that call on.
func (o *outage) observe(start time.Time, err error) {
	switch {
	case o == nil:
	case err == nil && !o.since.IsZero():
		if o.onBack != nil {
			o.onBack(o.now().Sub(o.since).Round(time.Second))
		}
		o.since = time.Time{}
	case retry.Transient(err) && o.since.IsZero():
		o.since = start
		if o.onDown != nil {
			o.onDown(OneLine(err))
		}
	}
}
