package stackjobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// Plan is what a job's plan (x-jobrun plan, such as Django's migrate
// --plan) said, run once in the job's context as jobrun exec runs a
// command: the "plan" of each job in jobrun deploy --dry-run -o json, and
// the document of jobrun plan -o json.
type Plan struct {
	// Command is the plan as recorded: values that look secret are ***.
	Command []string `json:"command"`
	// ExitCode is nil when the plan never exited: not started, or stopped.
	ExitCode *int `json:"exitCode"`
	// Output is its stdout and stderr together, in the engine's order.
	Output string `json:"output"`
	RunID  string `json:"run_id,omitempty"` // the exec's record: jobrun logs JOB --exec
	// Warning says why the plan did not run to success: it exited with
	// another code than 0, was stopped by --plan-timeout, or did not start.
	Warning string `json:"warning,omitempty"`
}

// planOutputMax bounds the output a preview shows of a plan: its tail,
// as the record keeps an attempt's tail.
const planOutputMax = 64 << 10

// Plan runs the job's plan once in its context, if it has one (nil if
// not). What keeps it from running to success is the plan's Warning, never
// an error: the error is a mistake in the stack file, a Ctrl-C, or an
// engine that cannot be used at all.
func (s *Session) Plan(ctx context.Context, name string, timeout time.Duration) (*Plan, error) {
	ext, err := s.Stack.Extension(name)
	if err != nil || ext.Plan == nil {
		return nil, err
	}
	job, why, err := s.planJob(ctx, name, ext.Plan)
	if err != nil {
		return nil, err
	}
	if why != "" {
		return &Plan{Command: jobs.RedactCommand(ext.Plan, nil), Warning: "not run: " + why}, nil
	}
	return s.runPlan(ctx, job, ext.Plan, timeout)
}

// planJob builds the job for this version as a run builds it and makes it
// the plan's exec. A plan changes nothing but its own record, so what the
// release would create first (the stack's network, the job's secrets and
// configs), and an image that does not exist, keep it from running: why is
// returned.
func (s *Session) planJob(ctx context.Context, name string, command []string) (jobs.Job, string, error) {
	b := *s
	b.Engine = noCreate{s.Engine}
	job, err := b.Build(ctx, name)
	var missing *jobs.NetworkMissingError
	var refused *createRefused
	switch {
	case errors.As(err, &missing):
		return jobs.Job{}, fmt.Sprintf("network %s does not exist yet (the deploy creates it): the plan can run once the stack is deployed", missing.Network), nil
	case errors.As(err, &refused):
		return jobs.Job{}, fmt.Sprintf("%s %s does not exist yet (the deploy creates it): the plan can run once the stack is deployed", refused.kind, refused.name), nil
	case err != nil:
		return jobs.Job{}, "", err
	}
	exec, err := jobs.AsExec(job, jobs.ExecSpec{ID: job.RunID[len(job.RunID)-6:], Command: command})
	if err != nil {
		return jobs.Job{}, "", err
	}
	return exec, s.imageMissing(ctx, exec.Spec.TaskTemplate.ContainerSpec.Image), nil
}

// imageMissing says why the image cannot be found, "" when it can: the
// engine jobrun talks to has it, or its registry knows it. Its task would
// only be rejected, after a service and a record were made for nothing.
func (s *Session) imageMissing(ctx context.Context, image string) string {
	_, err := s.Engine.ImageInspect(ctx, image)
	if err == nil {
		return ""
	}
	here := "the engine jobrun talks to has none"
	if !cerrdefs.IsNotFound(err) {
		here = "the engine jobrun talks to could not say (" + jobs.Message(err) + ")"
	}
	auth := ""
	if s.RegistryAuth != nil {
		auth, _ = s.RegistryAuth(image) // none: the registry is asked anonymously
	}
	ctx, cancel := context.WithTimeout(ctx, registryWait)
	defer cancel()
	_, err = s.Engine.DistributionInspect(ctx, image, client.DistributionInspectOptions{EncodedRegistryAuth: auth})
	if err == nil {
		return ""
	}
	said := strings.TrimPrefix(jobs.Message(err), "Error response from daemon: ")
	return fmt.Sprintf("image %s does not exist: %s, and its registry says: %s", image, here, said)
}

// registryWait bounds the registry's answer about an image: a registry out
// of reach must not hold up a preview.
const registryWait = 15 * time.Second

