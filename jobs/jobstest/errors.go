package jobstest

import (
	"errors"
	"strings"
	"testing"
)

// WantExit checks that err is one of jobrun's errors with exit code want (the
// code jobrun exits with, through ExitCode) and a one-line message holding
// every word: what a user sees on stderr. It stops the test if err is not.
func WantExit(t testing.TB, err error, want int, words ...string) {
	t.Helper()
	var coded interface{ ExitCode() int }
	if !errors.As(err, &coded) {
		t.Fatalf("err = %v (%T), want an error with exit code %d", err, err, want)
	}
	if got := coded.ExitCode(); got != want {
		t.Fatalf("err = %v: exit code %d, want %d", err, got, want)
	}
	msg := err.Error()
	if strings.ContainsRune(msg, '\n') {
		t.Errorf("message is not one line: %q", msg)
	}
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q does not contain %q", msg, w)
		}
	}
}
