// Package retry decides which errors are worth another try and how long to
// wait between tries.
package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/cenkalti/backoff/v4"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Transient reports whether err may go away by itself: the engine restarting,
// a dropped connection, a 5xx. Bad requests, missing objects and conflicts
// will not, and are returned at once.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch {
	case cerrdefs.IsInvalidArgument(err), cerrdefs.IsNotFound(err), cerrdefs.IsConflict(err),
		cerrdefs.IsUnauthorized(err), cerrdefs.IsPermissionDenied(err), cerrdefs.IsNotImplemented(err):
		return false
	case cerrdefs.IsUnavailable(err), cerrdefs.IsInternal(err), cerrdefs.IsDeadlineExceeded(err), cerrdefs.IsUnknown(err):
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if transientAWSCodes[apiErr.ErrorCode()] {
			return true
		}
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && (respErr.HTTPStatusCode() >= 500 || respErr.HTTPStatusCode() == 429) {
		return true
	}
	// No answer at all (the SDK gave up its own retries on a dropped
	// connection): status 0, and the cause further down the chain.
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		return true
	}
	var netErr net.Error
	if client.IsErrConnectionFailed(err) || errors.As(err, &netErr) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// transientAWSCodes are the AWS error codes that mean "not now": the
// CloudWatch Logs quota (10 GetLogEvents a second per account and region) is
// low, and throttling is normal under load.
var transientAWSCodes = map[string]bool{
	"ThrottlingException":         true,
	"Throttling":                  true,
	"TooManyRequestsException":    true,
	"RequestLimitExceeded":        true,
	"ServiceUnavailableException": true,
	"ServiceUnavailable":          true,
	"InternalFailure":             true,
	"InternalServerError":         true,
	"RequestTimeout":              true,
	"RequestTimeoutException":     true,
}

// Clock is what a retry keeps time by: Now measures its total against
// maxElapsed, After paces its tries. The zero Clock is the real one; tests
// pass a fake (clocktest), so that they assert the waits asked, not sleep.
type Clock struct {
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Policy builds a fresh jittered exponential backoff for one operation,
// bounded in total by maxElapsed, on the real clock.
func Policy(initial, maxInterval, maxElapsed time.Duration) backoff.BackOff {
	return Clock{}.Policy(initial, maxInterval, maxElapsed)
}

// Policy is the package's Policy with maxElapsed measured on c.
func (c Clock) Policy(initial, maxInterval, maxElapsed time.Duration) backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = initial
	b.MaxInterval = maxInterval
	b.MaxElapsedTime = maxElapsed
	b.RandomizationFactor = 0.5
	if c.Now != nil {
		b.Clock = nowFunc(c.Now)
	}
	b.Reset() // the first wait is initial, not the library's default
	return b
}

// Do runs op until it succeeds, fails with a non-transient error, the backoff
// gives up or ctx is done, on the real clock. The last error is returned.
func Do(ctx context.Context, b backoff.BackOff, op func() error) error {
	return Clock{}.DoNotify(ctx, b, op, nil)
}

// DoNotify is Do that tells notify (if not nil) of each failed try it will
// try again after, and how long it waits first.
func DoNotify(ctx context.Context, b backoff.BackOff, op func() error, notify func(error, time.Duration)) error {
	return Clock{}.DoNotify(ctx, b, op, notify)
}

// Do is the package's Do waiting between tries on c.
func (c Clock) Do(ctx context.Context, b backoff.BackOff, op func() error) error {
	return c.DoNotify(ctx, b, op, nil)
}

// DoNotify is the package's DoNotify waiting between tries on c.
func (c Clock) DoNotify(ctx context.Context, b backoff.BackOff, op func() error, notify func(error, time.Duration)) error {
	return backoff.RetryNotifyWithTimer(func() error {
		err := op()
		if err != nil && !Transient(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx), notify, c.timer())
}

// Retry runs op until it succeeds, returns a backoff.Permanent error, the
// backoff gives up or ctx is done, waiting between tries on c: for an op
// that knows better than Transient which of its errors may pass, such as a
// webhook's HTTP status.
func (c Clock) Retry(ctx context.Context, b backoff.BackOff, op func() error) error {
	return backoff.RetryNotifyWithTimer(op, backoff.WithContext(b, ctx), nil, c.timer())
}

// timer waits on c.After; nil, the library's own on the real clock, when c
// is the real clock.
func (c Clock) timer() backoff.Timer {
	if c.After == nil {
		return nil
	}
	return &afterTimer{after: c.After}
}

type nowFunc func() time.Time

func (f nowFunc) Now() time.Time { return f() }

// afterTimer is a backoff.Timer on an After func. Stop has nothing to stop:
// a wait nobody reads is dropped when it fires.
type afterTimer struct {
	after func(time.Duration) <-chan time.Time
	c     <-chan time.Time
}

func (t *afterTimer) Start(d time.Duration) { t.c = t.after(d) }
func (t *afterTimer) Stop()                 {}
func (t *afterTimer) C() <-chan time.Time   { return t.c }
