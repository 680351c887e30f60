package jobs

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// LabelExec marks the service of a jobrun exec: a command run once in a
// job's context, never a run of the job.
const LabelExec = "io.jobrun.exec"

// ExecSpec is what an exec changes in the job's service.
type ExecSpec struct {
	ID         string   // names the service beside the job's: ExecServiceName
	Command    []string // replaces the job's command, as Compose's command: does
	Entrypoint []string // when set, replaces the entrypoint too
	TTY        bool     // a pseudo-terminal (docker run -t)
	Stdin      bool     // stdin kept open to attach to (docker run -i)
	// NodeID, when set, places the task on that node only: a task can
	// only be attached through the engine of the node it runs on.
	NodeID string
}

// ExecInfo is what a run record keeps of an exec: who ran which command.
// Never the environment: the command's values that look secret are
// redacted (RedactCommand).
type ExecInfo struct {
	Command     []string `json:"command"`
	Entrypoint  []string `json:"entrypoint,omitempty"`
	User        string   `json:"user,omitempty"` // user@host that ran it
	Interactive bool     `json:"interactive,omitempty"`
	// Replay is the recorded attempt this exec made again, if it did.
	Replay *ReplayInfo `json:"replay,omitempty"`
}

// ExitCode is the exec's command's exit code, if it ran to one.
func (r Record) ExitCode() (int, bool) {
	if n := len(r.Attempts); n > 0 && r.Attempts[n-1].ExitCode != nil {
		return *r.Attempts[n-1].ExitCode, true
	}
	return 0, false
}

// execSummary is an exec's last line: how its command ended.
func execSummary(rec Record) string {
	ending := fmt.Sprintf("%s: %s", rec.Outcome, rec.Reason)
	if code, ok := rec.ExitCode(); ok {
		ending = fmt.Sprintf("exited %d", code)
	}
	what := fmt.Sprintf("%q", strings.Join(rec.Exec.Command, " "))
	if len(rec.Exec.Command) == 0 {
		what = "of the image's own command"
	}
	if r := rec.Exec.Replay; r != nil {
		what += fmt.Sprintf(" (attempt %d of run %s replayed on node %s)", r.Attempt, r.RunID, NodeName(r.Hostname, r.NodeID))
	}
	return fmt.Sprintf("exec %s of version %s (run %s) %s in %s", what, rec.Version, rec.RunID, ending, rec.Ended.Sub(rec.Started).Round(10*time.Millisecond))
}

// ExecServiceName is an exec's service: never the job's own
// (ServiceName), so an exec never takes or waits for the job's lock.
func ExecServiceName(stack, job, id string) string {
	return ServiceName(stack, job) + "_exec_" + id
}

// AsExec turns a built job into one run of another command in the same
// context: image, environment, secrets, configs, networks, placement and
// logging stay the job's; the command is replaced, once, with no restart.
func AsExec(job Job, e ExecSpec) (Job, error) {
	spec := job.Spec
	spec.Name = ExecServiceName(job.Stack, job.Name, e.ID)
	if !ValidName(spec.Name) {
		return Job{}, &UsageError{Msg: fmt.Sprintf("exec service name %s is too long for Swarm (63 characters at most): use a shorter --stack or job name", spec.Name)}
	}
	if job.Spec.TaskTemplate.ContainerSpec == nil {
		return Job{}, &UsageError{Msg: fmt.Sprintf("job %s has no container to exec in", job.Name)}
	}
	cs := *job.Spec.TaskTemplate.ContainerSpec
	cs.Args = slices.Clone(e.Command)
	if e.Entrypoint != nil {
		cs.Command = slices.Clone(e.Entrypoint)
	}
	cs.TTY, cs.OpenStdin = e.TTY, e.Stdin
	cs.Labels = jobLabels(cs.Labels, map[string]string{LabelExec: e.ID})
	spec.TaskTemplate.ContainerSpec = &cs
	spec.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}
	if e.NodeID != "" {
		p := swarm.Placement{}
		if job.Spec.TaskTemplate.Placement != nil {
			p = *job.Spec.TaskTemplate.Placement
		}
		p.Constraints = append(slices.Clone(p.Constraints), "node.id=="+e.NodeID)
		spec.TaskTemplate.Placement = &p
	}
	spec.Labels = jobLabels(spec.Labels, map[string]string{LabelExec: e.ID, LabelMaxRuns: "1"})
	job.Spec, job.Policy.MaxRuns, job.Notes = spec, 1, nil
	return job, nil
}

// Exec runs an exec's service to its end, as Run runs a job's, but it is
// never a run of the job: no already-succeeded check, no lock of the job,
// and its record says it is an exec (ExecInfo), which no check of the
// job's versions reads. The stop, the record and the removal are a run's.
func (r *Runner) Exec(ctx context.Context, job Job, info ExecInfo) (Record, error) {
	rec := r.newRecord(job)
	rec.Exec = &info
	l, err := r.acquire(ctx, &job)
	if err != nil {
		return rec, err
	}
	if !l.owner {
		// Exec IDs are random: another exec by the same name is not ours.
		return rec, &ConflictError{Msg: fmt.Sprintf("service %s already exists: run jobrun exec again", job.Spec.Name)}
	}
	if l.image != "" {
		rec.Image = l.image
	}
	return r.follow(ctx, job, l, rec)
}

// RedactCommand hides what may be secret in a command line before it is
// recorded or printed: the values of the job's environment variables named
// like a password, secret, token or key, and the value of any argument so
// named. Other variables are the service's plain settings: masking them
// mangled ordinary words (MYSQL_USER=todo made "/todos" read "/***s").
func RedactCommand(cmd []string, env []string) []string {
	var values []string
	for _, kv := range env {
		if name, v, ok := strings.Cut(kv, "="); ok && len(v) >= 4 && secretName(name) {
			values = append(values, v)
		}
	}
	out := make([]string, len(cmd))
	for i, arg := range cmd {
		for _, v := range values {
			arg = strings.ReplaceAll(arg, v, "***")
		}
		if name, _, ok := strings.Cut(arg, "="); ok && secretName(name) {
			arg = name + "=***"
		}
		if i > 0 && secretName(cmd[i-1]) && !strings.HasPrefix(arg, "-") && !strings.Contains(cmd[i-1], "=") {
			arg = "***"
		}
		if len(arg) > 2 && strings.HasPrefix(arg, "-p") && !strings.HasPrefix(arg, "-p=") {
			arg = "-p***" // mysql -psecret: the password glued to its flag
		}
		out[i] = Redact(arg) // psql postgresql://app:secret@db/app

	}
	return out
}

var passwordInURL = regexp.MustCompile(`(://[^:/@\s]+):[^@/\s]+@`)

// Redact hides a password in a URL such as tcp://user:pass@host or
// postgresql://app:pass@db/app.
func Redact(s string) string { return passwordInURL.ReplaceAllString(s, "$1:***@") }

// Message is err as the user sees it: one line (engine and ssh errors may
// have several), passwords in URLs hidden.
func Message(err error) string { return Redact(OneLine(err)) }

func secretName(s string) bool {
	s = strings.ToLower(s)
	for _, w := range []string{"password", "passwd", "pass", "pwd", "secret", "token", "key", "credential", "auth", "private"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
