#!/bin/bash
# Entrypoint of jobrun-test/mariadb (scripts/images.sh): the official mysql
# image's contract, as the todobackend stack uses it. On the first start (an
# empty /var/lib/mysql) it creates the datadir, the root password, the
# database and its user; then it runs mariadbd in the foreground. A datadir
# whose initialisation did not finish (the task was stopped or killed
# halfway) is initialised again from empty on the next start.
#
#   MYSQL_DATABASE                        created on first start
#   MYSQL_USER, MYSQL_PASSWORD[_FILE]     gets every privilege on it, from any host
#   MYSQL_ROOT_PASSWORD[_FILE]            root's, or
#   MYSQL_RANDOM_ROOT_PASSWORD=yes        a random one, printed to the log
#
# As in the official image, the server takes no TCP connections until that
# is done: clients started beside it (a migrate job) fail to connect first.
set -euo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
# Written first when an initialisation starts, renamed to INITIALISED once
# it is complete: only a datadir with INITIALISED, or one this entrypoint
# did not make (neither file: an older volume, another image's), is taken
# as it is.
INITIALISING=$DATADIR/.jobrun-initialising
INITIALISED=$DATADIR/.jobrun-initialised

log() { echo "$(date -u '+%Y-%m-%d %H:%M:%S') entrypoint: $*" >&2; }

# file_env VAR: VAR's value, or the content of the file VAR_FILE names (a
# swarm secret), as the official image reads both.
file_env() {
  local var=$1 file_var=${1}_FILE
  if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
    log "both $var and $file_var are set: use one"
    exit 1
  fi
  if [[ -n ${!file_var:-} ]]; then
    printf -v "$var" '%s' "$(<"${!file_var}")"
  fi
  export "$var=${!var:-}"
}

sql_string() { # a value quoted for SQL
  local s=${1//\\/\\\\}
  printf "'%s'" "${s//\'/\\\'}"
}

sql_name() { # an identifier quoted for SQL
  printf '`%s`' "${1//\`/\`\`}"
}

# A stop during the initialisation (bash is PID 1 here, which ignores
# SIGTERM unless it handles it) ends its current step and exits, leaving
# INITIALISING: the next start begins again. The long steps run in the
# background so that the trap runs at once, not when the step ends.
CHILD=""
stop_init() {
  [[ -z $CHILD ]] || { kill -TERM "$CHILD" 2>/dev/null; wait "$CHILD" || true; }
  log "stopped during the initialisation: the next start initialises $DATADIR again"
  exit 143
}
run_step() { # COMMAND...: run it in the background and wait for it
  "$@" &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}

initialise() {
  trap stop_init TERM INT
  : >"$INITIALISING"
  file_env MYSQL_PASSWORD
  file_env MYSQL_ROOT_PASSWORD
  local root_password=$MYSQL_ROOT_PASSWORD
  if [[ -z $root_password ]]; then
    # As the official image: an unset root password is a mistake unless asked for.
    [[ -n ${MYSQL_RANDOM_ROOT_PASSWORD:-} ]] ||
      { log "set MYSQL_ROOT_PASSWORD, MYSQL_ROOT_PASSWORD_FILE or MYSQL_RANDOM_ROOT_PASSWORD"; exit 1; }
    root_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    log "GENERATED ROOT PASSWORD: $root_password"
  fi
  log "initialising $DATADIR (first start)"
  run_step mariadb-install-db --user=mysql --datadir="$DATADIR" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >/dev/null

  # The setup server listens on the socket only, so no client can get in
  # before the users exist.
  mariadbd --user=mysql --datadir="$DATADIR" --socket="$SOCKET" --skip-networking --skip-name-resolve &
  CHILD=$! # stop_init stops the setup server too
  local i up=""
  for i in $(seq 300); do # 30 s
    mariadb-admin --socket="$SOCKET" --user=root ping >/dev/null 2>&1 && { up=1; break; }
    kill -0 "$CHILD" 2>/dev/null || { log "the setup server exited"; exit 1; }
    sleep 0.1
  done
  [[ -n $up ]] || { log "the setup server did not answer on $SOCKET within 30 s"; exit 1; }

  # The official image loads the time zones too (CONVERT_TZ, Django with
  # USE_TZ on MySQL); tzinfo_to_sql warns about zoneinfo files it skips.
  mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | mariadb --socket="$SOCKET" --user=root mysql

  {
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$root_password");"
    # install-db also made root@<container hostname>, which --skip-name-resolve
    # only warns about at every start: keep root on the socket alone.
    echo "DELETE FROM mysql.global_priv WHERE User = '' OR Host <> 'localhost';"
    echo "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';"
    if [[ -n ${MYSQL_DATABASE:-} ]]; then
      echo "CREATE DATABASE IF NOT EXISTS $(sql_name "$MYSQL_DATABASE");"
    fi
    if [[ -n ${MYSQL_USER:-} ]]; then
      [[ -n $MYSQL_PASSWORD ]] || { log "MYSQL_USER $MYSQL_USER needs MYSQL_PASSWORD or MYSQL_PASSWORD_FILE"; exit 1; }
      echo "CREATE USER $(sql_string "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_string "$MYSQL_PASSWORD");"
      if [[ -n ${MYSQL_DATABASE:-} ]]; then
        echo "GRANT ALL ON $(sql_name "$MYSQL_DATABASE").* TO $(sql_string "$MYSQL_USER")@'%';"
      fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket="$SOCKET" --user=root

  mariadb-admin --socket="$SOCKET" --user=root --password="$root_password" shutdown
  wait "$CHILD" || true
  CHILD=""
  mv "$INITIALISING" "$INITIALISED"
  trap - TERM INT
  log "initialised: database ${MYSQL_DATABASE:-(none)}, user ${MYSQL_USER:-(none)}"
}

if [[ ${1:-mariadbd} != mariadbd ]]; then
  exec "$@" # e.g. bash, or mariadb as a client
fi
[[ $# -gt 0 ]] && shift

mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld "$DATADIR"
if [[ -e $INITIALISING ]]; then
  log "$DATADIR holds an initialisation that did not finish: removing it and starting again"
  find "$DATADIR" -mindepth 1 -delete
fi
if [[ -z $(ls -A "$DATADIR") ]]; then
  initialise
fi
# PID 1 is mariadbd itself: SIGTERM is its clean shutdown. No --log-error:
# errors go to stderr, the container's log.
exec mariadbd --user=mysql --datadir="$DATADIR" --socket="$SOCKET" \
  --bind-address=0.0.0.0 --port=3306 --skip-name-resolve "$@"