// runPlan runs the plan's exec to its end, as jobrun exec runs one: one
// attempt, no lock, recorded as an exec. Within the preview it is stopped
// after timeout, is never kept (--keep) or left running (Ctrl-C), and
// prunes no records: the preview changes nothing but the exec's record.
func (s *Session) runPlan(ctx context.Context, job jobs.Job, command []string, timeout time.Duration) (*Plan, error) {
	o := *s.Options
	o.Run.Timeout, o.Run.TimeoutFlag, o.Run.Keep, o.Run.DetachOnInterrupt, o.Run.KeepRuns = timeout, "--plan-timeout", false, false, 0
	out := &planOutput{Reporter: s.Report}
	p := *s
	p.Options, p.Report = &o, out
	info := jobs.ExecInfo{Command: jobs.RedactCommand(command, job.Spec.TaskTemplate.ContainerSpec.Env)}
	r, err := p.Runners().For(ctx, job)
	if err != nil {
		return &Plan{Command: info.Command, Warning: "could not start: " + jobs.Message(err)}, nil
	}
	info.User = r.Origin.Who
	rec, err := r.Exec(ctx, job, info)
	plan := &Plan{Command: info.Command, Output: out.String()}
	if rec.Outcome != "" {
		plan.RunID = rec.RunID // saved, or said why not
	}
	return plan, plan.judge(rec, err, timeout)
}

// judge reads how the plan's exec ended: only an interrupt is an error.
func (p *Plan) judge(rec jobs.Record, err error, timeout time.Duration) error {
	code, exited := rec.ExitCode()
	switch {
	case rec.Outcome == jobs.Interrupted || errors.Is(err, context.Canceled):
		return err
	case rec.Outcome == jobs.Succeeded && exited:
		p.ExitCode = &code
	case rec.Outcome == jobs.Failed && exited:
		p.ExitCode = &code
		p.Warning = fmt.Sprintf("exited %d", code)
	case rec.Outcome == jobs.TimedOut:
		p.Warning = fmt.Sprintf("stopped after --plan-timeout %s", timeout)
	case rec.Outcome != "":
		p.Warning = fmt.Sprintf("could not start: %s: %s", rec.Outcome, rec.Reason)
	default:
		p.Warning = "could not start: " + jobs.Message(err)
	}
	return nil
}

// Line is the plan's line: its command, and how it ended.
func (p *Plan) Line() string {
	if p.Warning != "" || p.ExitCode == nil {
		return "WARNING: plan " + Words(p.Command) + ": " + p.Warning
	}
	return fmt.Sprintf("plan %s: exit %d", Words(p.Command), *p.ExitCode)
}

// Write writes the plan's line and, beneath it, its output, each line
// after indent and "| ", so that the plan's words never read as jobrun's.
func (p *Plan) Write(b *strings.Builder, indent string) {
	fmt.Fprintf(b, "%s%s\n", indent, p.Line())
	if p.Output == "" {
		return
	}
	for _, line := range strings.Split(strings.TrimSuffix(p.Output, "\n"), "\n") {
		fmt.Fprintf(b, "%s| %s\n", indent, line)
	}
}

// NoPlan is what a preview says of a job without a plan.
const NoPlan = "no plan (" + jobs.ExtensionKey + " plan)"

// Words is a command as a shell reads it back: words with spaces or quotes
// quoted.
func Words(command []string) string {
	out := make([]string, len(command))
	for i, w := range command {
		out[i] = w
		if w == "" || strings.ContainsAny(w, " \t\n'\"\\") {
			out[i] = strconv.Quote(w)
		}
	}
	return strings.Join(out, " ")
}

// planOutput keeps a plan's output for the preview, which shows it under
// its job, instead of printing it as it comes; jobrun's own lines about
// the exec go on to the reporter.
type planOutput struct {
	jobs.Reporter
	mu      sync.Mutex
	buf     []byte
	dropped int // bytes before the tail kept
}

func (p *planOutput) Output(string, int, bool) io.Writer { return p }

func (p *planOutput) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	if over := len(p.buf) - planOutputMax; over > 0 {
		p.buf, p.dropped = append(p.buf[:0], p.buf[over:]...), p.dropped+over
	}
	return len(b), nil
}

// String is the output kept, saying how much came before it.
func (p *planOutput) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropped == 0 {
		return string(p.buf)
	}
	return fmt.Sprintf("(%d bytes before these are not shown: jobrun logs JOB --exec has the tail the record keeps)\n%s", p.dropped, p.buf)
}

// noCreate is the engine a plan's job is built with: the secrets and
// configs a release would create first are refused, not created.
type noCreate struct{ client.APIClient }

// createRefused is what noCreate says to a create.
type createRefused struct{ kind, name string }

func (e *createRefused) Error() string {
	return fmt.Sprintf("a plan creates nothing: %s %s does not exist", e.kind, e.name)
}

func (n noCreate) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	return client.SecretCreateResult{}, &createRefused{kind: "secret", name: o.Spec.Name}
}

func (n noCreate) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	return client.ConfigCreateResult{}, &createRefused{kind: "config", name: o.Spec.Name}
}
