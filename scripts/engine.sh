#!/usr/bin/env bash
# Private Docker engine for jobrun's tests and demo: its own dockerd on its own
# socket and directories, initialised as a single-node swarm, with offline images.
# It never talks to a system dockerd on the default socket.
#
#   scripts/engine.sh up            start (idempotent), init swarm, build images
#   scripts/engine.sh down [--purge] stop dockerd; keeps /var/lib/jobrun-engine
#                                   (images, swarm state) unless --purge
#   scripts/engine.sh env           eval "$(scripts/engine.sh env)"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

RUN_DIR=/run/jobrun-engine
DATA_DIR=/var/lib/jobrun-engine
SOCK=unix://$RUN_DIR/docker.sock
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
  if command -v dockerd >/dev/null && command -v docker >/dev/null &&
    [[ -n $bb ]] && ! ldd "$bb" >/dev/null 2>&1; then
    return
  fi
  echo "engine: installing docker.io and busybox-static" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static >/dev/null
}

start_dockerd() {
  mkdir -p "$RUN_DIR/exec" "$DATA_DIR"
  rm -f "$PIDFILE" # stale (running_pid said so); dockerd refuses to start over a live-looking one
  # Why these flags:
  #  --bridge=none, --iptables=false, --ip-forward=false: swarm services only use
  #    overlay networks, and the engine is offline, so it needs no docker0, NAT or
  #    forwarding; this way it leaves the host firewall and any other engine alone.
  #  --containerd-namespace: if a system containerd is running dockerd attaches to
  #    it instead of starting its own; a separate namespace keeps containers apart.
  #  storage driver: not forced; dockerd picks overlay2 when the backing fs allows
  #    it and falls back (e.g. to vfs) when it does not.
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
  env AWS_ACCESS_KEY_ID=AKIDJOBRUNTEST AWS_SECRET_ACCESS_KEY=jobrun-test-secret \
    AWS_REGION=us-east-1 DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
    setsid dockerd \
    --host "$SOCK" \
    --data-root "$DATA_DIR" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$PIDFILE" \
    --bridge=none --iptables=false --ip-forward=false \
    --containerd-namespace jobrun --containerd-plugins-namespace jobrun-plugins \
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
  local state out
  state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  if [[ $state == inactive ]]; then
    out=$(docker swarm init --advertise-addr 127.0.0.1 2>&1) || fail "swarm init failed: $out"
  fi
  # After a restart the manager needs a moment to elect itself leader; service
  # calls fail until then.
  for _ in $(seq 300); do # 30 s
    [[ $(docker node ls --format '{{.Status}}' 2>/dev/null) == Ready ]] && return
    sleep 0.1
  done
  fail "swarm node not Ready within 30s (state: $(docker info --format '{{.Swarm.LocalNodeState}}'))"
}

up() {
  install_deps
  running_pid >/dev/null || start_dockerd
  # Also covers a dockerd that was still starting when we were called.
  for _ in $(seq 600); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
  docker version >/dev/null 2>&1 || fail "dockerd is running but $SOCK does not answer"
  ensure_swarm
  bash scripts/images.sh
  echo "engine: DOCKER_HOST=$SOCK (swarm manager, API $(docker version --format '{{.Server.APIVersion}}'), storage $(docker info --format '{{.Driver}}'))"
}

down() {
  local pid
  if pid=$(running_pid); then
    # dockerd stops running containers first (each gets its stop grace period).
    stop_process engine dockerd "$pid" 60
  else
    echo "engine: not running"
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
  env) echo "export DOCKER_HOST=$SOCK" ;;
  *) echo "usage: $0 up | down [--purge] | env" >&2; exit 2 ;;
esac
