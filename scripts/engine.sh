#!/usr/bin/env bash
# Private Docker engine for jobrun's tests and demo: its own dockerd on its own
# socket and directories, initialised as a single-node swarm, with offline images.
# It never talks to a system dockerd on the default socket.
#
#   scripts/engine.sh up            start (idempotent), init swarm, build images
#   scripts/engine.sh down [--purge] stop dockerd; keeps /var/lib/jobrun-engine
#                                   (images, swarm state) unless --purge
#   scripts/engine.sh env           eval "$(scripts/engine.sh env)"
#
# JOBRUN_ENGINE picks the engine (scripts/lib.sh, engine_family): 20 (Debian's
# docker.io, the default) or 29 (Docker Engine 29.x). Each runs in a network
# namespace of its own (see net_up), so the two run side by side, and beside
# any other swarm-mode dockerd on the machine; 29's on
# /run/jobrun-engine29/docker.sock with /var/lib/jobrun-engine29.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
engine_family

RUN_DIR=$ENGINE_RUN_DIR
DATA_DIR=$ENGINE_DATA_DIR
SOCK=$ENGINE_SOCK
PIDFILE=$RUN_DIR/docker.pid
LOG=$RUN_DIR/dockerd.log
# Every docker call below (and in images.sh) goes to the private engine only.
export DOCKER_HOST=$SOCK

running_pid() { # prints the dockerd pid if it is alive
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  # Check the name too: a stale pidfile may name a recycled pid.
  [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] && echo "$pid"
}

fail() {
  echo "engine: $*" >&2
  [[ -f $LOG ]] && { echo "--- tail of $LOG ---" >&2; tail -n 30 "$LOG" >&2; }
  exit 1
}

install_deps() {
  # busybox must be the static build: it is copied into the image rootfs as is.
  local bb
  bb=$(command -v busybox || true)
  if command -v dockerd >/dev/null && command -v docker >/dev/null && command -v ip >/dev/null &&
    [[ -n $bb ]] && ! ldd "$bb" >/dev/null 2>&1; then
    return
  fi
  echo "engine: installing docker.io, busybox-static and iproute2" >&2
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 docker.io busybox-static iproute2 >/dev/null
}

# --- The engine's network namespace --------------------------------------------
#
# Each engine runs in a network namespace of its own, never in the host's:
# Swarm binds its ports (2377 the managers' API, 7946 gossip, which memberlist
# always binds, 4789 the data path) and makes docker_gwbridge and the ingress
# sandbox, and another swarm-mode dockerd on the machine (the host's own, or
# the other engine family's) holds the same. Side by side in one namespace the
# second comes up in state "error", or its overlay tasks fail with "the local
# data-plane address is not currently known". The namespace is joined to the
# host by a veth pair (NET is 10.213.20 for 20 and 10.213.29 for 29;
# JOBRUN_ENGINE_NET and JOBRUN_ENGINE29_NET override them):
#   host  jreFAMILY  NET.1/24          netns jobrun-engineSUFFIX  eth0  NET.2/24
# NET.2 is the swarm's advertise and data-plane address. The engine takes
# nothing of the host's but that /24, the link's name and the namespace's.
NET_VAR=JOBRUN_ENGINE${ENGINE_SUFFIX}_NET
if [[ $ENGINE_FAMILY == 29 ]]; then NET=${!NET_VAR:-10.213.29}; else NET=${!NET_VAR:-10.213.20}; fi
NETNS=jobrun-engine$ENGINE_SUFFIX
LINK=jre$ENGINE_FAMILY # host end of the veth (<= 15 chars)
HOST_IP=$NET.1
ENGINE_IP=$NET.2
# What the tests give the engine on 127.0.0.1 of the host (the registry at
# 127.0.0.1:5000, a fake CloudWatch endpoint on a random port) it must reach at
# 127.0.0.1 too: in the namespace, TCP to 127.0.0.1 goes to the host end of the
# veth, and the host hands what arrives there on to its own 127.0.0.1 (the
# route_localnet sysctls let 127.0.0.1 cross the veth). These rules are only
# on the namespace's and the link's own traffic, and marked with this comment.
MARK=(-m comment --comment "$NETNS: 127.0.0.1 of the host")
NS_DNAT=(OUTPUT -d 127.0.0.1/32 -p tcp "${MARK[@]}" -j DNAT --to-destination "$HOST_IP")
NS_SNAT=(POSTROUTING -o eth0 -s 127.0.0.1/32 "${MARK[@]}" -j SNAT --to-source "$ENGINE_IP")
HOST_DNAT=(PREROUTING -i "$LINK" -d "$HOST_IP/32" -p tcp "${MARK[@]}" -j DNAT --to-destination 127.0.0.1)

