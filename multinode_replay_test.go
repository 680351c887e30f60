package main

// jobrun exec --run on the multi-node swarm: a replay runs on the node the
// attempt ran on, with the image digest the run pinned, after the tag has
// moved on in the registry and on that node; -it is refused there (jobrun
// talks to the manager); a drained node is said in one line, exit 14.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"jobrun/jobs"
)

// replayOnWorker fails on NODE, and says which bits it runs: v2's image
// has /marker, v1's none.
const replayOnWorker = `version: "3.7"
services:
  onnode:
    image: REPO
    hostname: "{{.Node.Hostname}}"
    command: ["sh", "-c", "echo \"bits $$(cat /marker 2>/dev/null || echo v1) on $$(hostname)\"; exit 3"]
    deploy:
      placement: {constraints: ["node.hostname == NODE"]}
      restart_policy: {condition: none}
`

func TestMultiNodeReplayOnItsNode(t *testing.T) {
	mn := multiNodeSwarm(t)
	reg := registryFromEnv(t)
	mn.registryOnManager(t)
	s := mn.stack(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	repo := reg.addr + "/jobrun-test/busybox:rp" + hex.EncodeToString(b[:])
	// v1 on every node, as a pull would leave it, and in the registry; a
	// second tag keeps it on the nodes once the tag moves (Engine 29's
	// containerd store finds name:tag@digest only through a name of it).
	for _, n := range []mnNode{mn.manager, mn.worker1, mn.worker2} {
		mnTag(t, n, testImage(), repo, repo+"-v1")
	}
	v1 := reg.pushTagged(t, s.engine, repo)
	env := mn.onManager("DOCKER_CONFIG=" + reg.dockerConfig(t))
	f := s.writeStack("stack.yml", strings.NewReplacer("REPO", repo, "NODE", mn.worker1.hostname).Replace(replayOnWorker))
	if r := s.jobrun(env, "-c", f, "onnode", "--version", "v1"); r.code != jobs.ExitFailed || r.stdout != "bits v1 on "+mn.worker1.hostname+"\n" {
		t.Fatalf("the run: exit %d, stdout %q; want 1 and v1's bits on %s", r.code, r.stdout, mn.worker1.hostname)
	}
	run := mn.recordOf(s, "onnode")
	if run.Image != repo+"@"+v1 || run.Attempts[0].NodeID != mn.worker1.id {
		t.Fatalf("record: image %s on node %s, want %s@%s on worker1", run.Image, run.Attempts[0].NodeID, repo, v1)
	}
	// The tag moves on: v2 is pushed under it, and is what it names on worker1.
	v2 := mnBuildMarked(t, mn.manager, repo)
	mnBuildMarked(t, mn.worker1, repo)
	if moved := reg.pushTagged(t, s.engine, repo); moved == v1 {
		t.Fatalf("the tag did not move: %s", moved)
	} else {
		t.Logf("tag %s: v1 %s, now %s (%s)", repo, v1, moved, v2)
	}
	r := s.jobrun(env, "exec", "onnode", "--run", run.RunID, "--attempt", "1")
	if r.code != 3 || r.stdout != "bits v1 on "+mn.worker1.hostname+"\n" {
		t.Errorf("replay: exit %d, stdout %q; want the attempt's 3 and v1's bits on %s", r.code, r.stdout, mn.worker1.hostname)
	}
	replayed := mn.recordOf(s, "onnode")
	if replayed.Exec == nil || replayed.Image != run.Image || replayed.Attempts[0].NodeID != mn.worker1.id {
		t.Errorf("the replay's record: exec %v, image %s on node %s; want an exec of %s on worker1", replayed.Exec != nil, replayed.Image, replayed.Attempts[0].NodeID, run.Image)
	}
	// -it attaches only through the engine of the task's node, and jobrun
	// talks to the manager.
	_, tty := openPTY(t)
	defer tty.Close()
	cmd := s.command(env, "exec", "-it", "onnode", "--run", run.RunID, "--attempt", "1", "--", "sh")
	cmd.Stdin = tty
	it := s.jobrunCmd(cmd)
	want := "ran on node " + mn.worker1.hostname + " (" + mn.worker1.id[:12] + ") at 10.213.8.12, not on the node jobrun talks to: point jobrun at that node's engine with a docker context (docker context create " + mn.worker1.hostname + " --docker host=ssh://USER@10.213.8.12"
	if it.code != jobs.ExitUsage || !strings.Contains(it.stderr, want) {
		t.Errorf("-it: exit %d, want %d and %q", it.code, jobs.ExitUsage, want)
	}
	s.assertNoService()
}

// A drained node takes no task: the replay says so in one line, exit 14,
// and creates nothing. Alone: draining a node moves the others' tasks.
func TestMultiNodeReplayNodeDrained(t *testing.T) {
	mn := multiNodeSwarmAlone(t)
	s := mn.stack(t)
	f := s.writeStack("stack.yml", strings.NewReplacer("REPO", testImage(), "NODE", mn.worker2.hostname).Replace(replayOnWorker))
	if r := s.jobrun(mn.onManager(), "-c", f, "onnode", "--version", "v1", "--resolve-image", "never"); r.code != jobs.ExitFailed {
		t.Fatalf("the run: exit %d, want 1", r.code)
	}
	run := mn.recordOf(s, "onnode")
	mnAvailability(t, s.engine, mn.worker2.id, swarm.NodeAvailabilityDrain)
	t.Cleanup(func() { mnAvailability(t, s.engine, mn.worker2.id, swarm.NodeAvailabilityActive) })
	r := s.jobrun(mn.onManager(), "exec", "onnode", "--run", run.RunID, "--attempt", "1")
	want := "jobrun: attempt 1 of run " + run.RunID + " cannot be replayed on its node: node " + mn.worker2.hostname + " (" + mn.worker2.id[:12] + ") is drain, so Swarm places no task on it; make it take tasks again (docker node update --availability active " + mn.worker2.hostname
	if r.code != jobs.ExitNodeGone || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, want %d and %q", r.code, jobs.ExitNodeGone, want)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 2 {
		t.Errorf("stderr has %d lines, want the engine's and the refusal", len(lines))
	}
	if svcs := s.jobServices(); len(svcs) > 0 {
		t.Errorf("a refused replay left service %s", svcs[0].Spec.Name)
	}
}

