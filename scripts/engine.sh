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
# docker.io, the default) or 29 (Docker Engine 29.x). 29's runs beside 20's, in
# its own network namespace (see net29_up), on /run/jobrun-engine29/docker.sock
# with /var/lib/jobrun-engine29.
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
  if command -v dockerd >/dev/null && command -v docker >/dev/null && command -v ss >/dev/null &&
    [[ -n $bb ]] && ! ldd "$bb" >/dev/null 2>&1; then
    return
  fi
  echo "engine: installing docker.io, busybox-static and iproute2" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static iproute2 >/dev/null
}

# swarm_ports_free says, in one line, what holds a port the 20.10 engine's
# swarm binds on the host (2377 its managers' API, 7946 its gossip), and
# stops: with another swarm-mode dockerd on the machine ours would come up in
# state "error", the cause only in its log. (29's runs in a namespace of its
# own and takes no port of the host's.)
swarm_ports_free() {
  local port held who
  for port in 2377 7946; do
    held=$(ss -Hlntup "sport = :$port" | sed -n 1p)
    [[ -n $held ]] || continue
    who=$(sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' <<<"$held")
    echo "engine: port $port, which Swarm needs, is held by ${who:-another process} (another swarm-mode engine?): stop it (or docker swarm leave --force on it), then run this again" >&2
    exit 1
  done
}

# --- Engine 29's network namespace ---------------------------------------------
#
# Engine 29 cannot share the host's network namespace with the 20.10 engine:
# Swarm's gossip (memberlist) always binds port 7946, and 20.10 holds *:7946
# (29 then logs "Error in agentInit ... 7946: bind: address already in use",
# and every task on an overlay network fails with "the local data-plane
# address is not currently known"); both would also want docker_gwbridge and
# the ingress sandbox. So 29's dockerd runs in its own namespace, joined to the
# host by a veth pair (NET defaults to 10.213.29, JOBRUN_ENGINE29_NET overrides):
#   host  jre29  NET.1/24          netns jobrun-engine29  eth0  NET.2/24
# NET.2 is the swarm's advertise and data-plane address (not loopback). Its
# Swarm ports are the defaults (2377, 7946, 4789): in its namespace they take
# nothing of the host's.
NET29=${JOBRUN_ENGINE29_NET:-10.213.29}
NETNS29=jobrun-engine29
LINK29=jre29 # host end of the veth (<= 15 chars)
HOST_IP29=$NET29.1
ENGINE_IP29=$NET29.2
# What the tests give the engine on 127.0.0.1 of the host (the registry at
# 127.0.0.1:5000, a fake CloudWatch endpoint on a random port) it must reach at
# 127.0.0.1 too: in the namespace, TCP to 127.0.0.1 goes to the host end of the
# veth, and the host hands what arrives there on to its own 127.0.0.1 (the
# route_localnet sysctls let 127.0.0.1 cross the veth). These rules are only
# on the namespace's and jre29's own traffic, and marked with this comment.
MARK29=(-m comment --comment "jobrun-engine29: 127.0.0.1 of the host")
NS_DNAT29=(OUTPUT -d 127.0.0.1/32 -p tcp "${MARK29[@]}" -j DNAT --to-destination "$HOST_IP29")
NS_SNAT29=(POSTROUTING -o eth0 -s 127.0.0.1/32 "${MARK29[@]}" -j SNAT --to-source "$ENGINE_IP29")
HOST_DNAT29=(PREROUTING -i "$LINK29" -d "$HOST_IP29/32" -p tcp "${MARK29[@]}" -j DNAT --to-destination 127.0.0.1)

# IN_NETNS is the command prefix that runs a command in the engine's network
# namespace, with that namespace's sysfs (NETNS_SYSFS in lib.sh): none for 20.
IN_NETNS=()
if [[ $ENGINE_FAMILY == 29 ]]; then
  IN_NETNS=(nsenter "--net=/var/run/netns/$NETNS29" unshare --mount --propagation slave -- sh -c "$NETNS_SYSFS" "$RUN_DIR")
fi

# nat_rule TABLE-PREFIX... RULE: adds RULE to the nat table unless it is there.
# The prefix is empty (host) or `ip netns exec NS` (the namespace).
nat_rule() {
  local prefix=() 
  while [[ $1 != -- ]]; do prefix+=("$1"); shift; done
  shift
  "${prefix[@]}" iptables -t nat -C "$@" 2>/dev/null || "${prefix[@]}" iptables -t nat -A "$@"
}

net29_up() {
  if ! ip link show "$LINK29" >/dev/null 2>&1; then
    local route
    route=$(ip -4 route show to match "$NET29.2" | grep -v '^default' || true)
    [[ -z $route ]] || fail "$NET29.0/24 is already routed on this host ($route): set JOBRUN_ENGINE29_NET to another private /24 prefix"
  fi
  [[ -e /var/run/netns/$NETNS29 ]] || ip netns add "$NETNS29"
  if ! ip link show "$LINK29" >/dev/null 2>&1; then
    ip -n "$NETNS29" link del eth0 2>/dev/null || true
    ip link add "$LINK29" type veth peer name eth0 netns "$NETNS29"
  fi
  ip addr replace "$HOST_IP29/24" dev "$LINK29"
  ip link set "$LINK29" up
  ip -n "$NETNS29" link set lo up
  ip -n "$NETNS29" addr replace "$ENGINE_IP29/24" dev eth0
  ip -n "$NETNS29" link set eth0 up
  sysctl -qw "net.ipv4.conf.$LINK29.route_localnet=1"
  ip netns exec "$NETNS29" sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1
  nat_rule ip netns exec "$NETNS29" -- "${NS_DNAT29[@]}"
  nat_rule ip netns exec "$NETNS29" -- "${NS_SNAT29[@]}"
  nat_rule -- "${HOST_DNAT29[@]}"
}

net29_down() {
  while iptables -t nat -D "${HOST_DNAT29[@]}" 2>/dev/null; do :; done
  ip link del "$LINK29" 2>/dev/null || true # its peer, eth0, goes with it
  if [[ -e /var/run/netns/$NETNS29 ]]; then ip netns del "$NETNS29"; fi
}

start_dockerd() {
  mkdir -p "$RUN_DIR/exec" "$DATA_DIR"
  rm -f "$PIDFILE" # stale (running_pid said so); dockerd refuses to start over a live-looking one
  dockerd_command
  local config=()
  if [[ -n $DOCKERD_CONFIG_FIELDS ]]; then
    echo "{$DOCKERD_CONFIG_FIELDS}" >"$RUN_DIR/daemon.json"
    config=(--config-file "$RUN_DIR/daemon.json")
  fi
  # Why these flags:
  #  --bridge=none, --iptables=false, --ip-forward=false: swarm services only use
  #    overlay networks, and the engine is offline, so it needs no docker0, NAT or
  #    forwarding; this way it leaves the host firewall and any other engine alone.
  #  --containerd-namespace: if a system containerd is running dockerd attaches to
  #    it instead of starting its own; a separate namespace keeps containers apart.
  #  storage driver: not forced; dockerd picks overlay2 when the backing fs allows
  #    it and falls back (e.g. to vfs) when it does not.
  #  --config-file (29 only): its daemon.json (dockerd_command), not the host's.
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
  # IN_NETNS: 29's in its own network namespace (net29_up says why).
  env AWS_ACCESS_KEY_ID=AKIDJOBRUNTEST AWS_SECRET_ACCESS_KEY=jobrun-test-secret \
    AWS_REGION=us-east-1 DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
    setsid "${IN_NETNS[@]}" "${DOCKERD[@]}" \
    --host "$SOCK" \
    --data-root "$DATA_DIR" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$PIDFILE" \
    "${config[@]}" \
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

# The address the swarm advertises: 20's is loopback (its host's only engine
# in swarm mode); 29's the namespace's own (net29_up).
swarm_addr() { if [[ $ENGINE_FAMILY == 29 ]]; then echo "$ENGINE_IP29"; else echo 127.0.0.1; fi; }

ensure_swarm() {
  local state out addr
  addr=$(swarm_addr)
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
    if [[ $ENGINE_FAMILY == 29 ]]; then net29_up; else swarm_ports_free; fi
    start_dockerd
  fi
  # Also covers a dockerd that was still starting when we were called.
  for _ in $(seq 600); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
  docker version >/dev/null 2>&1 || fail "dockerd is running but $SOCK does not answer"
  ensure_swarm
  bash scripts/images.sh
  echo "engine: DOCKER_HOST=$SOCK (swarm manager $(swarm_addr), Docker $(docker version --format '{{.Server.Version}}'), API $(docker version --format '{{.Server.APIVersion}}'), storage $(docker info --format '{{.Driver}}'))"
}

down() {
  local pid
  if pid=$(running_pid); then
    # dockerd stops running containers first (each gets its stop grace period).
    stop_process engine dockerd "$pid" 60
  else
    echo "engine: not running"
  fi
  if [[ $ENGINE_FAMILY == 29 ]]; then
    net29_down
    echo "engine: removed network namespace $NETNS29 and $LINK29"
  fi
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
