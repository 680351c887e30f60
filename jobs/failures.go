package jobs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/swarm"
)

// Failure is one way a run's attempts failed, and the attempts it covers.
type Failure struct {
	Attempts []int  `json:"attempts"`
	Error    string `json:"error"` // the attempts' error line, else how they ended
}

// Failures are the run's distinct failures, the first one first: after a
// migration failed halfway, every retry fails differently, and only the
// first failure says what went wrong.
func Failures(attempts []Attempt) []Failure {
	var out []Failure
	index := map[string]int{}
	for _, a := range attempts {
		if !a.Done() || a.State == swarm.TaskStateComplete {
			continue
		}
		what := a.ErrorLine
		if what == "" {
			what = describeEnd(a)
		}
		i, seen := index[what]
		if !seen {
			i = len(out)
			index[what] = i
			out = append(out, Failure{Error: what})
		}
		out[i].Attempts = append(out[i].Attempts, a.Number)
	}
	return out
}

// FailureSummary says each failure once: "attempt 1: IntegrityError…;
// attempts 2–7: OperationalError…".
func FailureSummary(fs []Failure) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = AttemptNumbers(f.Attempts) + ": " + f.Error
	}
	return strings.Join(parts, "; ")
}

// AttemptNumbers names attempts as a reader counts them: "attempt 1",
// "attempts 2–7", "attempts 1, 3, 5–6".
func AttemptNumbers(ns []int) string {
	if len(ns) == 1 {
		return "attempt " + strconv.Itoa(ns[0])
	}
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if j-i >= 1 {
			parts = append(parts, fmt.Sprintf("%d–%d", ns[i], ns[j]))
		} else {
			parts = append(parts, strconv.Itoa(ns[i]))
		}
		i = j + 1
	}
	return "attempts " + strings.Join(parts, ", ")
}
