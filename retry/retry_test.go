package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/cenkalti/backoff/v4"
	cerrdefs "github.com/containerd/errdefs"

	"jobrun/clocktest"
)

func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: "/var/run/docker.sock", Net: "unix"},
		Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"context canceled", context.Canceled, false},
		{"wrapped context canceled", fmt.Errorf("list tasks: %w", context.Canceled), false},
		{"context deadline", context.DeadlineExceeded, false},
		{"not found", cerrdefs.ErrNotFound.WithMessage("no such service"), false},
		{"invalid parameter", cerrdefs.ErrInvalidArgument.WithMessage("bad filter"), false},
		{"conflict", cerrdefs.ErrConflict.WithMessage("name in use"), false},
		{"unauthorized", cerrdefs.ErrUnauthenticated.WithMessage("no"), false},
		{"forbidden", cerrdefs.ErrPermissionDenied.WithMessage("not a manager"), false},
		{"not implemented", cerrdefs.ErrNotImplemented.WithMessage("no jobs"), false},
		{"plain error", errors.New("something else"), false},
		{"unavailable", cerrdefs.ErrUnavailable.WithMessage("manager restarting"), true},
		{"system (5xx)", cerrdefs.ErrInternal.WithMessage("rpc error"), true},
		{"wrapped system", fmt.Errorf("inspect: %w", cerrdefs.ErrInternal.WithMessage("rpc error")), true},
		{"connection refused", syscall.ECONNREFUSED, true},
		{"wrapped connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"net.OpError", refused, true},
		{"wrapped net.OpError", fmt.Errorf("Cannot connect to the Docker daemon: %w", refused), true},
		{"AWS throttling", &smithy.OperationError{ServiceID: "CloudWatch Logs", OperationName: "GetLogEvents",
			Err: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}}, true},
		{"AWS service unavailable", &smithy.GenericAPIError{Code: "ServiceUnavailableException"}, true},
		{"AWS not found", &smithy.GenericAPIError{Code: "ResourceNotFoundException"}, false},
		{"AWS access denied", &smithy.GenericAPIError{Code: "AccessDeniedException"}, false},
		{"HTTP 503 without an AWS code", awsResponse(503, errors.New("bad gateway")), true},
		{"HTTP 400 without an AWS code", awsResponse(400, errors.New("bad request")), false},
		// What the SDK returns once its own retries of a dropped connection
		// run out: a response error with no status, the send error inside.
		{"AWS request send failed", &smithy.OperationError{ServiceID: "CloudWatch Logs", OperationName: "GetLogEvents",
			Err: awsResponse(0, &smithyhttp.RequestSendError{Err: &url.Error{Op: "Post", URL: "http://127.0.0.1:1/", Err: io.EOF}})}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Transient(tt.err); got != tt.want {
				t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func awsResponse(status int, err error) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}
}

// fakeClock is a retry.Clock on a fake clock that moves on to each wait as
// soon as it is asked: retries come at once, and the waits can be checked.
func fakeClock(t *testing.T) (Clock, *clocktest.Clock) {
	c := clocktest.New(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	c.AutoAdvance(t.Context())
	return Clock{Now: c.Now, After: c.After}, c
}

func TestDo(t *testing.T) {
	transient := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	permanent := cerrdefs.ErrNotFound.WithMessage("no such service")
	tests := []struct {
		name    string
		errs    []error // returned by successive calls; nil ends in success
		wantErr error
		calls   int
	}{
		{"success at once", []error{nil}, nil, 1},
		{"transient twice then success", []error{transient, transient, nil}, nil, 3},
		{"permanent at once", []error{permanent, nil}, permanent, 1},
		{"transient then permanent", []error{transient, permanent, nil}, permanent, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock, fake := fakeClock(t)
			calls := 0
			err := clock.Do(context.Background(), clock.Policy(time.Millisecond, 2*time.Millisecond, time.Second), func() error {
				calls++
				return tt.errs[calls-1]
			})
			if !errors.Is(err, tt.wantErr) && err != tt.wantErr {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && !cerrdefs.IsNotFound(err) {
				t.Errorf("err %v lost its kind", err)
			}
			if calls != tt.calls {
				t.Errorf("op called %d times, want %d", calls, tt.calls)
			}
			if asked := fake.Asked(); len(asked) != calls-1 {
				t.Errorf("waits asked %v, want one between each two calls", asked)
			}
		})
	}
}

// TestDoGivesUpAfterMaxElapsed: the waits follow the policy, and Do gives
// up once the next one would take it past maxElapsed on its clock.
func TestDoGivesUpAfterMaxElapsed(t *testing.T) {
	transient := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	clock, fake := fakeClock(t)
	calls := 0
	maxInterval, maxElapsed := 5*time.Millisecond, 100*time.Millisecond
	err := clock.Do(context.Background(), clock.Policy(time.Millisecond, maxInterval, maxElapsed), func() error {
		calls++
		return transient
	})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v, want the last transient error", err)
	}
	asked := fake.Asked()
	if calls < 2 || len(asked) != calls-1 {
		t.Fatalf("op called %d times with waits %v between, want retries with a wait before each", calls, asked)
	}
	var total time.Duration
	for i, d := range asked {
		// Each wait is the interval, 1 ms growing by 1.5 up to maxInterval, ± 50 % jitter.
		interval := min(time.Duration(float64(time.Millisecond)*math.Pow(1.5, float64(i))), maxInterval)
		if d < interval/2 || d > interval*3/2 {
			t.Errorf("wait %d = %s, want %s ± 50 %%", i+1, d, interval)
		}
		total += d
	}
	if total > maxElapsed || total+maxInterval*3/2 <= maxElapsed {
		t.Errorf("gave up after waiting %s in all, want within a wait of %s", total, maxElapsed)
	}
}

