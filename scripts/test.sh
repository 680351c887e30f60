#!/usr/bin/env bash
# README test command: vet and test (unit + integration) against the private
# engine from scripts/engine.sh, which is stopped again on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

# Stop the engine on any exit, keeping the script's (i.e. go test's) status.
cleanup() {
  local rc=$?
  scripts/engine.sh down || true
  exit "$rc"
}
trap cleanup EXIT

scripts/engine.sh up
eval "$(scripts/engine.sh env)"
export JOBRUN_INTEGRATION=1
export JOBRUN_TEST_IMAGE=jobrun-test/busybox:latest

go vet ./...
go test -count=1 -timeout 40m ./...
