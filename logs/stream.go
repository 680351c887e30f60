package logs

import (
	"fmt"
	"strings"
)

// DefaultStreamTemplate is the tag the "Docker for AWS" daemon.json sets.
const DefaultStreamTemplate = "{{.Name}}-{{.ID}}"

// StreamNamer computes the stream the awslogs driver writes a task's
// container to, the way the driver itself does: awslogs-stream if set, else
// the tag template rendered by the engine's own code, else the container ID.
type StreamNamer struct {
	Fixed    string // awslogs-stream
	Template string // the tag; "" means the full container ID
	Image    string
}

// CheckTemplate reports a template the driver could not render.
func CheckTemplate(tmpl string) error {
	if _, err := parseTag(tmpl); err != nil {
		return fmt.Errorf("invalid log stream template %q: %w", tmpl, err)
	}
	return nil
}

// Name is the stream of task t.
func (n StreamNamer) Name(t Task) (string, error) {
	if n.Fixed != "" {
		return n.Fixed, nil
	}
	if t.ContainerID == "" {
		return "", fmt.Errorf("task %s has no container yet", t.ID)
	}
	if n.Template == "" {
		return t.ContainerID, nil
	}
	info := tagInfo{
		ContainerID:        t.ContainerID,
		ContainerName:      "/" + ContainerName(t),
		ContainerImageName: n.Image,
	}
	// What loggerutils.ParseLogTag does in the driver: the template, with the
	// engine's template functions, executed on the container's logger.Info.
	tmpl, err := parseTag(n.Template)
	if err != nil {
		return "", fmt.Errorf("invalid log stream template %q: %w", n.Template, err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, &info); err != nil {
		return "", fmt.Errorf("log stream template %q: %w", n.Template, err)
	}
	return b.String(), nil
}

// ContainerName is the name Swarm gives a task's container:
// <service>.<slot>.<task ID>, where a job's task has slot 0 and uses its
// node ID instead.
func ContainerName(t Task) string {
	slot := t.NodeID
	if t.Slot != 0 {
		slot = fmt.Sprint(t.Slot)
	}
	return strings.Join([]string{t.ServiceName, slot, t.ID}, ".")
}
