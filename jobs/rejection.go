package jobs

import (
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// permanentRejections are the engine's words for a task it refused for a
// reason that holds on every node and every later attempt: the image cannot
// be had, the spec or a mount is invalid, the command cannot start. Every
// other rejection (Engine 29's "Pool overlaps" while a node still holds a
// removed network's subnet, a preparation cut short: "context canceled", a
// network not yet on the node) is an attempt lost to the engine: Swarm
// retries it under the restart policy, counts it, and jobrun follows.
var permanentRejections = []string{
	"No such image",
	"manifest unknown",
	"pull access denied",
	"unauthorized",
	"repository does not exist",
	"invalid reference format",
	"invalid mount",
	"invalid bind mount",
	"invalid volume mount",
	"invalid tmpfs",
	"invalid npipe",
	"bind source path does not exist",
	"unable to start container process: exec:", // runc: the command cannot be run
	"executable file not found",
	"exec format error",
	"dockerexec: image required",
}

// sameRejectionLimit is how many attempts in a row the engine may reject
// with the same words, over at least sameRejectionSpan, before jobrun takes
// the rejection as permanent: an unlisted permanent cause should not cost
// every attempt's restart delay, and a passing one rarely lasts this long.
// A short restart delay gets no such shortcut: "Pool overlaps" lasts as
// long as a removed network's last container takes to stop (its stop
// grace period), which three rejections 3 s apart do not outlast.
const (
	sameRejectionLimit = 3
	sameRejectionSpan  = time.Minute
)

// permanent reports whether the engine's error names a permanent class.
func permanent(err string) bool {
	for _, words := range permanentRejections {
		if strings.Contains(err, words) {
			return true
		}
	}
	return false
}

// finalRejection says why a rejection ends the run, if one does: a
// permanent rejection, or the same rejection sameRejectionLimit times in a
// row.
func finalRejection(attempts []Attempt) (string, bool) {
	run := 0
	for i, a := range attempts {
		if a.State != swarm.TaskStateRejected {
			run = 0
			continue
		}
		if permanent(a.Err) {
			return fmt.Sprintf("attempt %d rejected: %s", a.Number, a.Err), true
		}
		if run > 0 && attempts[i-1].Err == a.Err {
			run++
		} else {
			run = 1
		}
		if first := attempts[i-run+1]; run >= sameRejectionLimit && a.Updated.Sub(first.Updated) >= sameRejectionSpan {
			return fmt.Sprintf("attempts %d–%d rejected the same way: %s", a.Number-run+1, a.Number, a.Err), true
		}
	}
	return "", false
}
