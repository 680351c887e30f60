package deploy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"jobrun/commands/cmdutil"
	"jobrun/commands/stackjobs"
	"jobrun/deploy"
	"jobrun/jobs"
)

// DryRun is what a deploy would do, done nowhere: the document of
// `jobrun deploy --dry-run -o json`.
type DryRun struct {
	Stack    string          `json:"stack"`
	Version  string          `json:"version"`
	LockedBy string          `json:"locked_by,omitempty"` // another deploy holds the lock
	Create   []deploy.Object `json:"create"`
	Problems []string        `json:"problems,omitempty"` // why the deploy would fail
	Steps    []DryRunStep    `json:"steps"`              // in the order the deploy takes them
}

// DryRunStep is a job to run or skip, or a service to create, update,
// leave or remove, in the release's order.
type DryRunStep struct {
	Job     string              `json:"job,omitempty"`
	Phase   string              `json:"phase,omitempty"`
	Skip    bool                `json:"skip,omitempty"` // the version already succeeded
	RunID   string              `json:"run_id,omitempty"`
	Plan    *stackjobs.Plan     `json:"plan,omitempty"` // nil: the job has no x-jobrun plan
	Service *deploy.ServiceDiff `json:"service,omitempty"`
}

// dryRun shows what Run would do, and writes nothing to the engine: no
// lock, no network, secret, config, service or record.
func dryRun(ctx context.Context, o *Options) error {
	warn := cmdutil.NewWarnings(o.IO.Err, "jobrun: deploy: WARNING: ")
	defer cmdutil.RouteLogrus(warn)()
	spec, stack, plan, err := load(o, warn)
	if err != nil {
		return err
	}
	s, err := o.Open(ctx, stack, spec, "deploy")
	if err != nil {
		return err
	}
	defer s.Close()
	engine, report := s.Engine, s.Report
	doc := DryRun{Stack: o.Stack, Version: o.Version}
	holder, held, err := (&deploy.Lock{Engine: engine, Stack: o.Stack}).Holder(ctx)
	if err != nil {
		return err
	}
	if held {
		doc.LockedBy = holder
		report.Notice("deploy", fmt.Sprintf("WARNING: another deploy of stack %s holds its lock (%s): a deploy now would be refused, or wait with --wait-lock", o.Stack, holder))
	}
	target := deploy.Stack{Engine: engine, Name: o.Stack, Config: stack.Config, ResolveImage: o.ResolveImage, RegistryAuth: o.RegistryAuth}
	(&release{o: o, plan: plan, target: target, report: report}).reportOldJobServices(ctx)
	services := append(append([]string(nil), plan.Deps...), plan.Services...)
	preview, err := target.DryRun(ctx, services, o.Prune)
	if err != nil {
		return err
	}
	// [] rather than null: a pipeline reads "nothing to create" as a list.
	doc.Create, doc.Problems = append([]deploy.Object{}, preview.Create...), preview.Problems
	for _, p := range doc.Problems {
		report.Notice("deploy", "WARNING: the deploy would fail: "+p)
	}
	if doc.Steps, err = steps(ctx, o, engine, plan, preview.Services); err != nil {
		return err
	}
	warned, err := runPlans(ctx, o, s, doc.Steps)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		err = jobs.WriteJSON(o.IO.Out, struct {
			DryRun DryRun `json:"dry_run"`
		}{doc})
	} else {
		err = writeDryRun(o.IO.Out, doc)
	}
	if err == nil && len(warned) > 0 {
		return &jobs.PlanWarningError{Jobs: warned}
	}
	return err
}

// runPlans runs each job's plan once the diff is known, in the release's
// order, and names the jobs whose plan did not run to success: each is a
// WARNING, on stderr as it happens and in the preview.
func runPlans(ctx context.Context, o *Options, s *stackjobs.Session, steps []DryRunStep) ([]string, error) {
	var warned []string
	for i := range steps {
		if steps[i].Job == "" {
			continue
		}
		p, err := s.Plan(ctx, steps[i].Job, o.PlanTimeout)
		if err != nil {
			return nil, err
		}
		if steps[i].Plan = p; p != nil && p.Warning != "" {
			s.Report.Notice(steps[i].Job, p.Line())
			warned = append(warned, steps[i].Job)
		}
	}
	return warned, nil
}

