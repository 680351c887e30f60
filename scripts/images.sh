#!/usr/bin/env bash
# Builds the test and demo images into the private engine (called by engine.sh
# up). There is no registry to pull from: the busybox test image is imported
# from the host's static busybox, and the real todobackend and MariaDB images
# from Debian bookworm root filesystems made with debootstrap from the mirror
# apt is configured with. An image is rebuilt only when what it is made of
# changed (a hash of its inputs is stored as the image label jobrun.build).
#
#   jobrun-test/busybox:latest     plain busybox, for integration tests
#   jobrun-test/todobackend-base:bookworm
#                                  Django 3.2, DRF, mysqlclient, uwsgi (no app)
#   385605022855.dkr.ecr.us-east-1.amazonaws.com/docker-in-aws/todobackend:VERSION
#                                  the base + /app of examples/todobackend at
#                                  VERSION (RELEASES below); CMD uwsgi on :8000
#   jobrun-test/mariadb-base:bookworm   MariaDB 10.11 server and client
#   jobrun-test/mariadb:10.11      the base + scripts/images/mariadb-entrypoint.sh
#
# debootstrap's root filesystems are kept as tarballs under $CACHE, keyed by
# suite, packages and the recipe, so the other engine family and the
# multi-node swarm (which also run this script) do not make them again.
set -euo pipefail
shopt -s inherit_errexit # make_rootfs runs in $(...): a failure there must stop it too
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh # apt_update
eval "$(scripts/engine.sh env)"

TEST_IMAGE=jobrun-test/busybox:latest
APP_BASE=jobrun-test/todobackend-base:bookworm
APP_REPO=385605022855.dkr.ecr.us-east-1.amazonaws.com/docker-in-aws/todobackend
DB_BASE=jobrun-test/mariadb-base:bookworm
DB_IMAGE=jobrun-test/mariadb:10.11
APP_SRC=examples/todobackend
DB_ENTRYPOINT=scripts/images/mariadb-entrypoint.sh
CACHE=${JOBRUN_IMAGES_CACHE:-/var/cache/jobrun-images}
SUITE=bookworm
APP_PACKAGES=python3-django,python3-djangorestframework,python3-mysqldb,mariadb-client,uwsgi,uwsgi-plugin-python3
DB_PACKAGES=mariadb-server,mariadb-client
# Each image tag is examples/todobackend with these releases/ laid over it, in
# order (examples/todobackend/README.md).
declare -A RELEASES=(
  [3db46c4]=""
  [5e1f0aa]="5e1f0aa"
  [9b2c7d1]="5e1f0aa 9b2c7d1"
  [slow]="5e1f0aa slow"
)
# --die-on-term: uwsgi's master takes SIGTERM as "reload" otherwise, and a
# service update would wait out the stop grace period.
APP_CMD='CMD ["uwsgi", "--http-socket=0.0.0.0:8000", "--plugin=python3", "--module=todobackend.wsgi", "--static-map=/static=/public", "--master", "--die-on-term"]'
PATHS='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

hash() { sha256sum | cut -c1-16; }
SCRIPT_HASH=$(hash <"${BASH_SOURCE[0]}")

current() { # true if image $1 exists with build label $2
  [[ $(docker image inspect --format '{{index .Config.Labels "jobrun.build"}}' "$1" 2>/dev/null) == "$2" ]]
}

fail() { echo "images: $*" >&2; exit 1; }

TMP=$(mktemp -d)
cleanup() {
  [[ -z ${DERIVING:-} ]] || docker rm -f "$DERIVING" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- busybox test image ------------------------------------------------------------

build_busybox() {
  local root=$TMP/busybox
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,root,tmp}
  chmod 1777 "$root/tmp"
  cp "$(command -v busybox)" "$root/bin/busybox"
  busybox --list-full | grep -vx bin/busybox | while read -r applet; do
    ln -s /bin/busybox "$root/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"

  # Long-running stand-in for servers in the tests' stacks. PID 1 ignores
  # SIGTERM unless it handles it, so trap it: stopping a service then takes no
  # time instead of the 10 s grace period.
  cat >"$root/usr/local/bin/idle" <<'SH'
#!/bin/sh
name=${1:-idle}
trap 'echo "$name: stopping"; exit 0' TERM INT
echo "$name: ready"
while :; do sleep 3600 & wait $!; done
SH
  chmod 755 "$root/usr/local/bin/idle"

  tar -C "$root" --numeric-owner -c . |
    docker import --change "$PATHS" --change "LABEL jobrun.build=$SCRIPT_HASH" --change 'CMD ["sh"]' - "$TEST_IMAGE" >/dev/null
  echo "images: built $TEST_IMAGE"
}

