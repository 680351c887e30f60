// Package stackdeploy is jobrun's own `docker stack deploy
// --with-registry-auth --detach`: docker/cli v29 unexported the stack
// packages jobrun ran (issue 29), so this does the same steps, in the same
// order and with the same specs, on the exported cli/compose packages and
// the moby client.
//
// Where docker stack deploy walks a map (networks, services) this walks it
// sorted, so that the same files print the same lines on every run; the
// engine ends up in the same state either way.
package stackdeploy
