#!/usr/bin/env bash
# README test command: vet and test (unit, integration against the private
# single-node engine of scripts/engine.sh, also over ssh through the sshd of
# scripts/sshd.sh, and the registry of scripts/registry.sh, and multi-node
# against the swarm of scripts/multinode.sh), then stop the engines, the sshd
# and the registry again. install_test.go builds the release binaries and the
# image (make release, make image) and runs them.
# Extra arguments go to go test, e.g. scripts/test.sh -run TestMultiNode -v;
# scripts/test.sh -short runs the quick subset (README: Development).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

# Stop the engines and the registry on any exit, keeping the script's (i.e. go
# test's) status.
cleanup() {
  local rc=$?
  scripts/registry.sh down || true
  scripts/sshd.sh down || true
  scripts/multinode.sh down || true
  scripts/engine.sh down || true
  exit "$rc"
}
trap cleanup EXIT

# zsh: the completion tests run the zsh script too.
command -v zsh >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zsh >/dev/null; }
# -short: the quick subset, on the single-node engine only (the tests marked
# long and the multi-node ones skip).
short=0
for arg in "$@"; do [[ $arg != -short && $arg != -test.short ]] || short=1; done
scripts/engine.sh up
if ((!short)); then
  scripts/multinode.sh up # loads the test image that engine.sh built
  eval "$(scripts/multinode.sh env)"
  export JOBRUN_MULTINODE=1
fi
scripts/registry.sh up  # the job image is pushed there and pinned by digest
scripts/sshd.sh up      # DOCKER_HOST=ssh://root@127.0.0.1:2222 reaches the engine
eval "$(scripts/engine.sh env)"
eval "$(scripts/registry.sh env)"
export JOBRUN_INTEGRATION=1
export JOBRUN_TEST_IMAGE=jobrun-test/busybox:latest

go vet ./...
go test -count=1 -timeout 60m "$@" ./...