# IN_NETNS is the command prefix that runs dockerd in the engine's network
# namespace. 29's also gets a mount namespace with that network namespace's
# sysfs (NETNS_SYSFS in lib.sh). 20.10's keeps the host's mounts: it attaches to
# a system containerd when one runs (/run/containerd), and that containerd
# must see the rootfs dockerd mounts; 20.10 works beside the host's sysfs, as
# its multi-node swarm (scripts/multinode.sh) does.
IN_NETNS=(nsenter "--net=/var/run/netns/$NETNS")
if [[ $ENGINE_FAMILY == 29 ]]; then
  IN_NETNS+=(unshare --mount --propagation slave -- sh -c "$NETNS_SYSFS" "$RUN_DIR")
fi

# nat_rule PREFIX... -- RULE: adds RULE to the nat table unless it is there.
# The prefix is empty (host) or `ip netns exec NS` (the namespace).
nat_rule() {
  local prefix=()
  while [[ $1 != -- ]]; do prefix+=("$1"); shift; done
  shift
  "${prefix[@]}" iptables -t nat -C "$@" 2>/dev/null || "${prefix[@]}" iptables -t nat -A "$@"
}

net_up() {
  if ! ip link show "$LINK" >/dev/null 2>&1; then
    local route
    route=$(ip -4 route show to match "$ENGINE_IP" | grep -v '^default' || true)
    [[ -z $route ]] || fail "$NET.0/24 is already routed on this host ($route): set $NET_VAR to another private /24 prefix"
  fi
  [[ -e /var/run/netns/$NETNS ]] || ip netns add "$NETNS"
  if ! ip link show "$LINK" >/dev/null 2>&1; then
    ip -n "$NETNS" link del eth0 2>/dev/null || true
    ip link add "$LINK" type veth peer name eth0 netns "$NETNS"
  fi
  ip addr replace "$HOST_IP/24" dev "$LINK"
  ip link set "$LINK" up
  ip -n "$NETNS" link set lo up
  ip -n "$NETNS" addr replace "$ENGINE_IP/24" dev eth0
  ip -n "$NETNS" link set eth0 up
  sysctl -qw "net.ipv4.conf.$LINK.route_localnet=1"
  ip netns exec "$NETNS" sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1
  nat_rule ip netns exec "$NETNS" -- "${NS_DNAT[@]}"
  nat_rule ip netns exec "$NETNS" -- "${NS_SNAT[@]}"
  nat_rule -- "${HOST_DNAT[@]}"
}

net_down() {
  while iptables -t nat -D "${HOST_DNAT[@]}" 2>/dev/null; do :; done
  ip link del "$LINK" 2>/dev/null || true # its peer, eth0, goes with it
  if [[ -e /var/run/netns/$NETNS ]]; then ip netns del "$NETNS"; fi
}

