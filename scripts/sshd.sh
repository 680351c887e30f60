#!/usr/bin/env bash
# A private sshd on 127.0.0.1:2222 whose sessions' `docker` reaches the private
# engine of scripts/engine.sh, so that DOCKER_HOST=ssh://root@127.0.0.1:2222 is
# an ssh engine as docker/cli's connection helper reaches one (`ssh ... docker
# system dial-stdio`). Its own host key, config, client key and known_hosts
# under /run/jobrun-sshd; key-only login, root only. The machine's own sshd
# and ~/.ssh are left alone: clients use the wrapper /run/jobrun-sshd/bin/ssh,
# which runs ssh with this config (-F).
#
#   scripts/sshd.sh up      start (idempotent); installs openssh-server if missing
#   scripts/sshd.sh down    stop it and remove /run/jobrun-sshd
#   scripts/sshd.sh env     eval "$(scripts/sshd.sh env)": JOBRUN_SSH_HOST (the
#                           DOCKER_HOST to use) and JOBRUN_SSH_PATH (the
#                           wrapper's directory, to put first on PATH)
#
# JOBRUN_ENGINE=29 (scripts/lib.sh, engine_family): an sshd of its own on
# 127.0.0.1:2229 (/run/jobrun-sshd29) whose sessions reach Engine 29's engine,
# beside the one of 20.10.
#
# With JOBRUN_SSH_LOG=FILE set, the wrapper appends a line to FILE for each
# ssh it starts (the benchmark counts connections with it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
engine_family

ADDR=127.0.0.1
PORT=2222
[[ $ENGINE_FAMILY != 29 ]] || PORT=2229
RUN_DIR=/run/jobrun-sshd$ENGINE_SUFFIX
PIDFILE=$RUN_DIR/sshd.pid
LOG=$RUN_DIR/sshd.log
ENGINE=$ENGINE_SOCK
SSHD=/usr/sbin/sshd

# sshd's pid if it is alive (and is sshd: a stale pidfile may name a recycled pid)
running_pid() { pgrep -F "$PIDFILE" -x sshd 2>/dev/null; }

fail() { printf 'sshd: %s\n' "$*" >&2 && tail -n 30 "$LOG" >&2 2>/dev/null; exit 1; }

install_deps() {
  [[ -x $SSHD ]] && command -v ssh-keygen >/dev/null && return
  echo "sshd: installing openssh-server" >&2
  # The package starts the machine's own sshd on :22 unless a policy says no
  # service starts (as in Debian's container images); add one for the install
  # if there is none.
  local policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# scripts/sshd.sh: no service starts during its install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends openssh-server >/dev/null
}

write_config() {
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR/bin" /run/sshd # /run/sshd: sshd's privilege separation directory
  chmod 700 "$RUN_DIR"
  ssh-keygen -q -t ed25519 -N '' -C jobrun-sshd-host -f "$RUN_DIR/host_key"
  ssh-keygen -q -t ed25519 -N '' -C jobrun-sshd-client -f "$RUN_DIR/id_ed25519"
  cp "$RUN_DIR/id_ed25519.pub" "$RUN_DIR/authorized_keys"
  echo "[$ADDR]:$PORT $(cut -d' ' -f1,2 "$RUN_DIR/host_key.pub")" >"$RUN_DIR/known_hosts"
  # SetEnv: the session's `docker` talks to the private engine, and is Debian's
  # docker.io (/usr/bin), the CLI a swarm manager has.
  cat >"$RUN_DIR/sshd_config" <<EOF
# Written by scripts/sshd.sh at each start.
ListenAddress $ADDR:$PORT
HostKey $RUN_DIR/host_key
PidFile $PIDFILE
AuthorizedKeysFile $RUN_DIR/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
MaxStartups 100
SetEnv DOCKER_HOST=$ENGINE PATH=/usr/bin:/bin:/usr/sbin:/sbin
EOF
  cat >"$RUN_DIR/ssh_config" <<EOF
# Written by scripts/sshd.sh at each start; used by $RUN_DIR/bin/ssh.
Host *
  IdentityFile $RUN_DIR/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $RUN_DIR/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
EOF
  cat >"$RUN_DIR/bin/ssh" <<EOF
#!/bin/sh
# ssh with scripts/sshd.sh's config; with JOBRUN_SSH_LOG set, one line there per start.
if [ -n "\${JOBRUN_SSH_LOG:-}" ]; then echo "\$(date +%s.%N) \$\$ \$*" >>"\$JOBRUN_SSH_LOG"; fi
exec /usr/bin/ssh -F $RUN_DIR/ssh_config "\$@"
EOF
  chmod 755 "$RUN_DIR/bin/ssh"
}

start_sshd() {
  local holder
  holder=$(ss -Hltnp "sport = :$PORT" 2>/dev/null || true)
  [[ -z $holder ]] || fail "port $PORT is taken by another process: $holder"
  write_config
  # -E: log to a file; sshd daemonizes and writes its pidfile.
  "$SSHD" -f "$RUN_DIR/sshd_config" -E "$LOG" || fail "sshd did not start"
  for _ in $(seq 100); do # 10 s
    running_pid >/dev/null && return
    sleep 0.1
  done
  fail "sshd wrote no pid to $PIDFILE within 10s"
}

up() {
  install_deps
  running_pid >/dev/null || start_sshd
  local out
  out=$("$RUN_DIR/bin/ssh" -p "$PORT" "root@$ADDR" docker version --format '{{.Server.Version}}' 2>&1) ||
    fail "ssh root@$ADDR:$PORT docker version: $out"
  echo "sshd: JOBRUN_SSH_HOST=ssh://root@$ADDR:$PORT (pid $(running_pid)); its docker reaches $ENGINE (engine $out)"
}

down() {
  local pid
  if pid=$(running_pid); then
    stop_process sshd sshd "$pid" 10
  else
    echo "sshd: not running"
  fi
  rm -rf "$RUN_DIR"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  env) echo "export JOBRUN_SSH_HOST=ssh://root@$ADDR:$PORT JOBRUN_SSH_PATH=$RUN_DIR/bin" ;;
  *) echo "usage: $0 up | down | env" >&2; exit 2 ;;
esac
