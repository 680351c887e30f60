#!/usr/bin/env bash
# Release binaries and the image's build context, offline (modules come from
# the module cache, or the proxy GOPROXY names).
#
#   scripts/release.sh binaries   static jobrun for linux/amd64, linux/arm64,
#                                 darwin/amd64, darwin/arm64 in dist/, and
#                                 dist/SHA256SUMS (check: cd dist && sha256sum -c SHA256SUMS)
#   scripts/release.sh context    dist/image/: the linux binary for the engine's
#                                 architecture and the host's CA bundle, which
#                                 the Dockerfile copies (GOARCH overrides)
#
# VERSION (default: git describe --tags --always --dirty) becomes main.version,
# which `jobrun version` prints beside the commit Go stamps from the checkout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
PLATFORMS=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

build() { # GOOS GOARCH OUTPUT
  # CGO off: a static binary that runs on any distribution and in FROM scratch.
  # -buildvcs=true: the commit and dirty flag are stamped even where GOFLAGS
  # says otherwise (go env GOFLAGS).
  GOOS=$1 GOARCH=$2 CGO_ENABLED=0 go build -buildvcs=true -trimpath \
    -ldflags "-s -w -X main.version=$VERSION" -o "$3" .
}

binaries() {
  rm -rf dist/jobrun-* dist/SHA256SUMS
  mkdir -p dist
  for p in "${PLATFORMS[@]}"; do
    build "${p%/*}" "${p#*/}" "dist/jobrun-${p%/*}-${p#*/}"
  done
  (cd dist && sha256sum jobrun-* >SHA256SUMS)
  echo "release: jobrun $VERSION in dist/:"
  (cd dist && ls -l jobrun-* SHA256SUMS)
}

context() {
  local arch=${GOARCH:-}
  if [[ -z $arch ]]; then
    arch=$(docker version --format '{{.Server.Arch}}' 2>/dev/null) || arch=$(go env GOARCH)
  fi
  [[ -r $CA_BUNDLE ]] || { echo "release: no CA bundle at $CA_BUNDLE (apt-get install ca-certificates, or set CA_BUNDLE)" >&2; exit 1; }
  rm -rf dist/image
  mkdir -p dist/image
  build linux "$arch" dist/image/jobrun
  cp "$CA_BUNDLE" dist/image/ca-certificates.crt
  echo "release: dist/image holds jobrun $VERSION (linux/$arch) and the CA bundle"
}

case ${1:-} in
  binaries) binaries ;;
  context) context ;;
  *) echo "usage: $0 binaries | context" >&2; exit 2 ;;
esac