start_dockerd() {
  mkdir -p "$RUN_DIR/exec" "$DATA_DIR"
  rm -f "$PIDFILE" # stale (running_pid said so); dockerd refuses to start over a live-looking one
  dockerd_command
  printf '{"deprecated-key-path": "%s"%s}\n' "$DATA_DIR/key.json" "${DOCKERD_CONFIG_FIELDS:+, $DOCKERD_CONFIG_FIELDS}" >"$RUN_DIR/daemon.json"
  # Why these flags:
  #  --bridge=none, --iptables=false, --ip-forward=false: swarm services only use
  #    overlay networks, and the engine is offline, so it needs no docker0, NAT or
  #    forwarding; this way it leaves the host firewall and any other engine alone.
  #  --containerd-namespace: if a system containerd is running dockerd attaches to
  #    it instead of starting its own; a separate namespace keeps containers apart.
  #  storage driver: not forced; dockerd picks overlay2 when the backing fs allows
  #    it and falls back (e.g. to vfs) when it does not.
  #  --config-file: its own daemon.json (with dockerd_command's fields, and its
  #    own deprecated-key-path), not the host's /etc/docker, whose settings may
  #    clash with these flags and whose engine ID another dockerd uses.
  # Environment:
  #  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1: swarm neither pins images to registry
  #    digests on service create nor pulls before each task; tasks use the local
  #    image or are rejected at once ("No such image"), with no network waits.
  #    (Clients still ask the registry unless told not to: --no-resolve-image,
  #    --resolve-image never, or QueryRegistry=false in the API.)
  #  AWS_*: dummy credentials for the awslogs log driver (used against a local
  #    fake endpoint).
  # setsid: detach from the caller's process group so a test timeout or Ctrl-C
  # in the caller does not kill the engine behind our back; `down` stops it.
  # IN_NETNS: in its own network namespace (net_up says why).
  env AWS_ACCESS_KEY_ID=AKIDJOBRUNTEST AWS_SECRET_ACCESS_KEY=jobrun-test-secret \
    AWS_REGION=us-east-1 DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
    setsid "${IN_NETNS[@]}" "${DOCKERD[@]}" \
    --host "$SOCK" \
    --data-root "$DATA_DIR" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$PIDFILE" \
    --config-file "$RUN_DIR/daemon.json" \
    --bridge=none --iptables=false --ip-forward=false \
    --containerd-namespace "jobrun$ENGINE_SUFFIX" --containerd-plugins-namespace "jobrun$ENGINE_SUFFIX-plugins" \
    </dev/null >>"$LOG" 2>&1 &
  local launcher=$!
  for _ in $(seq 600); do # 60 s
    docker version >/dev/null 2>&1 && return
    kill -0 "$launcher" 2>/dev/null || fail "dockerd exited during startup"
    sleep 0.1
  done
  fail "dockerd did not answer on $SOCK within 60s"
}

ensure_swarm() {
  local state out addr=$ENGINE_IP # the swarm's advertise address (net_up)
  state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  if [[ $state == inactive ]]; then
    out=$(docker swarm init --advertise-addr "$addr" 2>&1) || fail "swarm init failed: $out"
  fi
  # A swarm kept in $DATA_DIR from another layout would fail each task later.
  local node_addr
  node_addr=$(docker info --format '{{.Swarm.NodeAddr}}')
  [[ $node_addr == "$addr" ]] ||
    fail "the swarm kept in $DATA_DIR advertises $node_addr, not $addr: start afresh with JOBRUN_ENGINE=$ENGINE_FAMILY $0 down --purge"
  # After a restart the manager needs a moment to elect itself leader; service
  # calls fail until then.
  for _ in $(seq 300); do # 30 s
    [[ $(docker node ls --format '{{.Status}}' 2>/dev/null) == Ready ]] && return
    sleep 0.1
  done
  fail "swarm node not Ready within 30s (state: $(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.Error}}'))"
}

up() {
  install_deps
  if ! running_pid >/dev/null; then
    # Not ours: say so rather than start a second dockerd on the same socket.
    docker version >/dev/null 2>&1 &&
      fail "a dockerd this script did not start (no live pid in $PIDFILE) answers on $SOCK: stop it first"
    net_up
    start_dockerd
  fi
  # Also covers a dockerd that was still starting when we were called.
  for _ in $(seq 600); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
  docker version >/dev/null 2>&1 || fail "dockerd is running but $SOCK does not answer"
  ensure_swarm
  bash scripts/images.sh
  echo "engine: DOCKER_HOST=$SOCK (swarm manager $ENGINE_IP, Docker $(docker version --format '{{.Server.Version}}'), API $(docker version --format '{{.Server.APIVersion}}'), storage $(docker info --format '{{.Driver}}'))"
}

down() {
  local pid
  if pid=$(running_pid); then
    # dockerd stops running containers first (each gets its stop grace period).
    stop_process engine dockerd "$pid" 60
  else
    echo "engine: not running"
  fi
  net_down
  echo "engine: removed network namespace $NETNS and $LINK"
  if [[ ${1:-} == --purge ]]; then
    # Unmount anything dockerd left behind (deepest first) before deleting.
    awk -v a="$RUN_DIR" -v b="$DATA_DIR" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/mounts |
      sort -r | xargs -r -n1 umount -l
    rm -rf "$RUN_DIR" "$DATA_DIR"
    echo "engine: removed $RUN_DIR and $DATA_DIR"
  fi
}

case ${1:-} in
  up) up ;;
  down) down "${2:-}" ;;
  # JOBRUN_ENGINE too: the scripts the tests run (engine.sh, sshd.sh) then
  # act on this engine.
  env) echo "export DOCKER_HOST=$SOCK JOBRUN_ENGINE=$ENGINE_FAMILY" ;;
  *) echo "usage: $0 up | down [--purge] | env" >&2; exit 2 ;;
esac