# (not `current || build_busybox`: set -e does not reach into a function on
# the left of ||)
if ! current "$TEST_IMAGE" "$SCRIPT_HASH"; then build_busybox; fi

# --- debootstrap root filesystems ----------------------------------------------

# The bookworm mirror from apt's own configuration: deb822 stanzas first, then
# one-line sources.
debian_mirror() {
  local uri
  uri=$(awk -v RS= -v suite="$SUITE" '{
      u = ""; s = 0
      n = split($0, line, "\n")
      for (i = 1; i <= n; i++) {
        if (line[i] ~ /^URIs:/) { split(line[i], f, /[ \t]+/); u = f[2] }
        if (line[i] ~ /^Suites:/) { m = split(line[i], f, /[ \t]+/); for (j = 2; j <= m; j++) if (f[j] == suite) s = 1 }
      }
      if (u != "" && s) { print u; exit }
    }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [[ -z $uri ]]; then
    uri=$(awk -v suite="$SUITE" '$1 == "deb" {
        for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break
        if ($(i + 1) == suite) { print $i; exit }
      }' /etc/apt/sources.list 2>/dev/null || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# build_rootfs NAME PACKAGES MIRROR TARBALL: NAME's root filesystem, made
# with debootstrap from MIRROR and written to TARBALL. Its text is in the
# cache key (rootfs_key): a change here makes new tarballs; what only
# surrounds it (locks, installs, checks) does not.
build_rootfs() {
  local name=$1 packages=$2 mirror=$3 tarball=$4 dir=$TMP/rootfs-$1
  debootstrap --variant=minbase --include="$packages" "$SUITE" "$dir" "$mirror" >"$TMP/debootstrap-$name.log" 2>&1 ||
    fail "debootstrap of $SUITE for $name from $mirror failed: $(tail -n 1 "$TMP/debootstrap-$name.log")"
  # What an image never uses: apt's downloads and lists, docs, translations.
  # The Debian package initialised a MariaDB datadir: empty it, so the
  # entrypoint initialises the volume the stack gives it.
  rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/usr/share/{doc,man,info,locale} \
    "$dir"/var/log/*.log "$dir"/var/lib/mysql/*
  tar -C "$dir" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball" ||
    fail "cannot write the $name root filesystem to $CACHE (disk full?)"
  rm -rf "$dir"
}

rootfs_key() { # NAME PACKAGES
  { echo "$SUITE $2"; declare -f build_rootfs; } | hash
}

# make_rootfs NAME PACKAGES: prints the path of the cached rootfs tarball,
# making it first when missing. The caller holds NAME's lock (import_base).
make_rootfs() {
  local name=$1 packages=$2 tarball mirror
  tarball=$CACHE/$name-$SUITE-$(rootfs_key "$name" "$packages").tar
  if [[ ! -f $tarball ]]; then
    mirror=$(debian_mirror)
    curl -fsS --max-time 30 -o /dev/null "$mirror/dists/$SUITE/Release" 2>/dev/null ||
      fail "cannot reach the Debian mirror $mirror (debootstrap of $SUITE): the real todobackend and MariaDB images need it"
    if ! command -v debootstrap >/dev/null; then
      echo "images: installing debootstrap" >&2
      apt_update
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 debootstrap >/dev/null
    fi
    echo "images: debootstrap $SUITE for $name (about a minute)" >&2
    build_rootfs "$name" "$packages" "$mirror" "$tarball"
    # Keep only this key's tarball of NAME.
    find "$CACHE" -maxdepth 1 -name "$name-*.tar" ! -name "$(basename "$tarball")" -delete
  fi
  echo "$tarball"
}

# import_base IMAGE NAME PACKAGES CHANGE...: IMAGE from NAME's rootfs, unless
# current. NAME's lock is held until the import has read the tarball: two
# engines may run this at once (one makes the tarball, the other waits for
# it), and another checkout's recipe would delete this one's tarball.
import_base() {
  local image=$1 name=$2 packages=$3 tarball label lock
  shift 3
  mkdir -p "$CACHE"
  exec {lock}>"$CACHE/$name.lock"
  flock "$lock"
  tarball=$(make_rootfs "$name" "$packages")
  label=$({ echo "$SCRIPT_HASH"; basename "$tarball"; } | hash)
  BASE_LABEL=$label
  if ! current "$image" "$label"; then
    docker import --change "$PATHS" --change "LABEL jobrun.build=$label" "$@" - "$image" <"$tarball" >/dev/null
    echo "images: built $image"
  fi
  exec {lock}>&-
}

# The container derive works in, removed on any exit (the EXIT trap).
DERIVING=""

# derive IMAGE BASE LABEL SRCDIR CHANGE...: IMAGE is BASE with SRCDIR's
# content added at / (one small layer, no second copy of the base: docker
# create, cp, commit work on 20.10 and 29 alike, with no BuildKit).
derive() {
  local image=$1 base=$2 label=$3 src=$4
  shift 4
  # Only the container's engine warns (no IPv4 forwarding: the private
  # engine runs without it); it never runs, so keep that warning out.
  DERIVING=$(docker create "$base" true 2>"$TMP/create.err") || { cat "$TMP/create.err" >&2; exit 1; }
  tar -C "$src" --owner=0 --group=0 -c . | docker cp - "$DERIVING:/"
  docker commit --change "LABEL jobrun.build=$label" "$@" "$DERIVING" "$image" >/dev/null
  docker rm "$DERIVING" >/dev/null
  DERIVING=""
  echo "images: built $image"
}

# --- todobackend -------------------------------------------------------------------

import_base "$APP_BASE" todobackend "$APP_PACKAGES" --change 'WORKDIR /app'
APP_BASE_LABEL=$BASE_LABEL
APP_SRC_HASH=$(cd "$APP_SRC" && find . -type f ! -name '*.pyc' ! -name db.sqlite3 | LC_ALL=C sort | xargs sha256sum | hash)
for version in $(printf '%s\n' "${!RELEASES[@]}" | sort); do
  label=$({ echo "$APP_BASE_LABEL $APP_SRC_HASH $version"; } | hash)
  current "$APP_REPO:$version" "$label" && continue
  stage=$TMP/app-$version
  mkdir -p "$stage/app" "$stage/public"
  tar -C "$APP_SRC" --exclude=./releases --exclude=./README.md --exclude='*.pyc' --exclude=db.sqlite3 -c . | tar -C "$stage/app" -x
  for release in ${RELEASES[$version]}; do
    cp -r "$APP_SRC/releases/$release/." "$stage/app/"
  done
  derive "$APP_REPO:$version" "$APP_BASE" "$label" "$stage" --change 'WORKDIR /app' --change "$APP_CMD"
done

# --- MariaDB -------------------------------------------------------------------------

import_base "$DB_BASE" mariadb "$DB_PACKAGES"
label=$({ echo "$BASE_LABEL"; cat "$DB_ENTRYPOINT"; } | hash)
if ! current "$DB_IMAGE" "$label"; then
  stage=$TMP/db
  mkdir -p "$stage/usr/local/bin"
  cp "$DB_ENTRYPOINT" "$stage/usr/local/bin/docker-entrypoint.sh"
  derive "$DB_IMAGE" "$DB_BASE" "$label" "$stage" \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["mariadbd"]' \
    --change 'VOLUME /var/lib/mysql' --change 'EXPOSE 3306'
fi

# What the rebuilds above left untagged (only images of this script carry the
# label).
docker image prune -f --filter label=jobrun.build >/dev/null
