#!/usr/bin/env bash
# What DOCKER_HOST=ssh:// costs a jobrun run (BENCHMARKS.md, "ssh"): the same
# trivial job run over the private engine's unix socket and over ssh through
# scripts/sshd.sh (docker/cli's connection helper: one `ssh ... docker system
# dial-stdio` per engine connection), alternating; the ssh processes of each
# run are counted by the sshd wrapper (JOBRUN_SSH_LOG). Also: an ssh login
# alone, a failing job's three attempts, and jobrun history.
#
#   scripts/bench-ssh.sh            BENCH_RUNS (10) pairs
#   BENCH_JOBRUN=path scripts/bench-ssh.sh   measure that binary instead of
#                                   this checkout's (go build)
#
# Starts the engine and the sshd if needed and leaves them running. Its stack
# (bench<pid>ssh: services, run records, network) is removed on exit. Raw
# numbers go to bin/bench/ssh.tsv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

RUNS=${BENCH_RUNS:-10}
OUT=$PWD/bin/bench
STACK=bench$$ssh
WORK=$(mktemp -d)

scripts/engine.sh up >/dev/null
scripts/sshd.sh up >/dev/null
eval "$(scripts/engine.sh env)"
eval "$(scripts/sshd.sh env)"
UNIX_HOST=$DOCKER_HOST

cleanup() {
  local ids
  ids=$(docker service ls -q --filter "label=io.jobrun.stack=$STACK")
  [[ -z $ids ]] || docker service rm $ids >/dev/null
  ids=$(docker config ls -q --filter "label=io.jobrun.stack=$STACK")
  [[ -z $ids ]] || docker config rm $ids >/dev/null
  for _ in $(seq 50); do docker network rm "${STACK}_default" >/dev/null 2>&1 && break; sleep 0.2; done
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$OUT"
JOBRUN=${BENCH_JOBRUN:-$OUT/jobrun}
[[ -n ${BENCH_JOBRUN:-} ]] || go build -o "$JOBRUN" .
docker network create --driver overlay --attachable --label "com.docker.stack.namespace=$STACK" "${STACK}_default" >/dev/null
cat >"$WORK/stack.yml" <<'EOF'
version: "3.7"
services:
  hello:
    image: jobrun-test/busybox:latest
    command: [echo, hello]
    deploy:
      restart_policy: {condition: none}
  fails:
    image: jobrun-test/busybox:latest
    command: [sh, -c, "echo failing; exit 1"]
    deploy:
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 2}
EOF

# timed HOST ARGS...: one jobrun run; prints "wall_ms ssh_processes exit"
timed() {
  local host=$1 log=$WORK/ssh.log start rc=0
  shift
  : >"$log"
  start=$EPOCHREALTIME
  DOCKER_HOST=$host PATH=$JOBRUN_SSH_PATH:$PATH JOBRUN_SSH_LOG=$log \
    "$JOBRUN" --stack "$STACK" "$@" >/dev/null 2>&1 || rc=$?
  awk -v a="$start" -v b="$EPOCHREALTIME" -v n="$(wc -l <"$log")" -v rc="$rc" 'BEGIN { printf "%.0f %d %d\n", (b - a) * 1000, n, rc }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f (min %d, max %d)", m, v[1], v[NR] }'; }

RUN=(-c "$WORK/stack.yml" --resolve-image never --version v1 --force)
echo "run	transport	wall_ms	ssh_processes	exit" >"$OUT/ssh.tsv"
for i in $(seq "$RUNS"); do
  read -r ms n rc < <(timed "$UNIX_HOST" "${RUN[@]}" hello)
  echo "$i	unix	$ms	$n	$rc" >>"$OUT/ssh.tsv"
  read -r ms n rc < <(timed "$JOBRUN_SSH_HOST" "${RUN[@]}" hello)
  echo "$i	ssh	$ms	$n	$rc" >>"$OUT/ssh.tsv"
done
login=() target=${JOBRUN_SSH_HOST#ssh://} # user@host:port
for _ in $(seq "$RUNS"); do
  start=$EPOCHREALTIME
  "$JOBRUN_SSH_PATH/ssh" -p "${target##*:}" "${target%:*}" true
  login+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }')")
done
read -r fails_ms fails_n fails_rc < <(timed "$JOBRUN_SSH_HOST" "${RUN[@]}" fails)
read -r hist_ms hist_n hist_rc < <(timed "$JOBRUN_SSH_HOST" history)
read -r uhist_ms _ _ < <(timed "$UNIX_HOST" history)

col() { awk -F'\t' -v t="$1" -v c="$2" '$2 == t { print $c }' "$OUT/ssh.tsv"; }
[[ -z $(awk -F'\t' 'NR > 1 && $5 != 0' "$OUT/ssh.tsv") ]] || { echo "bench-ssh: a run failed: see $OUT/ssh.tsv" >&2; exit 1; }
echo "== ssh: $RUNS runs each of a one-attempt job ($(uname -m), $(nproc) CPUs) =="
echo "unix socket, wall ms:       $(col unix 3 | median)"
echo "ssh, wall ms:               $(col ssh 3 | median)"
echo "ssh processes per run:      $(col ssh 4 | sort -n | uniq -c | awk '{ printf "%s%d in %d runs", s, $2, $1; s = ", " }')"
echo "ssh login alone (ssh true): $(printf '%s\n' "${login[@]}" | median) ms"
echo "3 failing attempts over ssh: $fails_ms ms, $fails_n ssh processes (exit $fails_rc)"
echo "jobrun history over ssh:    $hist_ms ms, $hist_n ssh process (exit $hist_rc); over the unix socket $uhist_ms ms"
