package history

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"jobrun/commands/cmdutil"
	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/jobs"
)

func TestHistory(t *testing.T) {
	engine := &cmdtest.Engine{}
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if err := engine.Save("todo",
		cmdtest.Run{Job: "migrate", Version: "v1", Outcome: jobs.Failed, At: t0, Who: "ana (GitHub Actions)", Failures: []jobs.Failure{
			{Attempts: []int{1}, Error: "django.db.utils.IntegrityError: (1062, …)"}, {Attempts: []int{2, 3}, Error: "django.db.utils.OperationalError: (1060, …)"}}},
		cmdtest.Run{Job: "migrate", Version: "v2", Outcome: jobs.Succeeded, At: t0.Add(time.Minute), Who: "ana@ops1"},
		cmdtest.Run{Job: "collectstatic", Version: "v2", Outcome: jobs.Succeeded, At: t0.Add(2 * time.Minute), Who: "ana@ops1"},
	); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, job, output string
		want              []string // lines of stdout, in order
	}{
		{name: "every job", output: "text", want: []string{"RUN", "migrate         v1            failed       0/7       2026-11-26T12:00:00Z  1.5s       ana (GitHub Actions)      attempt 1: django.db.utils.IntegrityError: (1062, …); attempts 2–3: django.db.utils.OperationalError: (1060, …)", "migrate         v2", "collectstatic   v2"}},
		{name: "one job", job: "migrate", output: "text", want: []string{"RUN", "migrate         v1", "migrate         v2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, _ := cmdtest.Factory(engine, t0)
			err := Run(context.Background(), f, &Options{Common: cmdutil.Common{Stack: "todo", ConnectTimeout: time.Second}, Job: tt.job, Output: tt.output})
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("stdout:\n%s\nwant %d lines", out.String(), len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d %q lacks %q", i, lines[i], w)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		f, out, _ := cmdtest.Factory(engine, t0)
		if err := Run(context.Background(), f, &Options{Common: cmdutil.Common{Stack: "todo"}, Output: "json"}); err != nil {
			t.Fatal(err)
		}
		var doc struct{ Runs []jobs.Record }
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Runs) != 3 {
			t.Fatalf("stdout is not one document of 3 runs: %v\n%s", err, out.String())
		}
	})
	for _, tt := range []struct{ name, stack, job, want string }{
		{name: "no runs of the job", stack: "todo", job: "createsuperuser", want: "jobrun: job createsuperuser has no recorded runs in stack todo\n"},
		{name: "no runs in the stack", stack: "empty", want: "jobrun: stack empty has no recorded runs\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errb := cmdtest.Factory(engine, t0)
			if err := Run(context.Background(), f, &Options{Common: cmdutil.Common{Stack: tt.stack}, Job: tt.job, Output: "text"}); err != nil {
				t.Fatal(err)
			}
			if out.Len() != 0 || errb.String() != tt.want {
				t.Errorf("stdout %q stderr %q, want nothing and %q", out.String(), errb.String(), tt.want)
			}
		})
	}
}
