package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
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
	// Attach, when set, also reads the container of a task on the node it
	// talks to, as Engine's does: the driver sends an unended line at the
	// job's exit, after the other stream's lines that followed it.
	Attach Attacher

	mu    sync.Mutex
	hints map[string][]Hint // by task ID: what Follow learned
}

func (c *CloudWatch) Name() string { return "cloudwatch" }

// Location is the task's log stream.
func (c *CloudWatch) Location(t Task) string {
	s, _ := c.Stream(t)
	return s
}

// Hints are where the task's unended lines go, as Follow learned from its
// container: Read needs them told. Nil when it learned none.
func (c *CloudWatch) Hints(t Task) []Hint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hints[t.ID]
}

func (c *CloudWatch) keepHints(t Task, o *writeOrder) {
	hints := o.keptHints()
	if len(hints) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hints == nil {
		c.hints = map[string][]Hint{}
	}
	c.hints[t.ID] = hints
}

// Follow pages through the stream with forward tokens, which, unlike
// timestamps, never skip events that share a millisecond.
func (c *CloudWatch) Follow(ctx context.Context, t Task, ended <-chan struct{}, stdout, _ io.Writer) error {
	stream, err := c.Stream(t)
	if err != nil {
		return err
	}
	actx, cancel := context.WithCancel(ctx)
	order := &eventOrder{order: startOrder(actx, c.Attach, t)}
	defer func() {
		cancel()
		c.keepHints(t, order.order)
	}()
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
			if err := writeEvents(stdout, out.Events, order); err != nil {
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
// returns how many events it held; hints (Hints) put its unended lines
// where the job wrote them. A stream that does not exist is an error that
// IsNotFound recognises.
func (c *CloudWatch) Read(ctx context.Context, stream string, hints []Hint, w io.Writer) (int, error) {
	in := &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(c.Group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true),
	}
	order := &eventOrder{order: orderOf(hints)}
	n := 0
	for {
		out, err := c.page(ctx, in)
		if err != nil {
			return n, fmt.Errorf("read stream %s/%s: %w", c.Group, stream, err)
		}
		if err := writeEvents(w, out.Events, order); err != nil {
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

// writeEvents writes a page of events as lines, in the order o knows of.
func writeEvents(w io.Writer, events []types.OutputLogEvent, o *eventOrder) error {
	size := 0
	for _, e := range events {
		size += len(aws.ToString(e.Message)) + 1
	}
	buf := make([]byte, 0, size) // one write per page, one allocation
	for _, e := range events {
		msg := aws.ToString(e.Message)
		if o != nil && o.order != nil {
			buf = o.add(buf, msg)
		} else {
			buf = eventLine(buf, msg)
		}
	}
	if len(buf) == 0 {
		return nil
	}
	_, err := w.Write(buf)
	return err
}

// eventLine appends an event's message as the line the job wrote.
func eventLine(buf []byte, msg string) []byte {
	buf = append(buf, msg...)
	if !continued(msg) {
		buf = append(buf, '\n')
	}
	return buf
}

// eventOrder puts the unended lines of an attempt's stream where the job
// wrote them: before the first line of the other stream the job ended
// after them, and not again when the driver sends them (at the job's exit,
// or when they end). Events carry no stream, so a line is known by its
// content alone.
type eventOrder struct {
	order *writeOrder
	early [2][]byte // a stream's: written before its own event came
}

// add appends the event's line, after the fragment the job wrote before
// it and without what of it was written early.
func (o *eventOrder) add(buf []byte, msg string) []byte {
	line := eventLine(nil, msg)
	var frag []byte
	stream := 0
	if !continued(msg) {
		frag, stream, _ = o.order.beforeAny(line)
	}
	buf = append(append(buf, frag...), o.unsaid(line)...)
	if len(frag) > 0 {
		if len(o.early[stream])+len(frag) > maxFragment {
			o.early[stream] = nil // never said after all: bounded, as the attach's tail
		}
		o.early[stream] = append(o.early[stream], frag...)
	}
	return buf
}

// unsaid is what of line is still to write. A line that is no stream's
// early one is said whole, and the early ones are still to come: it may be
// of the other stream.
func (o *eventOrder) unsaid(line []byte) []byte {
	for s, early := range o.early {
		if len(early) == 0 {
			continue
		}
		if rest, left, ok := stripEarly(early, line); ok {
			o.early[s] = left
			if len(left) == 0 && string(rest) == "\n" {
				return nil // the early line's own event: the driver gives every event a newline
			}
			return rest
		}
	}
	return line
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
