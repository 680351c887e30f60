// Package version is `jobrun version`.
package version

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
)

// NewCommand is `jobrun version`; version is set when jobrun is built.
func NewCommand(f *cmdutil.Factory, version string) *cli.Command {
	return &cli.Command{
		Name: "version", Usage: "print jobrun's version",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(f.IO.Out, "jobrun %s\n", version)
			return err
		},
	}
}
