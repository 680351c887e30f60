package cmdutil

import (
	"fmt"
	"io"
	"sync"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli/command"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/moby/moby/api/pkg/authconfig"
	registrytypes "github.com/moby/moby/api/types/registry"
	"github.com/spf13/pflag"

	"jobrun/jobs"
)

// DockerCLI is a command's one docker CLI: made on first use with the
// command's --context, then shared by the engine connection, the registry
// credentials of every job and docker stack deploy, so the docker config
// and the context store are read once per command.
type DockerCLI struct {
	// Getenv reads the environment: DOCKER_HOST and DOCKER_CONTEXT, as
	// docker/cli's own code reads them from the process (main's os.Getenv).
	Getenv  func(string) string
	once    sync.Once
	context string // the --context it was made with
	cli     *command.DockerCli
	err     error
}

// Get is the docker CLI, initialised as `docker --context dockerContext`
// would be (with DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH,
// DOCKER_CONTEXT and DOCKER_CONFIG). Only the first call's context counts:
// one command has one, and asking for another is a bug that is said.
func (d *DockerCLI) Get(dockerContext string) (*command.DockerCli, error) {
	d.once.Do(func() {
		d.context = dockerContext
		opts := cliflags.NewClientOptions()
		flags := pflag.NewFlagSet("docker", pflag.ContinueOnError)
		opts.InstallFlags(flags)
		opts.Context = dockerContext
		opts.SetDefaultOptions(flags)
		// The CLI's own notices (a deprecated option, a config it could not
		// read) are for docker's users; jobrun says what matters itself.
		d.cli, d.err = command.NewDockerCli(command.WithOutputStream(io.Discard), command.WithErrorStream(io.Discard))
		if d.err == nil {
			d.err = d.cli.Initialize(opts)
		}
		if d.err != nil {
			d.err = &jobs.UsageError{Msg: "docker client settings: " + jobs.Message(d.err) + ": fix ~/.docker/config.json (or DOCKER_CONFIG) and the docker context"}
		}
	})
	if dockerContext != "" && dockerContext != d.context {
		return nil, fmt.Errorf("the docker CLI was made for context %q, not %q", d.context, dockerContext)
	}
	return d.cli, d.err
}

// RegistryAuth is what `docker stack deploy --with-registry-auth` sends:
// the credentials for the image's registry from the docker config and its
// credential helpers; "" when there are none, and the engine pulls
// anonymously. An error is a config or credential helper that failed: the
// caller says so, as the pull that follows is anonymous too.
func (d *DockerCLI) RegistryAuth(image string) (string, error) {
	cli, err := d.Get("")
	if err != nil {
		return "", err
	}
	auth, err := command.RetrieveAuthTokenFromImage(cli.ConfigFile(), image)
	if err != nil {
		return "", fmt.Errorf("cannot read the registry credentials for %s%s (%s): fix the docker config's credsStore or credHelpers, or docker login again", image, credentialHelper(cli, image), jobs.Message(err))
	}
	// docker/cli encodes an empty config ("e30=") for a registry it has no
	// credentials for: that is none, and the hints must say so.
	if cfg, err := authconfig.Decode(auth); err == nil && *cfg == (registrytypes.AuthConfig{}) {
		return "", nil
	}
	return auth, nil
}

// credentialHelper names the helper the docker config picks for image's
// registry: " with docker-credential-NAME", or "" for the config file itself.
func credentialHelper(cli *command.DockerCli, image string) string {
	cfg := cli.ConfigFile()
	name := cfg.CredentialsStore
	if ref, err := reference.ParseNormalizedNamed(image); err == nil {
		if h, ok := cfg.CredentialHelpers[reference.Domain(ref)]; ok {
			name = h
		}
	}
	if name == "" {
		return ""
	}
	return " with docker-credential-" + name
}