func mnAvailability(t *testing.T, engine *client.Client, id string, a swarm.NodeAvailability) {
	t.Helper()
	inspected, err := engine.NodeInspect(context.Background(), id, client.NodeInspectOptions{})
	node := inspected.Node
	if err == nil {
		node.Spec.Availability = a
		_, err = engine.NodeUpdate(context.Background(), id, client.NodeUpdateOptions{Version: node.Version, Spec: node.Spec})
	}
	if err != nil {
		t.Errorf("node %s %s: %v", id, a, err)
	}
}

// mnTag tags src as each of refs on node n, and removes the tags after.
func mnTag(t *testing.T, n mnNode, src string, refs ...string) {
	t.Helper()
	c := mnClient(t, n)
	for _, ref := range refs {
		if _, err := c.ImageTag(context.Background(), client.ImageTagOptions{Source: src, Target: ref}); err != nil {
			t.Fatalf("tag %s on %s: %v", ref, n.hostname, err)
		}
		t.Cleanup(func() { _, _ = mnClient(t, n).ImageRemove(context.Background(), ref, client.ImageRemoveOptions{}) })
	}
}

// mnBuildMarked builds v2 on node n, the test image with /marker, as tag;
// it returns the image's ID.
func mnBuildMarked(t *testing.T, n mnNode, tag string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range map[string]string{"Dockerfile": "FROM " + testImage() + "\nCOPY marker /marker\n", "marker": "v2"} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	c := mnClient(t, n)
	resp, err := c.ImageBuild(context.Background(), &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true})
	if err != nil {
		t.Fatalf("build on %s: %v", n.hostname, err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("build on %s: %s", n.hostname, out)
	}
	img, err := c.ImageInspect(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return img.ID
}

func mnClient(t *testing.T, n mnNode) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(n.host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var registryProxy sync.Once

// registryOnManager forwards 127.0.0.1:5000 in the manager's network
// namespace to the host's registry (scripts/registry.sh), so that the
// manager pins and pushes images as a manager with a registry does: the
// swarm's namespaces have no route to the host's loopback.
func (mn *multiNode) registryOnManager(t *testing.T) {
	t.Helper()
	pidfile := filepath.Join(filepath.Dir(strings.TrimPrefix(mn.manager.host, "unix://")), "docker.pid")
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	var listenErr error
	registryProxy.Do(func() {
		ln, err := listenInNetns("/proc/"+strconv.Itoa(pid)+"/ns/net", "127.0.0.1:5000")
		if err != nil {
			listenErr = err
			return
		}
		go forward(ln, "tcp", "127.0.0.1:5000") // for the rest of the test binary
	})
	if listenErr != nil {
		t.Fatalf("registry in the manager's namespace: %v", listenErr)
	}
}

// listenInNetns listens on addr inside the network namespace at path: the
// socket belongs to the namespace it was made in, whichever thread
// accepts on it later. The thread that entered the namespace is locked
// and never unlocked, so Go ends it with its goroutine.
func listenInNetns(path, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- result{err: err}
			return
		}
		ln, err := net.Listen("tcp", addr)
		done <- result{ln, err}
	}()
	r := <-done
	return r.ln, r.err
}

// forward copies each connection ln accepts to and from address on
// network, until ln is closed.
func forward(ln net.Listener, network, address string) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := net.Dial(network, address)
			if err != nil {
				return
			}
			defer out.Close()
			go func() { _, _ = io.Copy(out, in) }()
			_, _ = io.Copy(in, out)
		}()
	}
}
