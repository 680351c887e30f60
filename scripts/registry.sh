#!/usr/bin/env bash
# Private image registry for jobrun's tests: Debian's docker-registry
# (distribution 2.8) on 127.0.0.1, plain HTTP (the engine treats 127.0.0.0/8 as
# an insecure registry by default) with htpasswd auth, its own config and
# storage, as the package's user. The package's own service (its
# /etc/docker/registry config, on :5000 too) is kept from starting when this
# script installs the package, and is never used.
#
#   scripts/registry.sh up             start (idempotent); a new password each start
#   scripts/registry.sh down [--purge] stop it; keeps the pushed images in
#                                      /var/lib/jobrun-registry unless --purge
#   scripts/registry.sh env            eval "$(scripts/registry.sh env)"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

ADDR=127.0.0.1:5000
USER_NAME=jobrun
RUN_DIR=/run/jobrun-registry   # config, credentials, pid, log: new at each start
DATA_DIR=/var/lib/jobrun-registry
CONFIG=$RUN_DIR/config.yml
HTPASSWD=$RUN_DIR/htpasswd
PASSWORD_FILE=$RUN_DIR/password # root only
PIDFILE=$RUN_DIR/registry.pid
LOG=$RUN_DIR/registry.log
BINARY=/usr/bin/docker-registry
SERVICE_USER=docker-registry # the system user the package creates

running_pid() { # prints the registry's pid if it is alive
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  # Check the name too: a stale pidfile may name a recycled pid.
  [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == docker-registry ]] && echo "$pid"
}

fail() {
  echo "registry: $*" >&2
  [[ -f $LOG ]] && { echo "--- tail of $LOG ---" >&2; tail -n 30 "$LOG" >&2; }
  exit 1
}

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "$@" >/dev/null
}

