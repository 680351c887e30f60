package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/swarm"
)

// ExtensionKey is the stack file's field for what jobrun alone reads of a
// service: `x-jobrun: {phase: pre-deploy, timeout: 10m, final-exit-codes:
// [3]}`. docker stack deploy ignores x- fields (Compose file 3.7 and later).
const ExtensionKey = "x-jobrun"

// LabelFinalExitCodes keeps a run's final exit codes on its service, so
// a jobrun that attaches to the run judges it the same.
const LabelFinalExitCodes = "io.jobrun.final-exit-codes"

// LabelRetryWhen and LabelChangesWhen keep a run's output rules on its
// service (JSON lists), so a jobrun that attaches to the run judges it the
// same.
const (
	LabelRetryWhen   = "io.jobrun.retry-when"
	LabelChangesWhen = "io.jobrun.changes-when"
)

// Extension is what x-jobrun says of a job's run (its phase is deploy's).
type Extension struct {
	Timeout        time.Duration // 0: --timeout's
	FinalExitCodes ExitCodes     // exit codes after which no attempt follows
	Output         OutputRules   // retry-when, changes-when
	// Plan is the command that says, read-only, what the job would do
	// (Django's migrate --plan): jobrun deploy --dry-run and jobrun plan
	// run it once as jobrun exec runs a command. nil: the job has none.
	Plan []string
}

// ExitCodes is a set of exit codes (1 to 255). It is an array, so a Policy
// that holds one stays comparable.
type ExitCodes [4]uint64

// NewExitCodes is the set of codes; each must be 1 to 255 (CheckExitCodes).
func NewExitCodes(codes ...int) ExitCodes {
	var s ExitCodes
	for _, c := range codes {
		if c >= 1 && c <= 255 {
			s[c/64] |= 1 << (c % 64)
		}
	}
	return s
}

// Has reports whether code is in the set.
func (s ExitCodes) Has(code int) bool {
	return code >= 1 && code <= 255 && s[code/64]&(1<<(code%64)) != 0
}

// List is the set's codes, smallest first.
func (s ExitCodes) List() []int {
	var out []int
	for c := 1; c <= 255; c++ {
		if s.Has(c) {
			out = append(out, c)
		}
	}
	return out
}

// extensionOf reads the job's x-jobrun; a mistake in it is a usage error
// that names the fix.
func extensionOf(svc composetypes.ServiceConfig) (Extension, error) {
	var ext Extension
	fields, _ := svc.Extras[ExtensionKey].(map[string]any)
	bad := func(field, want string) error {
		return &UsageError{Msg: fmt.Sprintf("job %s: %s %s %v is not %s: fix it in the stack file", svc.Name, ExtensionKey, field, fields[field], want)}
	}
	if t, ok := fields["timeout"]; ok {
		s, _ := t.(string)
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return ext, bad("timeout", "a positive duration such as 10m")
		}
		ext.Timeout = d
	}
	if codes, ok := fields["final-exit-codes"]; ok {
		list, _ := codes.([]any)
		for _, c := range list {
			n, ok := c.(int)
			if !ok || n < 1 || n > 255 {
				return ext, bad("final-exit-codes", "a list of exit codes from 1 to 255, such as [3]")
			}
			ext.FinalExitCodes = NewExitCodes(append(ext.FinalExitCodes.List(), n)...)
		}
		if list == nil {
			return ext, bad("final-exit-codes", "a list of exit codes from 1 to 255, such as [3]")
		}
	}
	var err error
	if ext.Output.RetryWhen, err = textList(fields, "retry-when"); err != nil {
		return ext, bad("retry-when", `a list of texts, such as ["Can't connect to MySQL server"]`)
	}
	if ext.Output.ChangesWhen, err = textList(fields, "changes-when"); err != nil {
		return ext, bad("changes-when", `a list of texts, such as ["Applying "]`)
	}
	if ext.Plan, err = commandList(fields, "plan"); err != nil {
		return ext, bad("plan", "a command as a list of words, such as [python3, manage.py, migrate, --plan]")
	}
	return ext, nil
}

// Extension is what the stack file's x-jobrun says of the job; a mistake
// in it is a usage error that names the fix.
func (s *Stack) Extension(job string) (Extension, error) {
	svc, err := s.Service(job)
	if err != nil {
		return Extension{}, err
	}
	return extensionOf(svc)
}

// commandList reads a field that is a command, as Compose's command: in
// its list form: words, the first one not empty (an argument may be);
// absent, it is nil. A string is refused: splitting it as a shell would is
// a guess about quoting.
func commandList(fields map[string]any, field string) ([]string, error) {
	words, err := stringList(fields, field)
	if words != nil && words[0] == "" {
		return nil, errors.New("no command")
	}
	return words, err
}

// textList reads a field that lists texts, none empty; absent, it is nil.
func textList(fields map[string]any, field string) ([]string, error) {
	texts, err := stringList(fields, field)
	if slices.Contains(texts, "") {
		return nil, errors.New("not a text")
	}
	return texts, err
}

// stringList reads a field that is a list of strings, not empty; absent,
// it is nil.
func stringList(fields map[string]any, field string) ([]string, error) {
	v, ok := fields[field]
	if !ok {
		return nil, nil
	}
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, errors.New("not a string")
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("not a list")
	}
	return out, nil
}

// CheckRetryWhen says what is wrong with --retry-when texts.
func CheckRetryWhen(texts []string) error {
	for _, s := range texts {
		if s == "" {
			return &UsageError{Msg: `--retry-when "" matches every output: give the text of a failure worth retrying, such as "Can't connect to MySQL server"`}
		}
	}
	return nil
}

// label keeps the rules on the run's service.
func (o OutputRules) label(labels map[string]string) {
	for key, texts := range map[string][]string{LabelRetryWhen: o.RetryWhen, LabelChangesWhen: o.ChangesWhen} {
		if texts != nil {
			data, _ := json.Marshal(texts) // a []string always marshals
			labels[key] = string(data)
		}
	}
}

// outputRulesFromLabels reads what label wrote.
func outputRulesFromLabels(labels map[string]string) OutputRules {
	var o OutputRules
	_ = json.Unmarshal([]byte(labels[LabelRetryWhen]), &o.RetryWhen) // absent or not ours: no rule
	_ = json.Unmarshal([]byte(labels[LabelChangesWhen]), &o.ChangesWhen)
	return o
}

// CheckExitCodes says what is wrong with exit codes given as final.
func CheckExitCodes(codes []int) error {
	for _, c := range codes {
		if c < 1 || c > 255 {
			return &UsageError{Msg: fmt.Sprintf("--final-exit-code %d is not an exit code a job can fail with: use 1 to 255", c)}
		}
	}
	return nil
}

// String is the codes as a label keeps them: "3,4".
func (s ExitCodes) String() string {
	codes := s.List()
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ",")
}

// exitCodesFromLabel reads what String wrote.
func exitCodesFromLabel(label string) ExitCodes {
	var codes []int
	for _, part := range strings.Split(label, ",") {
		if n, err := strconv.Atoi(part); err == nil {
			codes = append(codes, n)
		}
	}
	return NewExitCodes(codes...)
}

// finalExit is the failed attempt whose exit code the policy makes final.
func finalExit(attempts []Attempt, p Policy) (Attempt, bool) {
	for _, a := range attempts {
		if a.State == swarm.TaskStateFailed && a.ExitCode != nil && p.FinalExitCodes.Has(*a.ExitCode) {
			return a, true
		}
	}
	return Attempt{}, false
}
