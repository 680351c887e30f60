package jobs

import (
	"strings"
	"testing"
)

// djangoTraceback is the end of what Django 3.2 writes when a migration
// fails at MariaDB: the Applying line without its newline, then a chained
// traceback on stderr.
const djangoTraceback = `Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/django/db/backends/utils.py", line 84, in _execute
    return self.cursor.execute(sql, params)
MySQLdb.IntegrityError: (1062, "Duplicate entry '' for key 'slug'")

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/manage.py", line 22, in <module>
    main()
django.db.utils.IntegrityError: (1062, "Duplicate entry '' for key 'slug'")
`

// TestOutputScan finds the error line, the retry-when texts and the first
// change in output written as jobs write it: in pieces, over two streams.
func TestOutputScan(t *testing.T) {
	retry := []string{"Can't connect to MySQL server"}
	tests := []struct {
		name          string
		rules         OutputRules
		stdout        []string // written in these pieces
		stderr        []string
		wantLine      string
		wantRetryable bool
		wantChanged   bool
	}{
		{
			name:        "a migration that failed halfway: the traceback's last exception",
			rules:       OutputRules{RetryWhen: retry, ChangesWhen: []string{"Applying "}},
			stdout:      []string{"Operations to perform:\n  Apply all migrations: todo\n", "  Applying todo.0003_slug..."},
			stderr:      []string{djangoTraceback[:100], djangoTraceback[100:]},
			wantLine:    `django.db.utils.IntegrityError: (1062, "Duplicate entry '' for key 'slug'")`,
			wantChanged: true,
		},
		{
			name:          "a database not ready: retryable, nothing changed",
			rules:         OutputRules{RetryWhen: retry, ChangesWhen: []string{"Applying "}},
			stderr:        []string{"Traceback (most recent call last):\n  File \"x\", line 1\n", `django.db.utils.OperationalError: (2002, "Can't connect to MySQL server on 'db' (115)")` + "\n"},
			wantLine:      `django.db.utils.OperationalError: (2002, "Can't connect to MySQL server on 'db' (115)")`,
			wantRetryable: true,
		},
		{
			name:        "no changes-when: any output may be a change",
			stderr:      []string{"ERROR 1045 (28000): Access denied for user 'todo'\n", "bye\n"},
			wantLine:    "ERROR 1045 (28000): Access denied for user 'todo'",
			wantChanged: true,
		},
		{
			name:        "no error word: the last stderr line, unended",
			stdout:      []string{"step 1\n"},
			stderr:      []string{"first\n", "  last one  "},
			wantLine:    "last one",
			wantChanged: true,
		},
		{
			name:   "stdout alone names no error",
			rules:  OutputRules{ChangesWhen: []string{"Applying "}},
			stdout: []string{"No migrations to apply.\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOutputScan(tt.rules)
			out, errw := s.writer(false), s.writer(true)
			for i := 0; i < max(len(tt.stdout), len(tt.stderr)); i++ {
				if i < len(tt.stdout) {
					_, _ = out.Write([]byte(tt.stdout[i]))
				}
				if i < len(tt.stderr) {
					_, _ = errw.Write([]byte(tt.stderr[i]))
				}
			}
			got := s.finding()
			want := scanFinding{Retryable: tt.wantRetryable, Changed: tt.wantChanged, ErrorLine: tt.wantLine}
			if got != want {
				t.Errorf("found %+v, want %+v", got, want)
			}
		})
	}
}

// TestOutputScanBoundsALine: a line with no end is kept to maxScanLine, and
// quoted to maxErrorLine.
func TestOutputScanBoundsALine(t *testing.T) {
	s := newOutputScan(OutputRules{})
	w := s.writer(true)
	for range 100 {
		_, _ = w.Write([]byte(strings.Repeat("x", 1000)))
	}
	if n := len(s.st.partial[1]); n != maxScanLine {
		t.Errorf("kept %d bytes of the line, want %d", n, maxScanLine)
	}
	if got := s.finding().ErrorLine; len([]rune(got)) != maxErrorLine+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("error line of %d runes, want %d and an ellipsis", len([]rune(got)), maxErrorLine+1)
	}
}
