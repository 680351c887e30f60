#!/usr/bin/env bash
# BENCHMARKS.md section 7: a release of a small stack (db, app, and a
# migrate job that needs db) with `jobrun deploy`, against what a team
# scripts without it: the job as a `docker service create --mode
# replicated-job --detach=false` service, then `docker stack deploy`, then a
# wait until the app's update completed. Each pair releases a new version
# (a new image tag) on its own stack; pairs alternate which goes first.
#
#   scripts/bench-deploy.sh          BENCH_PAIRS pairs (default 5)
#
# Uses the private engine of scripts/engine.sh (started if needed, left
# running); removes its stacks on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
PAIRS=${BENCH_PAIRS:-5}
bench_start
WORK=$(mktemp -d)
A=benchdeploy$$a
B=benchdeploy$$b
cleanup() {
  for s in "$A" "$B"; do
    "$DOCKER" stack rm "$s" >/dev/null 2>&1 || true
    ids=$("$DOCKER" config ls -q --filter "label=io.jobrun.stack=$s")
    [[ -z $ids ]] || "$DOCKER" config rm $ids >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/stack.yml" <<'YML'
version: "3.7"
services:
  db:
    image: jobrun-test/busybox:latest
    command: [idle, db]
  migrate:
    image: jobrun-bench/app:${APP_VERSION}
    command: [sh, -c, "echo Applying todo.0001_initial... OK"]
    depends_on: [db]
    deploy: {restart_policy: {condition: none}}
    x-jobrun: {phase: pre-deploy}
  app:
    image: jobrun-bench/app:${APP_VERSION}
    command: [idle, app]
    depends_on: [db, migrate]
YML
# The same stack without the job, for docker stack deploy.
sed '/^  migrate:/,/^    x-jobrun/d; s/depends_on: \[db, migrate\]/depends_on: [db]/' "$WORK/stack.yml" >"$WORK/plain.yml"

with_jobrun() { # version
  bin/jobrun deploy -c "$WORK/stack.yml" --stack "$A" --version "$1" --resolve-image never >/dev/null 2>&1
}
without() { # version
  "$DOCKER" service create --quiet --detach=false --mode replicated-job --restart-condition none \
    --name "${B}_migrate_$1" --network "${B}_default" "jobrun-bench/app:$1" \
    sh -c 'echo Applying todo.0001_initial... OK' >/dev/null 2>&1
  "$DOCKER" service rm "${B}_migrate_$1" >/dev/null
  APP_VERSION=$1 "$DOCKER" stack deploy --resolve-image never -c "$WORK/plain.yml" "$B" >/dev/null 2>&1
  until [[ $("$DOCKER" service inspect "${B}_app" --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}') == completed ]]; do
    sleep 0.1
  done
}
ms() { date +%s%3N; }

# Warm up: the first release of each stack (networks, db) is not measured.
"$DOCKER" tag jobrun-test/busybox:latest jobrun-bench/app:v0
with_jobrun v0
APP_VERSION=v0 "$DOCKER" stack deploy --resolve-image never -c "$WORK/plain.yml" "$B" >/dev/null 2>&1
sleep 5

ratios=()
for i in $(seq "$PAIRS"); do
  "$DOCKER" tag jobrun-test/busybox:latest "jobrun-bench/app:v$i"
  if ((i % 2)); then order=(a b); else order=(b a); fi
  for which in "${order[@]}"; do
    t0=$(ms)
    if [[ $which == a ]]; then with_jobrun "v$i"; ta=$(($(ms) - t0)); else without "v$i"; tb=$(($(ms) - t0)); fi
  done
  ratio=$(awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.2f", a / b }')
  ratios+=("$ratio")
  echo "pair $i: jobrun deploy ${ta} ms, docker ${tb} ms, ratio $ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "median ratio (jobrun deploy / docker): $median over $PAIRS pairs"
