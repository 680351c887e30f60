# Shared by the scripts that start and stop daemons: source it.

# stop_process WHO NAME PID SECONDS: SIGTERM, then SIGKILL if PID still runs
# after SECONDS; says which it took.
stop_process() {
  local who=$1 name=$2 pid=$3 seconds=$4
  kill "$pid" 2>/dev/null || true
  for _ in $(seq $((seconds * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$who: $name ($pid) still running after ${seconds}s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "$who: stopped $name ($pid)"
}

# engine_family sets, from JOBRUN_ENGINE, which Docker Engine the scripts
# start and the tests use: 20 (Debian's docker.io 20.10, the default) or 29
# (Docker Engine 29.x, built by scripts/engine29-build.sh). The two run side
# by side, so everything of 29's is named apart: ENGINE_SUFFIX ("" or "29")
# ends its directories and names; ENGINE_RUN_DIR, ENGINE_DATA_DIR and
# ENGINE_SOCK are scripts/engine.sh's single-node engine of that family.
engine_family() {
  ENGINE_FAMILY=${JOBRUN_ENGINE:-20}
  case $ENGINE_FAMILY in
    20) ENGINE_SUFFIX="" ;;
    29) ENGINE_SUFFIX=29 ;;
    *) echo "JOBRUN_ENGINE=$ENGINE_FAMILY: want 20 (Debian's docker.io 20.10) or 29 (Docker Engine 29.x)" >&2; exit 2 ;;
  esac
  ENGINE_RUN_DIR=/run/jobrun-engine$ENGINE_SUFFIX
  ENGINE_DATA_DIR=/var/lib/jobrun-engine$ENGINE_SUFFIX
  ENGINE_SOCK=unix://$ENGINE_RUN_DIR/docker.sock
}

# dockerd_command sets DOCKERD (the command that starts the family's dockerd,
# with the PATH it needs) and DOCKERD_CONFIG_FIELDS (the fields its
# daemon.json needs, JSON without the braces), for engine.sh and multinode.sh
# alike.
#  20: Debian's dockerd; no fields (engine.sh then writes no daemon.json).
#  29: the build of scripts/engine29-build.sh (built the first time, some
#    minutes), its runc and shim first on PATH (Debian's runc 1.1.5 lacks the
#    time namespace 29 asks for); containerd embedded in dockerd (Debian's
#    containerd 1.6 is too old for 29); --ip6tables=false as --iptables=false.
dockerd_command() {
  case $ENGINE_FAMILY in
    20)
      DOCKERD=(dockerd)
      DOCKERD_CONFIG_FIELDS=""
      ;;
    29)
      local bin
      bin=$(bash scripts/engine29-build.sh | tail -n1)
      [[ -x $bin/dockerd ]] || { echo "engine: no Engine 29 dockerd in $bin (scripts/engine29-build.sh)" >&2; exit 1; }
      DOCKERD=(env "PATH=$bin:$PATH" "$bin/dockerd" --ip6tables=false)
      DOCKERD_CONFIG_FIELDS='"features": {"embedded-containerd": true}'
      ;;
  esac
}

# NETNS_SYSFS is a sh script for `sh -c "$NETNS_SYSFS" DIR CMD...`, run
# inside a network namespace (nsenter --net) and its own mount namespace
# (unshare --mount --propagation slave): it mounts a sysfs of that network
# namespace on /sys, keeping the host's cgroup mounts under it (moved aside to
# DIR/cgroup meanwhile), then execs CMD. Without it a dockerd in a namespace
# sees the host's /sys/class/net: Engine 29 then reads and writes the bridge
# files of the host's docker_gwbridge (20.10's) for its own. (`ip netns exec`
# mounts such a sysfs too, but drops the cgroup mounts dockerd needs.)
NETNS_SYSFS='mkdir -p "$0/cgroup" &&
  mount --rbind /sys/fs/cgroup "$0/cgroup" &&
  mount -t sysfs sysfs /sys &&
  mount --move "$0/cgroup" /sys/fs/cgroup &&
  exec "$@"'

# apt_update ARGS...: apt-get update -qq ARGS, waiting up to 300 s for another
# apt that holds the package lists' lock. Every apt-get install here waits for
# the dpkg lock with -o DPkg::Lock::Timeout=300, but apt-get update ignores it
# and fails at once ("Could not get lock /var/lib/apt/lists/lock", apt 2.6).
apt_update() {
  local out i
  for i in $(seq 300); do
    if out=$(apt-get update -qq "$@" 2>&1); then
      [[ -z $out ]] || printf '%s\n' "$out" >&2
      return 0
    fi
    [[ $out == *"Could not get lock"* ]] || { printf '%s\n' "$out" >&2; return 1; }
    ((i > 1)) || echo "apt: another apt holds the package lists' lock: waiting for it up to 300 s" >&2
    sleep 1
  done
  printf '%s\n' "$out" >&2
  return 1
}

# bench_start: what a benchmark script of scripts/bench-*.sh needs first: the
# private engine of scripts/engine.sh up (left running) with DOCKER_HOST and
# JOBRUN_ENGINE on it, DOCKER the Docker CLI to compare with (BENCH_DOCKER),
# and bin/jobrun built from this tree.
bench_start() {
  command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
  DOCKER=${BENCH_DOCKER:-/usr/bin/docker}
  scripts/engine.sh up >/dev/null
  eval "$(scripts/engine.sh env)"
  go build -o bin/jobrun .
}
