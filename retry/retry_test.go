package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/docker/docker/errdefs"
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
		{"not found", errdefs.NotFound(errors.New("no such service")), false},
		{"invalid parameter", errdefs.InvalidParameter(errors.New("bad filter")), false},
		{"conflict", errdefs.Conflict(errors.New("name in use")), false},
		{"unauthorized", errdefs.Unauthorized(errors.New("no")), false},
		{"forbidden", errdefs.Forbidden(errors.New("not a manager")), false},
		{"not implemented", errdefs.NotImplemented(errors.New("no jobs")), false},
		{"plain error", errors.New("something else"), false},
		{"unavailable", errdefs.Unavailable(errors.New("manager restarting")), true},
		{"system (5xx)", errdefs.System(errors.New("rpc error")), true},
		{"wrapped system", fmt.Errorf("inspect: %w", errdefs.System(errors.New("rpc error"))), true},
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

// fast is a backoff quick enough for tests, bounded at a second.
func fast() backoff.BackOff { return Policy(time.Millisecond, 2*time.Millisecond, time.Second) }

func TestDo(t *testing.T) {
	transient := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	permanent := errdefs.NotFound(errors.New("no such service"))
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
			calls := 0
			err := Do(context.Background(), fast(), func() error {
				calls++
				return tt.errs[calls-1]
			})
			if !errors.Is(err, tt.wantErr) && err != tt.wantErr {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && !errdefs.IsNotFound(err) {
				t.Errorf("err %v lost its kind", err)
			}
			if calls != tt.calls {
				t.Errorf("op called %d times, want %d", calls, tt.calls)
			}
		})
	}
}

func TestDoGivesUpAfterMaxElapsed(t *testing.T) {
	transient := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	calls := 0
	start := time.Now()
	err := Do(context.Background(), Policy(time.Millisecond, 5*time.Millisecond, 100*time.Millisecond), func() error {
		calls++
		return transient
	})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v, want the last transient error", err)
	}
	if calls < 2 {
		t.Errorf("op called %d times, want retries", calls)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %s, want about 100ms", d)
	}
}

func TestDoHonoursContext(t *testing.T) {
	t.Run("cancelled while retrying", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		err := Do(ctx, Policy(time.Millisecond, 2*time.Millisecond, time.Minute), func() error {
			calls++
			if calls == 3 {
				cancel()
			}
			return syscall.ECONNREFUSED
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if calls != 3 {
			t.Errorf("op called %d times, want 3 (none after cancel)", calls)
		}
	})
	t.Run("deadline bounds a long backoff", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := Do(ctx, Policy(time.Second, time.Minute, time.Hour), func() error { return syscall.ECONNRESET })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned after %s, want about 50ms", d)
		}
	})
	t.Run("op's own context error is not retried", func(t *testing.T) {
		calls := 0
		err := Do(context.Background(), fast(), func() error {
			calls++
			return fmt.Errorf("list tasks: %w", context.Canceled)
		})
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("err = %v after %d calls, want context.Canceled after 1", err, calls)
		}
	})
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
