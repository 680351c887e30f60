#!/usr/bin/env bash
# Builds Docker Engine 29 offline from the Go module proxy, once: dockerd and
# docker-proxy (github.com/moby/moby/v2), containerd's runc shim, and a runc
# that knows the time namespace (Debian's runc 1.1.5 fails every container
# on Engine 29 with `namespace {"time" ""} does not exist`). The binaries go
# to $BIN; a stamp of the pinned versions makes a second run a no-op.
#
#   scripts/engine29-build.sh        build what is missing, print $BIN
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

MOBY=v2.0.0-beta.24           # releases/versions.yaml: Docker Engine 29.8.0
ENGINE_VERSION=29.8.0
CONTAINERD=v2.3.5
RUNC=v1.5.3
BIN=${JOBRUN_ENGINE29_BIN:-/var/cache/jobrun-engine29/bin}
STAMP="moby=$MOBY containerd=$CONTAINERD runc=$RUNC"

if [[ -f $BIN/.stamp && $(cat "$BIN/.stamp") == "$STAMP" ]]; then
  echo "$BIN"
  exit 0
fi
mkdir -p "$BIN"
# runc needs cgo and libseccomp for -tags seccomp.
if ! dpkg -s libseccomp-dev gcc pkg-config >/dev/null 2>&1; then
  echo "engine29: installing libseccomp-dev, gcc and pkg-config" >&2
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 libseccomp-dev gcc pkg-config >/dev/null
fi
# The build tags of moby's hack/make.sh for a static binary, without the
# graph drivers whose C libraries are not here.
tags="netgo osusergo static_build nri_no_wasm exclude_graphdriver_btrfs exclude_graphdriver_zfs"
echo "engine29: building dockerd and docker-proxy $ENGINE_VERSION ($MOBY), a few minutes" >&2
GOBIN=$BIN CGO_ENABLED=0 go install -tags "$tags" \
  -ldflags "-X github.com/moby/moby/v2/dockerversion.Version=$ENGINE_VERSION" \
  "github.com/moby/moby/v2/cmd/dockerd@$MOBY" "github.com/moby/moby/v2/cmd/docker-proxy@$MOBY"
echo "engine29: building containerd-shim-runc-v2 $CONTAINERD" >&2
GOBIN=$BIN CGO_ENABLED=0 go install "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD"
echo "engine29: building runc $RUNC" >&2
GOBIN=$BIN CGO_ENABLED=1 go install -tags seccomp "github.com/opencontainers/runc@$RUNC"
echo "$STAMP" >"$BIN/.stamp"
echo "$BIN"
