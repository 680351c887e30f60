#!/usr/bin/env bash
# README test command: vet and test (unit, integration against the private
# single-node engine of scripts/engine.sh, also over ssh through the sshd of
# scripts/sshd.sh, and the registry of scripts/registry.sh, and multi-node
# against the swarm of scripts/multinode.sh), then stop the engines, the sshd
# and the registry again. install_test.go builds the release binaries and the
# image (make release, make image) and runs them.
#
# Which engine (scripts/lib.sh, engine_family):
#  JOBRUN_ENGINE unset: the tests of what only Engine 20.10 does
#    (LEGACY_TESTS) on Debian's 20.10, then every test on Docker Engine 29
#    (built the first time, scripts/engine29-build.sh).
#  JOBRUN_ENGINE=20 or 29: every test on that engine alone.
# The multi-node tests run as a second go test beside the others (go_test).
# Extra arguments go to go test, e.g. scripts/test.sh -run TestMultiNode -v
# (a -run of yours replaces LEGACY_TESTS in the 20.10 run);
# scripts/test.sh -short runs the quick subset on one engine, 20.10 unless
# JOBRUN_ENGINE says 29, without the multi-node swarm (README: Development).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
source scripts/lib.sh # apt_update

# LEGACY_TESTS prove what jobrun does for Engine 20.10 alone: it orphans the
# task of a removed job service (moby/moby#44312), so jobrun's stop ends the
# task first and checks every node; it keeps a removed job's exited
# containers; and it is the oldest engine with replicated jobs (API 1.41; the
# legacy=1 cases run the replicas:1 form older ones get). Also on 20.10, as
# its API 1.41 is near the oldest the moby client speaks (1.40): that a deploy
# equals the Docker CLI 29's, and that the awslogs stream names equal the
# 20.10 driver's.
LEGACY_TESTS='^(TestStackSpecsEqualDockerStackDeploy|TestCloudWatchStreamTemplates|TestStopMeansStopped|TestMultiNodeStopMeansStopped|TestMultiNodeStopWorkerLost|TestInterruptStopsTheJob|TestSignals|TestServiceRemovedOutsideJobrun|TestNoExitedJobContainersLeft|TestRunFailsTwiceThenSucceeds)$'

# Stop everything of both engine families on any exit, keeping the script's
# (i.e. go test's) status.
cleanup() {
  local rc=$?
  scripts/registry.sh down || true
  down 20 || true
  down 29 || true
  exit "$rc"
}
trap cleanup EXIT

# down FAMILY: the family's sshd, multi-node swarm and engine, each tried.
down() {
  local rc=0 script
  for script in sshd multinode engine; do JOBRUN_ENGINE=$1 scripts/$script.sh down || rc=1; done
  return "$rc"
}

# up FAMILY MULTINODE: the family's engine, its multi-node swarm if MULTINODE
# is 1, the registry and its sshd.
up() {
  export JOBRUN_ENGINE=$1
  scripts/engine.sh up
  if (($2)); then scripts/multinode.sh up; fi # loads the test image that engine.sh built
  scripts/registry.sh up # the job image is pushed there and pinned by digest
  scripts/sshd.sh up     # DOCKER_HOST=ssh://root@127.0.0.1:2222 (2229 for 29) reaches the engine
}

# run_tests FAMILY MULTINODE GO-TEST-ARGS...: up FAMILY, then go test with the
# environment the tests read, in a subshell so that nothing of it is left
# for the next family. (set -e again: the caller may have turned it off to
# go on after a failure.)
run_tests() {
  local family=$1 multinode=$2
  shift 2
  (
    set -e
    up "$family" "$multinode"
    eval "$(scripts/engine.sh env)"
    if ((multinode)); then
      eval "$(scripts/multinode.sh env)"
      export JOBRUN_MULTINODE=1
    fi
    eval "$(scripts/registry.sh env)"
    export JOBRUN_INTEGRATION=1 JOBRUN_TEST_IMAGE=jobrun-test/busybox:latest
    echo "test: go test $* on Engine $family" >&2
    go_test "$multinode" "$@"
  )
}

# go_test MULTINODE GO-TEST-ARGS...: go test, and with MULTINODE and no -run,
# -skip, -bench or -fuzz of the caller's, the multi-node tests (TestMultiNode*) as a second
# go test beside the others: most of their time is waiting, alone, on a
# dockerd they killed, and they have a swarm of their own. Its output
# follows the first's, so that the two never interleave.
go_test() {
  local split=$1 arg out rc=0 pid
  shift
  # (-run does not pick benchmarks or fuzz targets: both would run them.)
  for arg in "$@"; do [[ ! $arg =~ ^--?(test\.)?(run|skip|bench|fuzz) ]] || split=0; done
  if ! ((split)); then
    go test -count=1 -timeout 60m -parallel 4 "$@"
    return
  fi
  out=$(mktemp)
  go test -count=1 -timeout 60m -parallel 4 -run '^TestMultiNode' "$@" >"$out" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null; rm -f "$out"' EXIT
  go test -count=1 -timeout 60m -parallel 4 -skip '^TestMultiNode' "$@" || rc=$?
  wait "$pid" || rc=$?
  echo "test: the multi-node tests (go test -run '^TestMultiNode', run beside the above):" >&2
  cat "$out"
  rm -f "$out"
  trap - EXIT
  return "$rc"
}

# zsh: the completion tests run the zsh script too.
command -v zsh >/dev/null || { apt_update && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 zsh >/dev/null; }
short=0
for arg in "$@"; do [[ $arg != -short && $arg != -test.short ]] || short=1; done
multinode=$((!short))

# The Docker CLI 29 whose docker stack deploy stackequality_test.go holds
# jobrun deploy against, built offline once (-short skips that test).
if ! ((short)); then
  JOBRUN_CLI29=$(bash scripts/cli29-build.sh)
  export JOBRUN_CLI29
fi
go vet ./...
# staticcheck, pinned (the Go module proxy has it by its module version).
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
if ((short)) || [[ -n ${JOBRUN_ENGINE:-} ]]; then
  run_tests "${JOBRUN_ENGINE:-20}" "$multinode" "$@" ./...
  exit
fi

# 29 first (a no-op once built): a build beside the tests would slow the
# engine's container starts under them.
bash scripts/engine29-build.sh >/dev/null # also installs gcc, which -race needs
# The unit packages (not the end-to-end one, which needs the engines) under
# the race detector.
go test -race -short -count=1 $(go list ./... | grep -vx jobrun)
# Each family runs to its end, whatever the other's result: the status is
# the first failure's.
set +e
run_tests 20 1 -run "$LEGACY_TESTS" "$@" .
status=$?
set -e
# The run must have found each test by its name: a renamed one would
# otherwise leave 20.10 unproven in silence.
want=$(tr '|' '\n' <<<"$LEGACY_TESTS" | wc -l)
found=$(go test -list "$LEGACY_TESTS" . | grep -c '^Test' || true)
if ((found != want)); then
  echo "test: LEGACY_TESTS names $want tests, go test -list finds $found: update it" >&2
  ((status)) || status=1
fi
down 20
set +e
run_tests 29 1 "$@" ./...
rc=$?
set -e
exit $((status ? status : rc))
