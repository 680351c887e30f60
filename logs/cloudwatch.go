package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"golang.org/x/time/rate"

	"jobrun/retry"
)

// getLogEventsQuota is GetLogEvents' quota per account and region (the 2022
// documentation says 10 a second): every stream jobrun reads shares it.
const getLogEventsQuota = 10

// NewQuotaLimiter rations GetLogEvents to the quota, with a burst of a
// second's worth, as a token bucket quota allows. One serves a whole run.
func NewQuotaLimiter() *rate.Limiter { return rate.NewLimiter(getLogEventsQuota, getLogEventsQuota) }

// maxEventMessage is the longest message the awslogs driver puts in one
// event (256 KiB less the 26 bytes AWS counts per event). A longer line is
// split across events at this size, or up to three bytes short of it so as
// not to cut a UTF-8 rune (the driver's findValidSplit): an event that long
// is continued by the next one and gets no newline of its own.
const maxEventMessage = 262144 - 26

// continued reports whether the driver split the event's line further on.
func continued(msg string) bool { return len(msg) > maxEventMessage-utf8.UTFMax }

// ErrDrainTimeout means an attempt's stream kept moving, or never appeared,
// until the drain timeout: its last lines may be missing.
var ErrDrainTimeout = fmt.Errorf("%w", ErrIncomplete)

// CloudWatch reads an attempt's output from the stream the awslogs driver
// wrote it to. One CloudWatch serves every attempt of every job of a run, so
// its limiter rations the account's GetLogEvents quota across all of them.
type CloudWatch struct {
	Client  cloudwatchlogs.GetLogEventsAPIClient
	Group   string
	Stream  func(Task) (string, error) // the stream name of a task
	Limiter *rate.Limiter              // shared by all streams
	// Poll is how long a caught-up stream waits before asking again.
	Poll time.Duration
	// FlushWait: the driver flushes every 5 s and once more, asynchronously,
	// after the container exits. An ended attempt's stream is complete when
	// its token has not moved for this long, across two polls or more.
	FlushWait time.Duration
	// DrainTimeout caps the wait for an ended attempt's last lines.
	DrainTimeout time.Duration
	// Stalled, if set, is told once per outage when a read of stream has
	// failed for StallAfter, with the last error: a wait on CloudWatch says
	// what it waits for instead of hanging silently.
	Stalled func(stream string, err error)
	Now     func() time.Time
	After   func(time.Duration) <-chan time.Time
}

func (c *CloudWatch) Name() string { return "cloudwatch" }

// Location is the task's log stream.
func (c *CloudWatch) Location(t Task) string {
	s, _ := c.Stream(t)
	return s
}

// Follow pages through the stream with forward tokens, which, unlike
// timestamps, never skip events that share a millisecond.
func (c *CloudWatch) Follow(ctx context.Context, t Task, ended <-chan struct{}, stdout, _ io.Writer) error {
	stream, err := c.Stream(t)
	if err != nil {
		return err
	}
	in := &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(c.Group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true),
	}
	endCh := ended // nil once seen closed, so the wait below does not spin
	var (
		endedAt   time.Time // zero while the attempt runs
		lastMove  time.Time
		stillPoll int // caught-up polls since the token last moved
		missing   bool
	)
	for {
		if endCh != nil {
			select {
			case <-ended:
				endCh, endedAt, lastMove, stillPoll = nil, c.Now(), c.Now(), 0
			default:
			}
		}
		out, err := c.page(ctx, in)
		switch {
		case err == nil:
			missing = false
			if err := writeEvents(stdout, out.Events); err != nil {
				return err
			}
		case IsNotFound(err):
			missing = true // the driver creates the stream with the container
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("read stream %s: %w", stream, err)
		}
		moved := err == nil && (in.NextToken == nil || aws.ToString(out.NextForwardToken) != aws.ToString(in.NextToken))
		if err == nil {
			in.NextToken = out.NextForwardToken
		}
		if moved {
			lastMove, stillPoll = c.Now(), 0
			continue // more may be waiting (AWS returns empty pages mid-stream): ask again at once
		}
		if !endedAt.IsZero() {
			stillPoll++
			if !missing && stillPoll >= 2 && c.Now().Sub(lastMove) >= c.FlushWait {
				return nil
			}
			if c.Now().Sub(endedAt) >= c.DrainTimeout {
				if missing {
					return fmt.Errorf("%w: stream %s/%s did not appear within %s of the attempt's end", ErrDrainTimeout, c.Group, stream, c.DrainTimeout)
				}
				return fmt.Errorf("%w: stream %s/%s still received lines %s after the attempt ended", ErrDrainTimeout, c.Group, stream, c.DrainTimeout)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-endCh:
		case <-c.After(c.Poll):
		}
	}
}

// Read copies a whole stream as it is now, from its first event, and
// returns how many events it held. A stream that does not exist is an error
// that IsNotFound recognises.
func (c *CloudWatch) Read(ctx context.Context, stream string, w io.Writer) (int, error) {
	in := &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(c.Group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true),
	}
	n := 0
	for {
		out, err := c.page(ctx, in)
		if err != nil {
			return n, fmt.Errorf("read stream %s/%s: %w", c.Group, stream, err)
		}
		if err := writeEvents(w, out.Events); err != nil {
			return n, &WriteError{Err: err}
		}
		n += len(out.Events)
		// The same token back means the end of the stream, for now.
		if in.NextToken != nil && aws.ToString(out.NextForwardToken) == aws.ToString(in.NextToken) {
			return n, nil
		}
		in.NextToken = out.NextForwardToken
	}
}

// page asks for the next page, waiting for the shared limiter and retrying
// throttling and outages until ctx ends: a log-reading fault never ends a run.
func (c *CloudWatch) page(ctx context.Context, in *cloudwatchlogs.GetLogEventsInput) (*cloudwatchlogs.GetLogEventsOutput, error) {
	var after func(time.Duration) <-chan time.Time // nil: nobody to tell, no timer
	if c.Stalled != nil {
		after = c.After
	}
	stream := aws.ToString(in.LogStreamName)
	watch := WatchStall(after, func(err error) { c.Stalled(stream, err) })
	defer watch.Stop()
	var out *cloudwatchlogs.GetLogEventsOutput
	err := retry.DoNotify(ctx, retry.Policy(200*time.Millisecond, 5*time.Second, 0), func() error {
		if err := c.Limiter.Wait(ctx); err != nil {
			return err
		}
		var err error
		out, err = c.Client.GetLogEvents(ctx, in)
		return err
	}, watch.Failed)
	return out, err
}

func writeEvents(w io.Writer, events []types.OutputLogEvent) error {
	size := 0
	for _, e := range events {
		size += len(aws.ToString(e.Message)) + 1
	}
	buf := make([]byte, 0, size) // one write per page, one allocation
	for _, e := range events {
		msg := aws.ToString(e.Message)
		buf = append(buf, msg...)
		if !continued(msg) {
			buf = append(buf, '\n')
		}
	}
	if len(buf) == 0 {
		return nil
	}
	_, err := w.Write(buf)
	return err
}

// WriteError is a failure to write what was read: the reader's, not
// CloudWatch's.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "write: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// IsNotFound reports whether err says a log group or stream does not exist.
func IsNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// ConsoleURL links to a stream in the CloudWatch console, which escapes
// path parts as URL escapes with '%' written "$25".
func ConsoleURL(region, group, stream string) string {
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "%", "$25") }
	return fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#logsV2:log-groups/log-group/%s/log-events/%s",
		region, region, esc(group), esc(stream))
}
