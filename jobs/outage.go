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

// observe takes the outcome of one engine call.
func (o *outage) observe(err error) {
	switch {
	case o == nil:
	case err == nil && !o.since.IsZero():
		if o.onBack != nil {
			o.onBack(o.now().Sub(o.since).Round(time.Second))
		}
		o.since = time.Time{}
	case retry.Transient(err) && o.since.IsZero():
		o.since = o.now()
		if o.onDown != nil {
			o.onDown(oneLine(err))
		}
	}
}
