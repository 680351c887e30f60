package jobs

// TEMPORARY until deploy/stackdeploy lands.

import (
	"io"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
)

func tmpConfigDetails(files []string, _ io.Reader) (composetypes.ConfigDetails, error) {
	var d composetypes.ConfigDetails
	d.WorkingDir, _ = filepath.Abs(filepath.Dir(files[0]))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return d, err
		}
		c, err := loader.ParseYAML(b)
		if err != nil {
			return d, err
		}
		d.ConfigFiles = append(d.ConfigFiles, composetypes.ConfigFile{Filename: f, Config: c})
	}
	return d, nil
}
