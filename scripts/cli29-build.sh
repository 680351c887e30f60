#!/usr/bin/env bash
# Builds the Docker CLI 29 offline from the Go module proxy, once: the
# `docker stack deploy` that the spec-equality test (stackequality_test.go)
# holds jobrun deploy against. github.com/docker/cli has no go.mod, only a
# vendor.mod and vendor.sum (its zip on the proxy keeps no more of vendor/
# than modules.txt): the build copies the module, names vendor.mod go.mod
# and vendor.sum go.sum, as docker/cli's own scripts/with-go-mod.sh does,
# and builds with the versions they pin, from the Go module proxy. The
# binary goes to $BIN/docker; a stamp of the pinned version makes a second
# run a no-op.
#
#   scripts/cli29-build.sh        build it if missing, print $BIN/docker
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

CLI=v29.10.0+incompatible # the newest docker/cli the Go module proxy serves
CLI_VERSION=29.10.0
SWARMKIT=v2.1.2 # in place of vendor.mod's v2.1.3 (below)
BIN=${JOBRUN_CLI29_BIN:-/var/cache/jobrun-cli29/bin}
STAMP="cli=$CLI swarmkit=$SWARMKIT"

if [[ -x $BIN/docker && -f $BIN/.stamp && $(cat "$BIN/.stamp") == "$STAMP" ]]; then
  echo "$BIN/docker"
  exit 0
fi
mkdir -p "$BIN"
echo "cli29: building docker $CLI_VERSION (github.com/docker/cli@$CLI), a minute or two" >&2
src=$(go mod download -json "github.com/docker/cli@$CLI" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -n $src && -f $src/vendor.mod ]] || { echo "cli29: no vendor.mod in the module's directory '$src'" >&2; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src/." "$work"
chmod -R u+w "$work"
cp "$work/vendor.mod" "$work/go.mod"
cp "$work/vendor.sum" "$work/go.sum"
rm -rf "$work/vendor"
# The proxy refuses swarmkit v2.1.3, which vendor.mod pins ("not
# available"); v2.1.2 is the newest it serves. The CLI takes only the API
# types and the service defaults of `docker service create` from it, none
# of which stack deploy converts with.
(cd "$work" && go mod edit -replace "github.com/moby/swarmkit/v2=github.com/moby/swarmkit/v2@$SWARMKIT")
# The tags and version of docker/cli's scripts/build/.variables for a
# static binary (CGO off: no libc to link).
(cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -trimpath \
  -tags "grpcnotrace osusergo netgo" \
  -ldflags "-w -X github.com/docker/cli/cli/version.Version=$CLI_VERSION -X github.com/docker/cli/cli/version.GitCommit=$CLI" \
  -o "$BIN/docker.new" ./cmd/docker)
mv "$BIN/docker.new" "$BIN/docker"
echo "$STAMP" >"$BIN/.stamp"
echo "$BIN/docker"
