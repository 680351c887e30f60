package main

// End-to-end proof that jobrun deploy creates what docker stack deploy
// creates: each stack file is deployed by jobrun, read back, removed, then
// deployed by the Docker CLI 29 (scripts/cli29-build.sh) under the same
// stack name and read back, and every service, network, secret and config
// spec is compared field by field. The specs are read as the docker CLI's
// JSON (docker service inspect, …), not through Go client types, so that
// the test holds whatever client jobrun is built on.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// equalityCase is a stack file both deploy.
type equalityCase struct {
	name string
	// file writes the stack file jobrun deploys, or names it, and returns
	// its path.
	file func(s *engineStack) string
	// jobs are jobrun's jobs in the file: docker stack deploy gets the file
	// without them, as TestDeployMatchesDockerStackDeploy gives it.
	jobs []string
	// secrets and networks the file names as external: made beforehand
	// when missing (and removed after only then).
	secrets, networks []string
	// unpullable: its images are not on the engine and no registry is
	// reached, so its tasks are rejected and jobrun's deploy ends timed out
	// (exit 5) once the specs are made.
	unpullable bool
}

// publicStack names a file of examples/public.
func publicStack(name string) func(*engineStack) string {
	return func(*engineStack) string {
		p, err := filepath.Abs(filepath.Join("examples", "public", name))
		if err != nil {
			panic(err)
		}
		return p
	}
}

var equalityCases = []equalityCase{
	{name: "voting", file: publicStack("voting.yml"), unpullable: true},
	{name: "atsea", file: publicStack("atsea.yml"), unpullable: true,
		secrets: []string{"postgres_password", "staging_token", "revprox_key", "revprox_cert"}},
	{name: "swarmprom", file: publicStack("swarmprom.yml"), unpullable: true},
	{name: "swarmpit", file: publicStack("swarmpit.yml"), unpullable: true},
	{name: "prometheus", file: publicStack("prometheus.yml"), unpullable: true},
	{name: "dogvscat-portainer", file: publicStack("dogvscat-portainer.yml"), unpullable: true, networks: []string{"proxy"}},
	// The todobackend stack without its jobs on both sides: they would run
	// the real migration (TestTodobackendRelease does).
	{name: "todobackend", unpullable: true, secrets: []string{"todobackend_mysql_password"},
		file: func(s *engineStack) string {
			b, err := os.ReadFile(filepath.Join("examples", "stack.yml"))
			if err != nil {
				s.t.Fatal(err)
			}
			path := filepath.Join(s.dir, "stack.yml")
			if err := os.WriteFile(path, []byte(withoutServices(string(b), "collectstatic", "migrate")), 0o644); err != nil {
				s.t.Fatal(err)
			}
			return path
		}},
	// The test stacks, their jobs run by jobrun.
	{name: "release", jobs: []string{"migrate", "smoke"},
		file: func(s *engineStack) string { return s.writeStack("stack.yml", releaseStack) }},
	{name: "dryrun", jobs: []string{"migrate"},
		file: func(s *engineStack) string {
			for name, data := range map[string]string{"token.txt": "s3cret-file-value", "settings.txt": "mode=fast"} {
				if err := os.WriteFile(filepath.Join(s.dir, name), []byte(data), 0o600); err != nil {
					s.t.Fatal(err)
				}
			}
			return s.writeStack("stack.yml", dryRunStack)
		}},
}

// TestStackSpecsEqualDockerStackDeploy: for every file, each spec jobrun
// deploy creates equals the one docker stack deploy (CLI 29) creates, but
// for what the engine assigns (IDs, versions, times, subnets from its pool,
// VXLAN IDs), and a dry run right after jobrun's deploy reads unchanged.
func TestStackSpecsEqualDockerStackDeploy(t *testing.T) {
	long(t)
	if os.Getenv("JOBRUN_INTEGRATION") != "1" {
		t.Skip("needs a swarm engine: run scripts/test.sh (sets JOBRUN_INTEGRATION=1)")
	}
	bin := os.Getenv("JOBRUN_CLI29")
	if bin == "" {
		bin = "/var/cache/jobrun-cli29/bin/docker"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("needs the Docker CLI 29: scripts/cli29-build.sh builds it (%v)", err)
	}
	tag(t, bin)
	// One after the other: the public files publish the same host ports.
	for _, c := range equalityCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, bin) })
	}
}

