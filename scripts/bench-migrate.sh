#!/usr/bin/env bash
# BENCHMARKS.md section 11: the real todobackend's migrate end to end (Django
# 3.2 applying todo.0002_todoitem_priority, an ALTER TABLE on MariaDB 10.11),
# `jobrun migrate` against what a team scripts without it on the same engine:
# `docker service create --mode replicated-job --detach=false` of the same
# job (image, network, secret, environment, restart policy), then `docker
# service logs`; `docker service rm` is timed on its own, as jobrun removes
# its service too. Pairs alternate which goes first. Before each measured run
# the database is put back to todo.0001 (not timed), so each applies the same
# one migration; a run that did not is an error.
#
#   JOBRUN_ENGINE=29 scripts/bench-migrate.sh   BENCH_PAIRS pairs (default 5)
#
# Uses the private engine of scripts/engine.sh (started if needed, left
# running) and the images of scripts/images.sh; removes its stack, volumes
# and run records on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
PAIRS=${BENCH_PAIRS:-5}
bench_start
S=benchmig$$
FIRST=3db46c4
NEXT=5e1f0aa
IMAGE=385605022855.dkr.ecr.us-east-1.amazonaws.com/docker-in-aws/todobackend
JOBRUN=(bin/jobrun -c examples/stack.yml --stack "$S" --resolve-image never)
LOG=$(mktemp)

cleanup() {
  "$DOCKER" service rm "${S}_migrate_docker" >/dev/null 2>&1 || true
  ids=$({
    "$DOCKER" service ls -q --filter "label=com.docker.stack.namespace=$S"
    "$DOCKER" service ls -q --filter "label=io.jobrun.stack=$S"
  } | sort -u)
  [[ -z $ids ]] || "$DOCKER" service rm $ids >/dev/null 2>&1 || true
  ids=$("$DOCKER" config ls -q --filter "label=io.jobrun.stack=$S")
  [[ -z $ids ]] || "$DOCKER" config rm $ids >/dev/null 2>&1 || true
  # Volumes and the network go once the tasks' containers are gone.
  for _ in $(seq 100); do
    vols=$("$DOCKER" volume ls -q --filter "label=com.docker.stack.namespace=$S")
    [[ -z $vols ]] && break
    "$DOCKER" volume rm $vols >/dev/null 2>&1 || sleep 0.2
  done
  "$DOCKER" network rm "${S}_net" >/dev/null 2>&1 || true
  rm -f "$LOG"
}
trap cleanup EXIT

if ! "$DOCKER" secret inspect todobackend_mysql_password >/dev/null 2>&1; then
  printf 'demo-password' | "$DOCKER" secret create todobackend_mysql_password - >/dev/null
fi
# The stack, its database initialised and at todo.0001 (not measured).
"${JOBRUN[@]}" deploy --version "$FIRST" >"$LOG" 2>&1 || { cat "$LOG" >&2; exit 1; }

# reset: the database back to todo.0001, with Django's own migrate.
reset() {
  "${JOBRUN[@]}" exec migrate --version "$NEXT" -- python3 manage.py migrate --no-input todo 0001 >"$LOG" 2>&1 ||
    { cat "$LOG" >&2; exit 1; }
}
# applied WHO: the run's output must show the one migration applied.
applied() {
  grep -q 'Applying todo.0002_todoitem_priority... OK' "$LOG" || { echo "bench: $1 did not apply todo.0002:" >&2; cat "$LOG" >&2; exit 1; }
}
with_jobrun() {
  "${JOBRUN[@]}" migrate --version "$NEXT" --force >"$LOG" 2>&1
}
# The job as stack.yml defines it (docker/cli's flags for the same spec).
with_docker() {
  "$DOCKER" service create --quiet --detach=false --mode replicated-job --no-resolve-image \
    --restart-condition on-failure --restart-delay 10s --restart-max-attempts 6 \
    --name "${S}_migrate_docker" --network "${S}_net" \
    --secret source=todobackend_mysql_password,target=MYSQL_PASSWORD \
    -e DJANGO_SETTINGS_MODULE=todobackend.settings_release -e MYSQL_HOST=db -e MYSQL_USER=todo \
    "$IMAGE:$NEXT" python3 manage.py migrate --no-input >/dev/null 2>&1
  "$DOCKER" service logs --raw "${S}_migrate_docker" >"$LOG" 2>&1
}
ms() { date +%s%3N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "engine: Docker $("$DOCKER" version --format '{{.Server.Version}}'), CLI $("$DOCKER" version --format '{{.Client.Version}}'), $(nproc) CPUs"
echo "pair	first	jobrun_ms	docker_ms	docker_rm_ms	ratio	ratio_with_rm"
ja=() da=() ra=() r1=() r2=()
for i in $(seq "$PAIRS"); do
  if ((i % 2)); then order=(jobrun docker); else order=(docker jobrun); fi
  for which in "${order[@]}"; do
    reset
    t0=$(ms)
    if [[ $which == jobrun ]]; then
      with_jobrun
      tj=$(($(ms) - t0))
    else
      with_docker
      td=$(($(ms) - t0))
      t0=$(ms)
      "$DOCKER" service rm "${S}_migrate_docker" >/dev/null
      tr=$(($(ms) - t0))
    fi
    applied "$which"
  done
  ratio=$(awk -v a="$tj" -v b="$td" 'BEGIN { printf "%.2f", a / b }')
  ratio_rm=$(awk -v a="$tj" -v b="$td" -v c="$tr" 'BEGIN { printf "%.2f", a / (b + c) }')
  ja+=("$tj") da+=("$td") ra+=("$tr") r1+=("$ratio") r2+=("$ratio_rm")
  echo "$i	${order[0]}	$tj	$td	$tr	$ratio	$ratio_rm"
done
echo "median	-	$(printf '%s\n' "${ja[@]}" | median)	$(printf '%s\n' "${da[@]}" | median)	$(printf '%s\n' "${ra[@]}" | median)	$(printf '%s\n' "${r1[@]}" | median)	$(printf '%s\n' "${r2[@]}" | median)"