// steps puts the jobs and the services in the order the deploy takes
// them: the pre-deploy jobs' dependencies, the pre-deploy jobs, the other
// services (and those --prune removes), the post-deploy jobs.
func steps(ctx context.Context, o *Options, engine jobs.ConfigAPI, plan deploy.Plan, diffs []deploy.ServiceDiff) ([]DryRunStep, error) {
	var out []DryRunStep
	service := func(d deploy.ServiceDiff) { out = append(out, DryRunStep{Service: &d}) }
	isDep := func(name string) bool { return slices.Contains(plan.Deps, name) }
	for _, d := range diffs {
		if isDep(d.Service) {
			service(d)
		}
	}
	pre, err := jobSteps(ctx, o, engine, plan.Pre, deploy.PreDeploy)
	if err != nil {
		return nil, err
	}
	out = append(out, pre...)
	for _, d := range diffs {
		if !isDep(d.Service) {
			service(d)
		}
	}
	post, err := jobSteps(ctx, o, engine, plan.Post, deploy.PostDeploy)
	return append(out, post...), err
}

// jobSteps says of each job whether it would run, or be skipped because
// its version already succeeded (unless --force).
func jobSteps(ctx context.Context, o *Options, engine jobs.ConfigAPI, names []string, phase deploy.Phase) ([]DryRunStep, error) {
	var out []DryRunStep
	for _, name := range names {
		step := DryRunStep{Job: name, Phase: string(phase)}
		if !o.Run.Force {
			rec, ok, err := jobs.PriorSuccess(ctx, jobs.Records{Engine: engine}, o.Stack, name, o.Version)
			if err != nil {
				return nil, err
			}
			step.Skip, step.RunID = ok, rec.RunID
		}
		out = append(out, step)
	}
	return out, nil
}

// writeDryRun is the dry run for people: a line per object, job and
// service, marked + (created, run), ~ (updated), = (unchanged, skipped)
// or - (removed), the changes indented beneath. Env changes name the key
// only.
func writeDryRun(w io.Writer, doc DryRun) error {
	var b strings.Builder
	fmt.Fprintf(&b, "dry run: deploying stack %s version %s would:\n", doc.Stack, doc.Version)
	for _, obj := range doc.Create {
		fmt.Fprintf(&b, "+ %s %s: create\n", obj.Kind, obj.Name)
	}
	for _, s := range doc.Steps {
		if s.Service == nil {
			writeJobStep(&b, doc.Version, s)
			continue
		}
		d := s.Service
		marker := map[deploy.Action]string{deploy.Create: "+", deploy.Update: "~", deploy.Keep: "=", deploy.Remove: "-"}[d.Action]
		fmt.Fprintf(&b, "%s service %s: %s\n", marker, d.Service, d.Action)
		for _, c := range d.Changes {
			fmt.Fprintf(&b, "    %s\n", changeLine(c))
		}
	}
	b.WriteString(nothingChanged(doc))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return &jobs.OutputError{Err: err}
	}
	return nil
}

// writeJobStep is a job's line, and its plan's beneath.
func writeJobStep(b *strings.Builder, version string, s DryRunStep) {
	if s.Skip {
		fmt.Fprintf(b, "= job %s (%s): skip, version %s already succeeded (run %s; --force runs it again)\n", s.Job, s.Phase, version, s.RunID)
	} else {
		fmt.Fprintf(b, "+ job %s (%s): run\n", s.Job, s.Phase)
	}
	if s.Plan == nil {
		fmt.Fprintf(b, "    %s\n", stackjobs.NoPlan)
		return
	}
	s.Plan.Write(b, "    ")
}

// nothingChanged is the preview's last line: the plans' execs are the
// only thing a dry run leaves in the swarm, their records.
func nothingChanged(doc DryRun) string {
	var execs []string
	for _, s := range doc.Steps {
		if s.Plan != nil && s.Plan.RunID != "" {
			execs = append(execs, s.Plan.RunID)
		}
	}
	if len(execs) == 0 {
		return "nothing was changed (dry run)\n"
	}
	return fmt.Sprintf("nothing was changed (dry run) but the records of the plans' execs (run %s; jobrun logs JOB --exec)\n", strings.Join(execs, ", "))
}

// changeLine is one change: env shows the key alone, whatever it holds.
func changeLine(c deploy.Change) string {
	name := c.Field
	if c.Key != "" {
		name += " " + c.Key
	}
	switch {
	case c.Field == "env" || c.Old == "" && c.New == "":
		return name + ": " + c.Change
	case c.Change == "added":
		return name + ": added: " + c.New
	case c.Change == "removed":
		return name + ": removed (was " + c.Old + ")"
	}
	return name + ": " + c.Old + " → " + c.New
}
