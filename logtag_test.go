package main

import (
	"strings"
	"testing"

	"jobrun/logs/cwlogstest"
)

// TestCloudWatchStreamTemplates: jobrun renders the awslogs tag as the
// driver does (logs/logtag.go: the engine's template functions and
// fields), so it reads each attempt from the very stream the engine's own
// driver wrote, whatever functions the tag uses.
func TestCloudWatchStreamTemplates(t *testing.T) {
	templates := []string{
		"{{.Name}}-{{.ID}}", // Docker for AWS
		"{{upper (truncate .Name 20)}}.{{.FullID}}",
		`{{join (split .Name ".") "_"}}{{pad "" 3 3}}-{{title "job"}}`,
	}
	for _, tmpl := range templates {
		t.Run(tmpl, func(t *testing.T) {
			s := newStack(t)
			srv := cwlogstest.NewServer()
			defer srv.Close()
			f := s.writeStack("stack.yml", `version: "3.7"
services:
  migrate:
    image: IMAGE
    command: ["sh", "-c", "echo written by the job"]
    logging:
      driver: awslogs
      options: {awslogs-endpoint: `+srv.URL+`, awslogs-group: docker-swarm-lg, awslogs-region: us-east-1, awslogs-create-group: "true", tag: '`+tmpl+`'}
    deploy:
      restart_policy: {condition: none}
`)
			r := s.jobrun(awsEnv, "-c", f, "migrate", "--version", "v1")
			streams := srv.Streams("docker-swarm-lg")
			if r.code != 0 || r.stdout != "written by the job\n" {
				t.Errorf("exit %d, stdout %q; want the job's line read back from its stream (the driver wrote %v)", r.code, r.stdout, streams)
			}
			if len(streams) != 1 || !strings.Contains(r.stderr, streams[0]) {
				t.Errorf("the driver wrote streams %v; jobrun's summary names another:\n%s", streams, r.stderr)
			}
		})
	}
}