install_deps() {
  # Only what is missing: naming an installed package would upgrade it.
  local pkgs=() guard=""
  [[ -x $BINARY ]] || pkgs+=(docker-registry)
  command -v htpasswd >/dev/null || pkgs+=(apache2-utils) # htpasswd -B (bcrypt)
  command -v curl >/dev/null || pkgs+=(curl)
  ((${#pkgs[@]})) || return 0
  local policy=/usr/sbin/policy-rc.d mark="# scripts/registry.sh: no service starts during its install"
  echo "registry: installing ${pkgs[*]}" >&2
  # The package's postinst starts its own service (init script, or systemd
  # unit) on :5000 with /etc/docker/registry/config.yml. Keep it from starting
  # during the install; a policy already in place (not ours, left by a killed
  # run) is left as it is.
  if [[ ! -e $policy ]] || grep -qxF "$mark" "$policy"; then
    guard=$policy
    printf '#!/bin/sh\n%s\nexit 101\n' "$mark" >"$guard"
    chmod 755 "$guard"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # A stale or missing package list: update it once and try again.
  if ! apt_install "${pkgs[@]}" 2>/dev/null; then
    apt_update
    apt_install "${pkgs[@]}"
  fi
  if [[ -n $guard ]]; then
    rm -f "$guard"
    trap - EXIT
  fi
  disable_package_service
}

# The package's own service must not come up (now or at boot) and hold the
# port: stop it if the install started it anyway, and disable it.
disable_package_service() {
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
  fi
  if [[ -x /etc/init.d/docker-registry ]]; then
    if /etc/init.d/docker-registry status >/dev/null 2>&1; then
      echo "registry: stopping the docker-registry package's own service" >&2
      /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
    fi
    update-rc.d docker-registry disable >/dev/null 2>&1 || true
  fi
}

write_config() {
  getent passwd "$SERVICE_USER" >/dev/null ||
    fail "no user $SERVICE_USER (the docker-registry package makes it): apt-get install --reinstall docker-registry"
  mkdir -p "$RUN_DIR" "$DATA_DIR/storage"
  chmod 755 "$RUN_DIR"
  # The registry writes its storage as its own user; only the top is ours.
  chown "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR/storage"
  local secret
  secret=$(head -c 32 /dev/urandom | base64 -w0)
  (
    umask 077
    # Base64 without + / =: safe in a URL, a header and a shell word.
    head -c 24 /dev/urandom | base64 -w0 | tr -d '+/=' >"$PASSWORD_FILE.new"
    htpasswd -niB "$USER_NAME" <"$PASSWORD_FILE.new" | sed '/^$/d' >"$HTPASSWD.new"
    cat >"$CONFIG.new" <<EOF
# Written by scripts/registry.sh at each start.
version: 0.1
log:
  level: info
  fields:
    service: jobrun-registry
storage:
  filesystem:
    rootdirectory: $DATA_DIR/storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $ADDR
  secret: $secret
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: jobrun-registry
    path: $HTPASSWD
EOF
  )
  # The password stays root's; the registry (its own user) reads the rest.
  chown "root:$SERVICE_USER" "$HTPASSWD.new" "$CONFIG.new"
  chmod 640 "$HTPASSWD.new" "$CONFIG.new"
  mv -f "$PASSWORD_FILE.new" "$PASSWORD_FILE"
  mv -f "$HTPASSWD.new" "$HTPASSWD"
  mv -f "$CONFIG.new" "$CONFIG"
}

# status URL [curl args...]: the HTTP status of a GET on the registry.
status() {
  local url=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true
}

# authorized: the registry takes our user and password (read from stdin by
# curl, so the password is never on a command line).
authorized() {
  [[ $(printf 'user = "%s:%s"\n' "$USER_NAME" "$(cat "$PASSWORD_FILE")" |
    status "http://$ADDR/v2/" --config -) == 200 ]]
}

start_registry() {
  local port=${ADDR##*:} holder
  holder=$(ss -Hltnp "sport = :$port" 2>/dev/null || true)
  if [[ -n $holder ]]; then
    if [[ -x /etc/init.d/docker-registry ]] && /etc/init.d/docker-registry status >/dev/null 2>&1; then
      holder+=" (the docker-registry package's own service: /etc/init.d/docker-registry stop)"
    fi
    echo "registry: port $port is taken by another process: $holder" >&2
    exit 1
  fi
  write_config
  rm -f "$PIDFILE"
  : >"$LOG" # this start's log only
  # setsid: detach from the caller's process group, so a test timeout or
  # Ctrl-C in the caller does not stop it; `down` does. setpriv: run as the
  # package's unprivileged user (it execs, so $! is the registry itself).
  setsid setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --init-groups \
    "$BINARY" serve "$CONFIG" </dev/null >>"$LOG" 2>&1 &
  local launcher=$!
  echo "$launcher" >"$PIDFILE"
  for _ in $(seq 300); do # 30 s
    [[ $(status "http://$ADDR/v2/") == 401 ]] && break
    kill -0 "$launcher" 2>/dev/null || fail "docker-registry exited during startup"
    sleep 0.1
  done
  [[ $(status "http://$ADDR/v2/") == 401 ]] || fail "no answer (401) on http://$ADDR/v2/ within 30s"
}

up() {
  install_deps
  running_pid >/dev/null || start_registry
  [[ -s $PASSWORD_FILE ]] || fail "$PASSWORD_FILE is missing: run $0 down, then up"
  authorized || fail "the registry on $ADDR refuses $USER_NAME with the password in $PASSWORD_FILE"
  echo "registry: JOBRUN_REGISTRY=$ADDR (pid $(running_pid), user $USER_NAME, password in $PASSWORD_FILE, storage $DATA_DIR/storage)"
}

down() {
  local pid
  if pid=$(running_pid); then
    stop_process registry docker-registry "$pid" 10
  else
    echo "registry: not running"
  fi
  rm -f "$PIDFILE"
  if [[ ${1:-} == --purge ]]; then
    rm -rf "$RUN_DIR" "$DATA_DIR"
    echo "registry: removed $RUN_DIR and $DATA_DIR"
  fi
}

case ${1:-} in
  up) up ;;
  down) down "${2:-}" ;;
  env)
    echo "export JOBRUN_REGISTRY=$ADDR"
    echo "export JOBRUN_REGISTRY_USER=$USER_NAME"
    echo "export JOBRUN_REGISTRY_PASSWORD_FILE=$PASSWORD_FILE"
    ;;
  *) echo "usage: $0 up | down [--purge] | env" >&2; exit 2 ;;
esac
