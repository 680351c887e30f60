package jobs

import (
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

// TestFailures says each distinct failure once, the first one first, with
// the attempts it covers.
func TestFailures(t *testing.T) {
	code := func(n int) *int { return &n }
	failed := func(n int, line string) Attempt {
		return Attempt{Number: n, State: swarm.TaskStateFailed, ExitCode: code(1), ErrorLine: line}
	}
	integrity, duplicate := "django.db.utils.IntegrityError: (1062, …)", "django.db.utils.OperationalError: (1060, …)"
	attempts := []Attempt{failed(1, integrity)}
	for n := 2; n <= 7; n++ {
		attempts = append(attempts, failed(n, duplicate))
	}
	attempts = append(attempts, Attempt{Number: 8, State: swarm.TaskStateRejected, Err: "No such image: app:1"}, Attempt{Number: 9, State: swarm.TaskStateRunning})
	got := Failures(attempts)
	want := []Failure{{Attempts: []int{1}, Error: integrity}, {Attempts: []int{2, 3, 4, 5, 6, 7}, Error: duplicate}, {Attempts: []int{8}, Error: "rejected: No such image: app:1"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("failures %+v, want %+v", got, want)
	}
	if s, w := FailureSummary(got), "attempt 1: "+integrity+"; attempts 2–7: "+duplicate+"; attempt 8: rejected: No such image: app:1"; s != w {
		t.Errorf("summary %q, want %q", s, w)
	}
}

func TestAttemptNumbers(t *testing.T) {
	for _, tt := range []struct {
		ns   []int
		want string
	}{
		{[]int{1}, "attempt 1"},
		{[]int{2, 3}, "attempts 2–3"},
		{[]int{1, 3, 5, 6, 7}, "attempts 1, 3, 5–7"},
	} {
		if got := AttemptNumbers(tt.ns); got != tt.want {
			t.Errorf("AttemptNumbers(%v) = %q, want %q", tt.ns, got, tt.want)
		}
	}
}