// tag makes the release stacks' app image from the test image, as
// releaseEnv does.
func tag(t *testing.T, bin string) {
	cli := dockerCLI{t: t, bin: bin}
	cli.run(nil, "image", "tag", testImage(), "jobrun-test/app:v1")
}

func (c equalityCase) run(t *testing.T, bin string) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &engineStack{t: t, name: "eq" + hex.EncodeToString(b[:]), dir: t.TempDir()}
	cli := dockerCLI{t: t, bin: bin}
	for _, name := range c.secrets {
		cli.external("secret", name)
	}
	for _, name := range c.networks {
		cli.external("network", name)
	}
	t.Cleanup(func() { cli.removeStack(s.name) })
	file := c.file(s)

	args := []string{"deploy", "-c", file, "--version", "v1", "--resolve-image", "never"}
	if c.unpullable {
		args = append(args, "--deploy-timeout", "1s")
	}
	r := s.jobrun(nil, args...)
	if r.code != 0 && !(c.unpullable && r.code == 5) {
		t.Fatalf("jobrun deploy: exit %d", r.code)
	}
	byJobrun := cli.snapshot(s.name, file)
	if len(byJobrun) == 0 {
		t.Fatal("jobrun deploy created nothing")
	}
	dry := s.jobrun(nil, "deploy", "-c", file, "--version", "v1", "--resolve-image", "never", "--dry-run")
	if dry.code != 0 {
		t.Errorf("dry run after the deploy: exit %d", dry.code)
	}
	checkUnchanged(t, dry.stdout, byJobrun)
	cli.removeStack(s.name)

	plain := file
	if len(c.jobs) > 0 {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		plain = filepath.Join(filepath.Dir(file), "plain.yml")
		if err := os.WriteFile(plain, []byte(withoutServices(string(b), c.jobs...)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// --detach: the CLI would wait for tasks that never run; it changes no
	// spec.
	cli.run([]string{"APP_VERSION=v1"}, "stack", "deploy", "--with-registry-auth", "--resolve-image", "never", "--detach=true", "-c", plain, s.name)
	byDocker := cli.snapshot(s.name, plain)

	t.Logf("compared %d objects: %s", len(byDocker), strings.Join(slices.Sorted(maps.Keys(byDocker)), ", "))
	if diffs := diffSnapshots(byJobrun, byDocker); len(diffs) > 0 {
		t.Errorf("jobrun deploy and docker stack deploy (CLI 29) differ in %d field(s):\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}

// checkUnchanged: the dry run calls each service unchanged and would
// create, update or remove nothing but jobs.
func checkUnchanged(t *testing.T, stdout string, deployed map[string]any) {
	t.Helper()
	for key := range deployed {
		kind, name, _ := strings.Cut(key, " ")
		if kind != "service" {
			continue
		}
		_, short, _ := strings.Cut(name, "_")
		if !strings.Contains(stdout, "= service "+short+": unchanged\n") {
			t.Errorf("dry run right after the deploy does not read \"= service %s: unchanged\":\n%s", short, stdout)
		}
	}
	for _, l := range strings.Split(stdout, "\n") {
		if (strings.HasPrefix(l, "+ ") || strings.HasPrefix(l, "~ ") || strings.HasPrefix(l, "- ")) && !strings.HasPrefix(l[2:], "job ") {
			t.Errorf("dry run right after the deploy would change something: %q", l)
		}
	}
}

// dockerCLI runs the Docker CLI 29 against the test engine (DOCKER_HOST).
type dockerCLI struct {
	t   *testing.T
	bin string
}

func (d dockerCLI) output(env []string, args ...string) (string, error) {
	cmd := exec.Command(d.bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (d dockerCLI) run(env []string, args ...string) string {
	d.t.Helper()
	out, err := d.output(env, args...)
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

// external makes a secret or overlay network of that name unless there is
// one, and removes it after the test only if it made it.
func (d dockerCLI) external(kind, name string) {
	d.t.Helper()
	if _, err := d.output(nil, kind, "inspect", name); err == nil {
		return
	}
	switch kind {
	case "secret":
		cmd := exec.Command(d.bin, "secret", "create", name, "-")
		cmd.Stdin = strings.NewReader("placeholder-" + name)
		if out, err := cmd.CombinedOutput(); err != nil {
			d.t.Fatalf("secret create %s: %v: %s", name, err, out)
		}
	default:
		d.run(nil, "network", "create", "--driver", "overlay", "--attachable", name)
	}
	d.t.Cleanup(func() { _, _ = d.output(nil, kind, "rm", name) })
}

// ids lists the IDs of a kind's objects with the label.
func (d dockerCLI) ids(kind, label string) []string {
	return strings.Fields(d.run(nil, kind, "ls", "-q", "--filter", "label="+label))
}

// removeStack removes what either deploy made for the stack, jobrun's
// records and lock included, and waits until it is gone.
func (d dockerCLI) removeStack(stack string) {
	d.t.Helper()
	ns := "com.docker.stack.namespace=" + stack
	deadline := time.Now().Add(60 * time.Second)
	for {
		// --detach: CLI 29's wait (waitOnTasks) spins without end, and
		// without a pause, while a removed service's task is not yet in a
		// final state; the loop here waits, with a deadline.
		_, _ = d.output(nil, "stack", "rm", "--detach=true", stack)
		for _, kind := range []string{"service", "config", "secret"} {
			if ids := d.ids(kind, "io.jobrun.stack="+stack); len(ids) > 0 {
				_, _ = d.output(nil, append([]string{kind, "rm"}, ids...)...)
			}
		}
		if ids := d.ids("volume", ns); len(ids) > 0 {
			_, _ = d.output(nil, append([]string{"volume", "rm"}, ids...)...)
		}
		left := 0
		for _, kind := range []string{"service", "network", "config", "secret", "volume"} {
			left += len(d.ids(kind, ns))
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			d.t.Errorf("stack %s: %d objects still there after a minute of docker stack rm", stack, left)
			return
		}
		time.Sleep(time.Second)
	}
}

// inspect reads the objects as docker KIND inspect prints them.
func (d dockerCLI) inspect(kind string, ids []string) []map[string]any {
	d.t.Helper()
	if len(ids) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(d.run(nil, append([]string{kind, "inspect"}, ids...)...)))
	dec.UseNumber()
	var objs []map[string]any
	if err := dec.Decode(&objs); err != nil {
		d.t.Fatalf("%s inspect: %v", kind, err)
	}
	return objs
}

// names maps the IDs of a kind's objects, all of them (a stack's external
// ones too), to their names.
func (d dockerCLI) names(kind string) map[string]string {
	args := []string{kind, "ls", "--format", "{{.ID}} {{.Name}}"}
	if kind == "network" {
		args = append(args, "--no-trunc") // secret and config IDs are whole
	}
	m := map[string]string{}
	for _, l := range strings.Split(d.run(nil, args...), "\n") {
		if id, name, ok := strings.Cut(l, " "); ok {
			m[id] = name
		}
	}
	return m
}

// snapshot reads the stack's services, networks, secrets and configs,
// keyed "KIND NAME", each as its spec with what the engine assigns left
// out and the IDs it refers to by turned into names. file is the stack
// file: a network's subnet is the engine's choice when the file names
// none.
func (d dockerCLI) snapshot(stack, file string) map[string]any {
	d.t.Helper()
	label := "com.docker.stack.namespace=" + stack
	text, err := os.ReadFile(file)
	if err != nil {
		d.t.Fatal(err)
	}
	ids := map[string]map[string]string{"network": d.names("network"), "secret": d.names("secret"), "config": d.names("config")}
	snap := map[string]any{}
	for _, n := range d.inspect("network", d.ids("network", label)) {
		for _, k := range []string{"Id", "Created", "Containers", "Peers", "Services", "Status"} {
			delete(n, k)
		}
		if opts, ok := n["Options"].(map[string]any); ok {
			delete(opts, "com.docker.network.driver.overlay.vxlanid_list") // the engine's
		}
		if !strings.Contains(string(text), "subnet:") {
			if ipam, ok := n["IPAM"].(map[string]any); ok {
				if cfgs, ok := ipam["Config"].([]any); ok {
					for _, c := range cfgs {
						if c, ok := c.(map[string]any); ok {
							for _, k := range []string{"Subnet", "Gateway"} {
								if _, ok := c[k]; ok {
									c[k] = "(from the engine's pool)"
								}
							}
						}
					}
				}
			}
		}
		snap[fmt.Sprint("network ", n["Name"])] = n
	}
	for _, kind := range []string{"service", "secret", "config"} {
		for _, o := range d.inspect(kind, d.ids(kind, label)) {
			spec, _ := o["Spec"].(map[string]any)
			named(spec, ids)
			snap[fmt.Sprint(kind, " ", spec["Name"])] = spec
		}
	}
	return snap
}

// named turns the network, secret and config IDs a service spec refers to
// into "<network NAME>" and so on.
func named(v any, ids map[string]map[string]string) {
	name := func(kind string, id any) string {
		if n, ok := ids[kind][fmt.Sprint(id)]; ok {
			return "<" + kind + " " + n + ">"
		}
		return fmt.Sprintf("<%s of unknown ID %v>", kind, id)
	}
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			switch k {
			case "SecretID":
				v[k] = name("secret", e)
			case "ConfigID":
				v[k] = name("config", e)
			case "Networks":
				if list, ok := e.([]any); ok {
					for _, n := range list {
						if n, ok := n.(map[string]any); ok {
							n["Target"] = name("network", n["Target"])
						}
					}
				}
			default:
				named(e, ids)
			}
		}
	case []any:
		for _, e := range v {
			named(e, ids)
		}
	}
}

// diffSnapshots lists every field in which the two differ, as
// "KIND NAME: PATH: jobrun VALUE, docker VALUE".
func diffSnapshots(jobrun, docker map[string]any) []string {
	var diffs []string
	for _, key := range unionKeys(jobrun, docker) {
		j, jok := jobrun[key]
		d, dok := docker[key]
		switch {
		case !dok:
			diffs = append(diffs, key+": only jobrun deploy created it")
		case !jok:
			diffs = append(diffs, key+": only docker stack deploy created it")
		default:
			diffValues(key+":", j, d, &diffs)
		}
	}
	return diffs
}

func diffValues(path string, j, d any, diffs *[]string) {
	jm, jok := j.(map[string]any)
	dm, dok := d.(map[string]any)
	if jok && dok {
		for _, k := range unionKeys(jm, dm) {
			jv, jin := jm[k]
			dv, din := dm[k]
			switch {
			case !din:
				*diffs = append(*diffs, fmt.Sprintf("%s %s: jobrun %s, docker (absent)", path, k, show(jv)))
			case !jin:
				*diffs = append(*diffs, fmt.Sprintf("%s %s: jobrun (absent), docker %s", path, k, show(dv)))
			default:
				diffValues(path+" "+k, jv, dv, diffs)
			}
		}
		return
	}
	jl, jok := j.([]any)
	dl, dok := d.([]any)
	if jok && dok && len(jl) == len(dl) {
		for i := range jl {
			diffValues(fmt.Sprintf("%s[%d]", path, i), jl[i], dl[i], diffs)
		}
		return
	}
	if show(j) != show(d) {
		*diffs = append(*diffs, fmt.Sprintf("%s jobrun %s, docker %s", path, show(j), show(d)))
	}
}

// show prints a value as JSON, its <, > and & as they are.
func show(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func unionKeys[V any](a, b map[string]V) []string {
	return slices.Compact(slices.Sorted(func(yield func(string) bool) {
		for k := range a {
			if !yield(k) {
				return
			}
		}
		for k := range b {
			if !yield(k) {
				return
			}
		}
	}))
}

// TestDiffSnapshots: the comparison names each differing field with both
// values, and each object only one side made.
func TestDiffSnapshots(t *testing.T) {
	parse := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	jobrun := parse(`{"service s_web": {"Name": "s_web", "Labels": {"a": "1"}, "TaskTemplate": {"Networks": [{"Target": "<network s_net>"}], "Placement": {"Constraints": ["node.role == manager"]}}}, "config s_c": {"Name": "s_c"}}`)
	docker := parse(`{"service s_web": {"Name": "s_web", "Labels": {"a": "2", "b": "x"}, "TaskTemplate": {"Networks": [{"Target": "<network s_other>"}], "Placement": {"Constraints": []}}}, "secret s_k": {"Name": "s_k"}}`)
	want := []string{
		"config s_c: only jobrun deploy created it",
		`secret s_k: only docker stack deploy created it`,
		`service s_web: Labels a jobrun "1", docker "2"`,
		`service s_web: Labels b: jobrun (absent), docker "x"`,
		`service s_web: TaskTemplate Networks[0] Target jobrun "<network s_net>", docker "<network s_other>"`,
		`service s_web: TaskTemplate Placement Constraints jobrun ["node.role == manager"], docker []`,
	}
	if got := diffSnapshots(jobrun, docker); !slices.Equal(got, want) {
		t.Errorf("diffSnapshots:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := diffSnapshots(jobrun, jobrun); len(got) > 0 {
		t.Errorf("a snapshot differs from itself: %q", got)
	}
}
