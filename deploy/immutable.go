package deploy

import (
	"fmt"
	"regexp"

	"jobrun/jobs"
)

// Swarm keeps a secret's and a config's data as they were created: an update
// may change their labels only (swarmkit's controlapi refuses anything else
// with "only updates to Labels are allowed"), and docker stack deploy updates
// every secret and config the stack file names. A file behind one that
// changed since cannot be deployed under the same name.

// dataRefusedRE matches docker stack deploy's error for such an update.
var dataRefusedRE = regexp.MustCompile(`failed to update (secret|config) (\S+): .*only updates to Labels are allowed`)

// changedData is the usage error for a deploy the engine refused because a
// secret's or config's data changed, or nil for any other error.
func changedData(err error) error {
	m := dataRefusedRE.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	return &jobs.UsageError{Msg: changedDataMsg(m[1], m[2])}
}

func changedDataMsg(kind, name string) string {
	return fmt.Sprintf("%s %s in the stack file has other data than the swarm's, and Swarm cannot change a %s's data: give it a new name in the stack file (name: %s_v2, say) and deploy again", kind, name, kind, name)
}
