package stackdeploy

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/schema"
	composetypes "github.com/docker/cli/cli/compose/types"
)

// Stdin is the file name that reads the stack file from stdin, as
// docker stack deploy -c - does.
const Stdin = "-"

// ConfigDetails reads the stack files as docker stack deploy -c a.yml -c
// b.yml does, for loader.Load to merge in order: relative paths in them are
// from the first file's directory (the current one for a lone "-"), and the
// version is the first file's. env is the interpolation environment; unlike
// the CLI, which takes the process's, the caller decides it.
func ConfigDetails(files []string, stdin io.Reader, env map[string]string) (composetypes.ConfigDetails, error) {
	var details composetypes.ConfigDetails
	if len(files) == 0 {
		return details, errors.New("specify a Compose file (with --compose-file)")
	}
	dir, err := workingDir(files)
	if err != nil {
		return details, err
	}
	details.WorkingDir = dir
	for _, name := range files {
		file, err := readFile(name, stdin)
		if err != nil {
			return details, err
		}
		details.ConfigFiles = append(details.ConfigFiles, file)
	}
	details.Version = schema.Version(details.ConfigFiles[0].Config)
	details.Environment = env
	return details, nil
}

// workingDir is the directory docker stack deploy resolves relative paths
// from: the first file's, or the current one when the only file is stdin.
func workingDir(files []string) (string, error) {
	if len(files) == 1 && files[0] == Stdin {
		dir, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("working directory for a stack file on stdin: %w", err)
		}
		return dir, nil
	}
	abs, err := filepath.Abs(files[0])
	if err != nil {
		return "", fmt.Errorf("working directory of %s: %w", files[0], err)
	}
	return filepath.Dir(abs), nil
}

// readFile reads and parses one stack file, keeping its name as given (the
// loader names it in its errors).
func readFile(name string, stdin io.Reader) (composetypes.ConfigFile, error) {
	var data []byte
	var err error
	if name == Stdin {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return composetypes.ConfigFile{}, fmt.Errorf("read %s: %w", name, err)
	}
	dict, err := loader.ParseYAML(data)
	if err != nil {
		return composetypes.ConfigFile{}, fmt.Errorf("parse %s: %w", name, err)
	}
	return composetypes.ConfigFile{Filename: name, Config: dict}, nil
}

// Warnings are what docker stack deploy says of the files before it deploys
// them, one line per warning: the unsupported options it ignores, and each
// deprecated one with its reason, in the CLI's words and sorted. The
// services named in skip are left out (jobrun runs its jobs itself and
// reads their restart:).
func Warnings(details composetypes.ConfigDetails, skip []string) []string {
	dicts := make([]map[string]any, 0, len(details.ConfigFiles))
	for _, f := range details.ConfigFiles {
		dicts = append(dicts, withoutServices(f.Config, skip))
	}
	var out []string
	if names := loader.GetUnsupportedProperties(dicts...); len(names) > 0 {
		out = append(out, "Ignoring unsupported options: "+strings.Join(names, ", "))
	}
	deprecated := loader.GetDeprecatedProperties(dicts...)
	for _, name := range slices.Sorted(maps.Keys(deprecated)) {
		out = append(out, fmt.Sprintf("Ignoring deprecated options: %s: %s", name, deprecated[name]))
	}
	return out
}

// withoutServices is a shallow copy of a file's dict without the skipped
// services, nor any that is not a mapping (the loader rejects those, but
// GetUnsupportedProperties would panic on one before it).
func withoutServices(dict map[string]any, skip []string) map[string]any {
	services, ok := dict["services"].(map[string]any)
	if !ok {
		return dict
	}
	kept := make(map[string]any, len(services))
	for name, svc := range services {
		if _, isMap := svc.(map[string]any); isMap && !slices.Contains(skip, name) {
			kept[name] = svc
		}
	}
	out := maps.Clone(dict)
	out["services"] = kept
	return out
}

// Load merges and converts the files of details, as docker stack deploy
// does, with loader.Load.
//
// The loader validates each file against its schema through jsonschema v6,
// which names the schema by a file URL made from the working directory: in
// a directory whose path is no valid URL ("50%_done") every file fails with
// `parse "file:///…/schema.json": invalid URL escape`. docker/cli v29 fails
// so too; jobrun validates from the root directory instead (the paths in
// the files are resolved from details.WorkingDir, not from the process's).
func Load(details composetypes.ConfigDetails) (*composetypes.Config, error) {
	if wd, err := os.Getwd(); err == nil {
		if _, err := url.Parse("file://" + filepath.ToSlash(wd)); err != nil {
			if err := os.Chdir("/"); err == nil {
				defer func() { _ = os.Chdir(wd) }()
			}
		}
	}
	return loader.Load(details)
}
