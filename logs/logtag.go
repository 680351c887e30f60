package logs

import (
	"bytes"
	"encoding/json"
	"strings"
	"text/template"
)

// tagFuncs are the functions the engine gives a log tag template (moby
// daemon/logger/templates): a stream name jobrun computes must be the one
// the awslogs driver computed from the same template.
var tagFuncs = template.FuncMap{
	"json":  tagJSON,
	"split": strings.Split,
	"join":  strings.Join,
	//lint:ignore SA1019 the engine's title is strings.Title, word boundaries and all
	"title":    strings.Title,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      tagPad,
	"truncate": tagTruncate,
}

func parseTag(format string) (*template.Template, error) {
	return template.New("log-tag").Funcs(tagFuncs).Parse(format)
}

// tagJSON is JSON without HTML escaping and without the encoder's newline.
func tagJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

// tagPad pads a non-empty string with spaces; an empty one stays empty.
func tagPad(s string, prefix, suffix int) string {
	if s == "" {
		return s
	}
	return strings.Repeat(" ", prefix) + s + strings.Repeat(" ", suffix)
}

func tagTruncate(s string, length int) string {
	if len(s) < length {
		return s
	}
	return s[:length]
}

// tagInfo is what a tag template reads of a container: the fields and
// methods of the engine's logger.Info that jobrun can know from a task.
// The short IDs slice as the engine's do: a template that asks for one
// the container does not have fails as it fails in the driver.
type tagInfo struct {
	ContainerID        string
	ContainerName      string // with the engine's leading "/"
	ContainerImageID   string
	ContainerImageName string
}

func (i *tagInfo) ID() string          { return i.ContainerID[:12] }
func (i *tagInfo) FullID() string      { return i.ContainerID }
func (i *tagInfo) Name() string        { return strings.TrimPrefix(i.ContainerName, "/") }
func (i *tagInfo) ImageID() string     { return i.ContainerImageID[:12] }
func (i *tagInfo) ImageFullID() string { return i.ContainerImageID }
func (i *tagInfo) ImageName() string   { return i.ContainerImageName }