func TestDoHonoursContext(t *testing.T) {
	t.Run("cancelled while retrying", func(t *testing.T) {
		clock, fake := fakeClock(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		err := clock.Do(ctx, clock.Policy(time.Millisecond, 2*time.Millisecond, time.Minute), func() error {
			calls++
			if calls == 3 {
				cancel()
			}
			return syscall.ECONNREFUSED
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if calls != 3 || len(fake.Asked()) != 2 {
			t.Errorf("op called %d times after %d waits, want 3 after 2 (none after cancel)", calls, len(fake.Asked()))
		}
	})
	t.Run("deadline bounds a long backoff", func(t *testing.T) {
		// The fake clock never moves: only the context's own (real)
		// deadline can end the wait.
		fake := clocktest.New(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
		clock := Clock{Now: fake.Now, After: fake.After}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		calls := 0
		err := clock.Do(ctx, clock.Policy(time.Second, time.Minute, time.Hour), func() error {
			calls++
			return syscall.ECONNRESET
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if asked := fake.Asked(); calls != 1 || len(asked) != 1 || asked[0] < 500*time.Millisecond {
			t.Errorf("op called %d times, waits asked %v; want one call, then the ended context cutting a wait of about 1s", calls, asked)
		}
	})
	t.Run("op's own context error is not retried", func(t *testing.T) {
		clock, fake := fakeClock(t)
		calls := 0
		err := clock.Do(context.Background(), clock.Policy(time.Millisecond, 2*time.Millisecond, time.Second), func() error {
			calls++
			return fmt.Errorf("list tasks: %w", context.Canceled)
		})
		if !errors.Is(err, context.Canceled) || calls != 1 || len(fake.Asked()) != 0 {
			t.Errorf("err = %v after %d calls and %d waits, want context.Canceled after 1 and none", err, calls, len(fake.Asked()))
		}
	})
}

// TestDoOnTheRealClock: the zero Clock waits on the real one.
func TestDoOnTheRealClock(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Policy(time.Microsecond, time.Microsecond, time.Minute), func() error {
		if calls++; calls < 3 {
			return syscall.ECONNREFUSED
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("Do = %v after %d calls, want success after 3", err, calls)
	}
}

func TestPolicy(t *testing.T) {
	b, ok := Policy(100*time.Millisecond, 2*time.Second, 10*time.Second).(*backoff.ExponentialBackOff)
	if !ok {
		t.Fatalf("Policy returned %T, want *backoff.ExponentialBackOff", b)
	}
	if b.InitialInterval != 100*time.Millisecond || b.MaxInterval != 2*time.Second || b.MaxElapsedTime != 10*time.Second {
		t.Errorf("policy = initial %s max %s elapsed %s", b.InitialInterval, b.MaxInterval, b.MaxElapsedTime)
	}
	for i := 0; i < 20; i++ {
		if d := b.NextBackOff(); d == backoff.Stop || d > 3*time.Second {
			t.Fatalf("backoff %d = %s, want at most MaxInterval plus jitter", i, d)
		}
	}
}
