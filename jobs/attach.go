package jobs

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/logs"
)

// Attacher is what an interactive exec asks of the engine of the node its
// task runs on: a swarm task can only be attached through that engine.
type Attacher interface {
	ContainerAttach(ctx context.Context, container string, options client.ContainerAttachOptions) (client.ContainerAttachResult, error)
	ContainerResize(ctx context.Context, container string, options client.ContainerResizeOptions) (client.ContainerResizeResult, error)
}

// Terminal is jobrun's own terminal, as an exec with a TTY uses it.
type Terminal struct {
	Out     io.Writer                             // the container's output, raw
	Raw     func() (restore func())               // puts stdin in raw mode
	Size    func() (height, width uint, ok bool)  // the window's size
	Resized func(context.Context) <-chan struct{} // the window changed size
}

// AttachSource is the log source of an exec with stdin (-i): it attaches
// jobrun's stdin to the task's container once it exists. Without a TTY the
// output still comes from Source, as a run's does; with one (Terminal) the
// output is the attached terminal's, written raw and kept nowhere: it echoes
// what was typed.
type AttachSource struct {
	logs.Source
	Engine   Attacher
	In       io.Reader
	Terminal *Terminal // nil: no TTY
	After    func(time.Duration) <-chan time.Time
}

// Follow attaches to the task's container, sends stdin to it, and copies
// its output until the container's output ends or ctx is done.
func (a *AttachSource) Follow(ctx context.Context, t logs.Task, ended <-chan struct{}, stdout, stderr io.Writer) error {
	tty := a.Terminal != nil
	resp, err := a.Engine.ContainerAttach(ctx, t.ContainerID, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: tty, Stderr: tty, Logs: tty})
	if err != nil {
		err = fmt.Errorf("attach to container %s: %s", shortID(t.ContainerID), OneLine(err))
		if tty {
			return err
		}
		return joinErr(err, a.Source.Follow(ctx, t, ended, stdout, stderr))
	}
	defer resp.Close()
	go func() {
		// Swarm gives a task no StdinOnce: the end of the input closes only
		// this side (see the README's -i).
		_, _ = io.Copy(resp.Conn, a.In)
		_ = resp.CloseWrite()
	}()
	if !tty {
		return a.Source.Follow(ctx, t, ended, stdout, stderr)
	}
	restore := a.Terminal.Raw()
	defer restore()
	resizeCtx, stopResize := context.WithCancel(ctx)
	defer stopResize()
	go a.resize(resizeCtx, t.ContainerID)
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(a.Terminal.Out, resp.Reader)
		copied <- err
	}()
	select {
	case err := <-copied:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resize gives the container the terminal's size: as soon as it runs (a
// created container cannot be resized; docker run retries the same way),
// then at every change of the window.
func (a *AttachSource) resize(ctx context.Context, containerID string) {
	set := func() error {
		h, w, ok := a.Terminal.Size()
		if !ok {
			return nil
		}
		_, err := a.Engine.ContainerResize(ctx, containerID, client.ContainerResizeOptions{Height: h, Width: w})
		return err
	}
	for try := 0; set() != nil && try < 50; try++ {
		select {
		case <-ctx.Done():
			return
		case <-a.After(100 * time.Millisecond):
		}
	}
	changes := a.Terminal.Resized(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			_ = set() // best effort: the next change tries again
		}
	}
}

func joinErr(a, b error) error {
	if b == nil {
		return a
	}
	return fmt.Errorf("%w; %w", a, b)
}

// MayNotRunOn says why Swarm would not place the job's task on node, ""
// when nothing says it may not. Constraints this cannot read are left to
// Swarm (the pending timeout then says so).
func MayNotRunOn(job Job, node swarm.Node) string {
	name := NodeName(node.Description.Hostname, node.ID)
	switch {
	case node.Spec.Availability != swarm.NodeAvailabilityActive:
		return fmt.Sprintf("node %s is %s, so Swarm places no task on it", name, node.Spec.Availability)
	case node.Status.State != swarm.NodeStateReady:
		return fmt.Sprintf("node %s is %s", name, node.Status.State)
	}
	p := job.Spec.TaskTemplate.Placement
	if p == nil {
		return ""
	}
	for _, c := range p.Constraints {
		if ok, known := constraintHolds(c, node); known && !ok {
			return fmt.Sprintf("job %s's placement constraint %q excludes node %s", job.Name, c, name)
		}
	}
	return ""
}

// constraintHolds evaluates one placement constraint as swarmkit does
// (== and !=, values compared without case); known is false for a key it
// cannot read.
func constraintHolds(c string, node swarm.Node) (ok, known bool) {
	op := "=="
	key, want, found := strings.Cut(c, "==")
	if !found {
		op = "!="
		if key, want, found = strings.Cut(c, "!="); !found {
			return false, false
		}
	}
	key, want = strings.TrimSpace(key), strings.TrimSpace(want)
	var have string
	switch {
	case key == "node.id":
		have = node.ID
	case key == "node.hostname":
		have = node.Description.Hostname
	case key == "node.role":
		have = string(node.Spec.Role)
	case key == "node.platform.os":
		have = node.Description.Platform.OS
	case key == "node.platform.arch":
		have = node.Description.Platform.Architecture
	case strings.HasPrefix(key, "node.labels."):
		have = node.Spec.Labels[strings.TrimPrefix(key, "node.labels.")]
	case strings.HasPrefix(key, "engine.labels."):
		have = node.Description.Engine.Labels[strings.TrimPrefix(key, "engine.labels.")]
	default:
		return false, false
	}
	return strings.EqualFold(have, want) == (op == "=="), true
}
