package cmdutil

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestNotifyURLs: an empty URL (a CI secret that is not set) is none.
func TestNotifyURLs(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want []string
	}{
		{"unset secret", "", nil, []string{}},
		{"one from the environment", "https://hooks.example/a", nil, []string{"https://hooks.example/a"}},
		{"empty flag among others", "", []string{"--notify", "", "--notify", "https://hooks.example/b"}, []string{"https://hooks.example/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("JOBRUN_NOTIFY", tt.env)
			var got []string
			app := &cli.App{Flags: []cli.Flag{NotifyFlag()}, Action: func(c *cli.Context) error {
				got = NotifyURLs(c)
				return nil
			}}
			if err := app.Run(append([]string{"jobrun"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || CheckNotify(got) != nil {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
