#!/usr/bin/env bash
# jobrun's benchmarks (BENCHMARKS.md), against the private engine of
# scripts/engine.sh, side by side with the Docker CLI on the same engine.
#
#   scripts/bench.sh                      every section
#   scripts/bench.sh e2e latency          a subset, in the order given
#   scripts/bench.sh clean                remove what an interrupted run left
#
# Sections: e2e latency load cloudwatch parallel startup.
# Tables go to stdout (and bin/bench/results.txt); raw numbers to bin/bench/.
# The engine is started if needed and left running (never stopped here).
# Every service, network and run record made here belongs to a stack named
# bench<pid><section> and is removed on exit.
#
# Knobs (environment): BENCH_DOCKER (Docker CLI, default /usr/bin/docker, the
# 20.10 client scripts/engine.sh installs), BENCH_PAIRS (10), BENCH_RUNS (20),
# BENCH_LOAD_SECONDS (60), BENCH_LINES (1000000), BENCH_JOBS (20).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh # apt_update
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

OUT=$PWD/bin/bench
DOCKER=${BENCH_DOCKER:-/usr/bin/docker}
PAIRS=${BENCH_PAIRS:-10}
RUNS=${BENCH_RUNS:-20}
LOAD_SECONDS=${BENCH_LOAD_SECONDS:-60}
LINES=${BENCH_LINES:-1000000}
NJOBS=${BENCH_JOBS:-20}
IMAGE=jobrun-test/busybox:latest
ALL=(e2e latency load cloudwatch parallel startup)

STACKS=() # stacks made by this run, for cleanup
PIDS=()   # helper processes started by this run
WORK=""

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- cleanup

remove_stack() { # removes a stack's services (jobrun's and docker's), run records, network
  local s=$1 ids i
  ids=$("$DOCKER" service ls -q --filter "label=io.jobrun.stack=$s" 2>/dev/null || true)
  ids+=" $("$DOCKER" service ls -q --filter "name=${s}_" 2>/dev/null || true)"
  ids+=" $("$DOCKER" service ls -q --filter "name=jobrun_${s}_" 2>/dev/null || true)"
  # shellcheck disable=SC2086
  if [[ -n ${ids// /} ]]; then "$DOCKER" service rm $ids >/dev/null 2>&1 || true; fi
  ids=$("$DOCKER" config ls -q --filter "label=io.jobrun.stack=$s" 2>/dev/null || true)
  # shellcheck disable=SC2086
  if [[ -n $ids ]]; then "$DOCKER" config rm $ids >/dev/null 2>&1 || true; fi
  # The network goes once the tasks' containers are gone.
  for i in $(seq 100); do
    "$DOCKER" network inspect "${s}_default" >/dev/null 2>&1 || return 0
    "$DOCKER" network rm "${s}_default" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "could not remove network ${s}_default"
}

cleanup() {
  local rc=$? p s
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for s in "${STACKS[@]}"; do remove_stack "$s"; done
  [[ -n $WORK ]] && rm -rf "$WORK"
  exit "$rc"
}

clean_all() { # every bench* stack on the engine, whoever made it
  local s
  for s in $( {
    "$DOCKER" network ls --format '{{.Name}}' | sed -n 's/^\(bench[A-Za-z0-9]*\)_default$/\1/p'
    "$DOCKER" service ls --format '{{.Name}}' | sed -n 's/^jobrun_\(bench[A-Za-z0-9]*\)_.*/\1/p; s/^\(bench[A-Za-z0-9]*\)_.*/\1/p'
    "$DOCKER" config ls -q --filter label=io.jobrun.stack | xargs -r "$DOCKER" config inspect \
      --format '{{index .Spec.Labels "io.jobrun.stack"}}' | grep '^bench' || true
  } | sort -u); do
    log "removing stack $s"
    remove_stack "$s"
  done
}

# ---------------------------------------------------------------- helpers

now() { echo "$EPOCHREALTIME"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ts() { date -d "$1" +%s.%N; } # RFC 3339 -> unix seconds

# stats FILE: n, median, p95 (nearest rank), min, max of one number a line.
stats() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    n = NR; if (n == 0) { print "0 - - - -"; exit }
    m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    r = int(0.95 * n); if (r < 0.95 * n) r++
    printf "%d %s %s %s %s\n", n, m, v[r], v[1], v[n] }'
}
median() { stats "$1" | cut -d' ' -f2; }

new_stack() { # new_stack SECTION: makes the stack's network and work dir; sets STACK
  STACK=bench$$$1
  STACKS+=("$STACK")
  "$DOCKER" network create --driver overlay --attachable \
    --label "com.docker.stack.namespace=$STACK" "${STACK}_default" >/dev/null
  mkdir -p "$WORK/$STACK"
}

start_proxy() { # start_proxy LOG [DONELOG]: a counting proxy; sets PROXY_PID and PROXY_HOST
  local sock=$WORK/proxy-$RANDOM.sock
  "$OUT/countproxy" -listen "$sock" -target "$ENGINE_SOCK" -log "$1" ${2:+-done "$2"} &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
  [[ -S $sock ]] || die "counting proxy did not start"
  PROXY_HOST=unix://$sock
}

stop_proxy() { kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; }

# collapse: method and path of each request line, IDs and queries folded.
collapse() {
  awk -F'\t' '{
    p = $3; sub(/\?.*/, "", p); sub(/^\/v[0-9.]+/, "", p)
    n = split(p, seg, "/"); q = ""
    for (i = 2; i <= n; i++) {
      x = seg[i]
      if (i == 3 && x != "create" && seg[2] ~ /^(services|tasks|nodes|networks|configs|secrets|containers)$/) x = "{id}"
      q = q "/" x
    }
    if ($3 ~ /follow=(1|true)/) q = q "?follow"
    print $2 " " q }' "$1" | sort | uniq -c | sort -rn | awk '{ printf "    %5d  %s %s\n", $1, $2, $3 }'
}

# rss_kb FILE: peak RSS from /usr/bin/time -v output.
rss_kb() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

section() { printf '\n== %s ==\n' "$*"; }

jobrun() { "$OUT/jobrun" "$@"; }

# ---------------------------------------------------------------- setup

setup() {
  local missing=()
  command -v jq >/dev/null || missing+=(jq)
  [[ -x /usr/bin/time ]] || missing+=(time)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt_update && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  fi
  bash scripts/engine.sh up >&2
  eval "$(bash scripts/engine.sh env)"
  ENGINE_SOCK=${DOCKER_HOST#unix://}
  [[ -x "$DOCKER" ]] || die "no Docker CLI at $DOCKER (set BENCH_DOCKER)"
  mkdir -p "$OUT"
  log "building jobrun, the counting proxy and cwlogs-endpoint into $OUT/"
  go build -o "$OUT/jobrun" .
  go build -o "$OUT/countproxy" ./scripts/bench/countproxy
  go build -o "$OUT/cwlogs-endpoint" ./cmd/cwlogs-endpoint
  WORK=$(mktemp -d /tmp/jobrun-bench.XXXXXX)
  {
    echo "date:      $(date -u +%FT%TZ)"
    echo "machine:   $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -m | awk '/^Mem:/ { printf "%.1f GiB", $2 / 1024 }') memory, $(uname -sr)"
    echo "load avg:  $(cut -d' ' -f1-3 /proc/loadavg) (at start)"
    echo "engine:    $("$DOCKER" version --format 'Docker Engine {{.Server.Version}}, API {{.Server.APIVersion}}, {{.Server.Os}}/{{.Server.Arch}}') (storage $("$DOCKER" info --format '{{.Driver}}'))"
    echo "CLI:       $DOCKER $("$DOCKER" version --format '{{.Client.Version}}')"
    echo "Go:        $(go version | cut -d' ' -f3-)"
    echo "jobrun:    $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- . ':!scripts/bench*' ':!BENCHMARKS.md' 2>/dev/null || echo ' (with uncommitted changes)')"
  } >"$OUT/machine.txt"
  section machine
  cat "$OUT/machine.txt"
}

# ---------------------------------------------------------------- 1. e2e

jobrun_once() { # jobrun_once STACK FILE OUTFILE ERRFILE ARGS...: runs jobrun --force, prints wall ms
  local s=$1 f=$2 out=$3 err=$4 t0 t1 rc=0
  shift 4
  t0=$(now)
  (cd "$WORK/$s" && jobrun --stack "$s" -c "$f" --force --version bench "$@") >"$out" 2>"$err" || rc=$?
  t1=$(now)
  ((rc == 0)) || { cat "$err" >&2; die "jobrun $* exited $rc"; }
  ms "$t0" "$t1"
}

bench_e2e() {
  local s f i jr d drm dlat tcreate first raw=$OUT/e2e.tsv
  new_stack e2e
  s=$STACK
  f=$WORK/$s/stack.yml
  cat >"$f" <<EOF
version: "3.7"
services:
  hello:
    image: $IMAGE
    command: [echo, hello]
    deploy:
      restart_policy: {condition: none}
EOF
  section "1. trivial job end to end: jobrun vs docker service create --detach=false && docker service logs ($PAIRS pairs)"
  docker_once() { # sets d (create+logs ms) and drm (rm ms)
    local name=${s}_d$i t0 t1 t2 t3
    t0=$(now)
    if ! { "$DOCKER" service create --name "$name" --mode replicated-job --detach=false --no-resolve-image \
      --restart-condition none --network "${s}_default" "$IMAGE" echo hello >"$WORK/d.progress" 2>&1 &&
      tcreate=$(now) &&
      "$DOCKER" service logs "$name" >"$WORK/d.out" 2>"$WORK/d.err"; }; then
      die "docker side failed: $(cat "$WORK/d.progress" "$WORK/d.err")"
    fi
    t1=$(now)
    "$DOCKER" inspect "$("$DOCKER" service ps -q --no-trunc "$name" | head -1)" >"$WORK/d.task"
    t2=$(now) # not timed: the task look-up above
    "$DOCKER" service rm "$name" >/dev/null
    t3=$(now)
    grep -q 'hello$' "$WORK/d.out" || die "docker service logs lacks the output: $(cat "$WORK/d.out")"
    d=$(ms "$t0" "$t1") drm=$(ms "$t2" "$t3")
    # the CLI's own verdict latency: task Complete (engine's timestamp) to the create command's exit
    local tc
    tc=$(jq -r '.[0].Status.Timestamp' <"$WORK/d.task")
    dlat=$(ms "$(ts "$tc")" "$tcreate")
  }
  printf 'pair\tfirst\tjobrun_ms\tdocker_ms\tdocker_rm_ms\tratio\tratio_with_rm\tdocker_verdict_latency_ms\n' >"$raw"
  printf '%4s  %-6s  %9s  %16s  %12s  %14s  %17s\n' pair first "jobrun ms" "docker c+logs ms" "docker rm ms" "jobrun/docker" "jobrun/(docker+rm)"
  for i in $(seq "$PAIRS"); do
    if ((i % 2)); then
      first=jobrun
      jr=$(jobrun_once "$s" "$f" "$WORK/j.out" "$WORK/j.err" hello)
      docker_once
    else
      first=docker
      docker_once
      jr=$(jobrun_once "$s" "$f" "$WORK/j.out" "$WORK/j.err" hello)
    fi
    [[ $(cat "$WORK/j.out") == hello ]] || die "jobrun stdout is $(cat "$WORK/j.out")"
    printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$first" "$jr" "$d" "$drm" "$(div "$jr" "$d")" "$(div "$jr" "$((d + drm))")" "$dlat" >>"$raw"
    printf '%4d  %-6s  %9s  %16s  %12s  %14s  %17s\n' "$i" "$first" "$jr" "$d" "$drm" "$(div "$jr" "$d")" "$(div "$jr" "$((d + drm))")"
  done
  local c
  for c in 3 4 5 6 7 8; do tail -n +2 "$raw" | cut -f$c >"$WORK/col$c"; done
  printf '%-6s  %-6s  %9s  %16s  %12s  %14s  %17s\n' median "" "$(median "$WORK/col3")" "$(median "$WORK/col4")" "$(median "$WORK/col5")" "$(median "$WORK/col6")" "$(median "$WORK/col7")"
  echo "target: median jobrun/docker <= 1.0 (jobrun also saves its run record and removes its service)"
  echo "docker CLI's verdict latency (task Complete to the create command's exit), ms: $(paste -sd' ' "$WORK/col8"); median $(median "$WORK/col8")"
}

# ---------------------------------------------------------------- 2. latency

latency_run() { # latency_run STACK FILE JOB [DOCKER_HOST]: one jobrun -o json, appended to $LAT_RAW; sets LAT_UPD, LAT_EXIT
  local s=$1 f=$2 job=$3 host=${4:-$DOCKER_HOST} t0 t1 rc=0 upd cr
  t0=$(now)
  (cd "$WORK/$s" && DOCKER_HOST=$host jobrun --stack "$s" -c "$f" --force --version bench -o json "$job") >"$WORK/l.json" 2>"$WORK/l.err" || rc=$?
  t1=$(now)
  ((rc == 0)) || { cat "$WORK/l.err" >&2; die "jobrun $job exited $rc"; }
  upd=$(ts "$(jq -r '.runs[0].attempts[-1].updated' "$WORK/l.json")")
  cr=$(ts "$(jq -r '.runs[0].attempts[-1].created' "$WORK/l.json")")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$job" "$upd" "$t1" "$(ms "$upd" "$t1")" "$(ms "$t0" "$t1")" "$(ms "$t0" "$cr")" "$(ms "$cr" "$upd")" >>"$LAT_RAW"
  LAT_UPD=$upd LAT_EXIT=$t1
}

bench_latency() {
  local s f i n p50 p95 lo hi a b c job nslow=$(((RUNS + 3) / 4))
  new_stack lat
  s=$STACK
  f=$WORK/$s/stack.yml
  cat >"$f" <<EOF
version: "3.7"
services:
  hello:
    image: $IMAGE
    command: [echo, hello]
    deploy:
      restart_policy: {condition: none}
  slow:
    image: $IMAGE
    command: [sh, -c, "sleep 5; echo hello"]
    deploy:
      restart_policy: {condition: none}
EOF
  section "2. verdict latency: task Complete (engine's timestamp) to jobrun's exit ($RUNS runs of echo hello)"
  LAT_RAW=$OUT/latency.tsv
  printf 'job\tcomplete_unix\texit_unix\tlatency_ms\twall_ms\tstart_to_task_ms\ttask_to_complete_ms\n' >"$LAT_RAW"
  for i in $(seq "$RUNS"); do latency_run "$s" "$f" hello; done
  # A job that runs 5 s: by its end jobrun polls at its slow interval.
  for i in $(seq "$nslow"); do latency_run "$s" "$f" slow; done
  col() { awk -F'\t' -v j="$1" -v c="$2" '$1 == j { print $c }' "$LAT_RAW" >"$WORK/col"; }
  col hello 4
  read -r n p50 p95 lo hi < <(stats "$WORK/col")
  echo "latency ms (each run): $(paste -sd' ' "$WORK/col")"
  printf 'n=%s  p50=%s ms  p95=%s ms  min=%s  max=%s   (target p50 <= 250 ms)\n' "$n" "$p50" "$p95" "$lo" "$hi"
  col hello 6
  a=$(median "$WORK/col")
  col hello 7
  b=$(median "$WORK/col")
  col hello 5
  c=$(median "$WORK/col")
  echo "where a run's wall time goes (medians): jobrun start to task created $a ms; task created to Complete (engine) $b ms; Complete to exit $p50 ms; total $c ms"
  col slow 4
  read -r n p50 p95 lo hi < <(stats "$WORK/col")
  echo "same for a job that runs 5 s (sleep 5; echo hello), $n runs: $(paste -sd' ' "$WORK/col") ms; median $p50 ms"

  # Where the time goes: a few more runs through the counting proxy, each
  # request placed against the Complete timestamp (not in the figures above).
  local trace=$OUT/latency-trace.txt req=$WORK/trace.tsv done=$WORK/trace.done
  LAT_RAW=$OUT/latency-traced.tsv
  : >"$LAT_RAW"
  : >"$trace"
  printf 'job\tprevious_poll_ms\tdetect_ms\twrap_up_ms\tlatency_ms\tfollow_stream_end_ms\n' >"$OUT/latency-breakdown.tsv"
  for job in hello hello hello slow slow; do
    : >"$req"
    : >"$done"
    start_proxy "$req" "$done"
    latency_run "$s" "$f" "$job" "$PROXY_HOST"
    stop_proxy
    {
      echo "--- traced run of $job: ms relative to the task's Complete timestamp; exit at $(ms "$LAT_UPD" "$LAT_EXIT") ms"
      awk -F'\t' -v c="$LAT_UPD" 'FNR == NR { printf "%9.1f  %s %s\n", ($1 / 1e9 - c) * 1000, $2, $3; next }
        { printf "%9.1f  (end of %s %s, sent at %.1f)\n", ($1 / 1e9 - c) * 1000, $3, $4, ($2 / 1e9 - c) * 1000 }' "$req" "$done" | sort -g
    } >>"$trace"
    # The last task list is the one that saw Complete (detect); the one
    # before it is the last that did not; after it comes the wrap-up (final
    # logs read, run record, service removal). And whether the task's
    # followed log stream ended by itself before jobrun's exit.
    awk -F'\t' -v c="$LAT_UPD" -v e="$LAT_EXIT" -v job="$job" '
      FNR == NR { if ($2 == "GET" && index($3, "/tasks?")) { p = d; d = $1 / 1e9 }; next }
      index($4, "logs?follow=1") && $1 / 1e9 < e { fe = $1 / 1e9 }
      END { printf "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%s\n", job, (p - c) * 1000, (d - c) * 1000, (e - d) * 1000, (e - c) * 1000,
        fe ? sprintf("%.0f", (fe - c) * 1000) : "open_at_exit" }' \
      "$req" "$done" >>"$OUT/latency-breakdown.tsv"
  done
  echo "traced runs (via counting proxy), ms from Complete: the task poll before the one that saw it, the poll that saw it (detect), exit after that (wrap-up), end of the followed log stream:"
  column -t -s $'\t' "$OUT/latency-breakdown.tsv" | sed 's/^/    /'
}


# ---------------------------------------------------------------- 3. load

bench_load() {
  local s f t0 t1 wj wd nj nd rc=0 raw=$OUT/load.tsv
  new_stack load
  s=$STACK
  f=$WORK/$s/stack.yml
  cat >"$f" <<EOF
version: "3.7"
services:
  wait:
    image: $IMAGE
    command: [sh, -c, "echo start; sleep $LOAD_SECONDS; echo end"]
    deploy:
      restart_policy: {condition: none}
EOF
  section "3. engine load while waiting on a ${LOAD_SECONDS}s job: API requests (counting proxy on the engine socket)"
  : >"$OUT/load-jobrun.requests.tsv"
  start_proxy "$OUT/load-jobrun.requests.tsv"
  t0=$(now)
  (cd "$WORK/$s" && DOCKER_HOST=$PROXY_HOST jobrun --stack "$s" -c "$f" --force --version bench wait) >"$WORK/w.out" 2>"$WORK/w.err" || rc=$?
  t1=$(now)
  stop_proxy
  ((rc == 0)) || { cat "$WORK/w.err" >&2; die "jobrun exited $rc"; }
  wj=$(ms "$t0" "$t1")
  nj=$(wc -l <"$OUT/load-jobrun.requests.tsv")

  : >"$OUT/load-docker.requests.tsv"
  start_proxy "$OUT/load-docker.requests.tsv"
  t0=$(now)
  DOCKER_HOST=$PROXY_HOST "$DOCKER" service create --name "${s}_docker" --mode replicated-job --detach=false --no-resolve-image \
    --restart-condition none --network "${s}_default" "$IMAGE" sh -c "echo start; sleep $LOAD_SECONDS; echo end" >"$WORK/w.progress" 2>&1 ||
    die "docker service create failed: $(cat "$WORK/w.progress")"
  t1=$(now)
  stop_proxy
  "$DOCKER" service rm "${s}_docker" >/dev/null
  wd=$(ms "$t0" "$t1")
  nd=$(wc -l <"$OUT/load-docker.requests.tsv")

  # steady state: requests while the job runs, 10 s after the first request to 5 s before the last
  steady() {
    awk -F'\t' 'NR == 1 { a = $1 / 1e9 } { t[NR] = $1 / 1e9 } END {
      lo = a + 10; hi = t[NR] - 5; for (i = 1; i <= NR; i++) if (t[i] >= lo && t[i] < hi) c++
      printf "%.2f", c / (hi - lo) }' "$1"
  }
  printf 'client\twall_ms\trequests\treq_per_s\tsteady_req_per_s\n' >"$raw"
  printf 'jobrun\t%s\t%s\t%s\t%s\n' "$wj" "$nj" "$(div "$nj" "$(div "$wj" 1000)")" "$(steady "$OUT/load-jobrun.requests.tsv")" >>"$raw"
  printf 'docker\t%s\t%s\t%s\t%s\n' "$wd" "$nd" "$(div "$nd" "$(div "$wd" 1000)")" "$(steady "$OUT/load-docker.requests.tsv")" >>"$raw"
  column -t -s $'\t' "$raw"
  echo "target: jobrun <= 2 requests/s average"
  echo "request mix, jobrun:"
  collapse "$OUT/load-jobrun.requests.tsv"
  echo "request mix, docker service create --detach=false:"
  collapse "$OUT/load-docker.requests.tsv"
}

# ---------------------------------------------------------------- 4. cloudwatch

bench_cloudwatch() {
  local s f url cwlog=$OUT/cloudwatch-endpoint.log raw=$OUT/cloudwatch.tsv
  new_stack cw
  s=$STACK
  f=$WORK/$s/stack.yml
  : >"$cwlog"
  "$OUT/cwlogs-endpoint" -addr 127.0.0.1:0 -v >"$WORK/cw.url" 2>"$cwlog" &
  PIDS+=("$!")
  for _ in $(seq 100); do [[ -s $WORK/cw.url ]] && break; sleep 0.05; done
  url=$(head -1 "$WORK/cw.url")
  [[ $url == http://* ]] || die "cwlogs-endpoint did not start: $(cat "$cwlog")"
  cat >"$f" <<EOF
version: "3.7"
services:
  lines:
    image: $IMAGE
    command: [sh, -c, "seq 1 $LINES"]
    logging:
      driver: awslogs
      options:
        awslogs-endpoint: $url
        awslogs-group: docker-swarm-lg
        awslogs-region: us-east-1
        awslogs-create-group: "true"
        tag: "{{.Name}}-{{.ID}}"
    deploy:
      restart_policy: {condition: none}
EOF
  local aws=(AWS_ACCESS_KEY_ID=AKIDJOBRUNBENCH AWS_SECRET_ACCESS_KEY=jobrun-bench-secret AWS_REGION=us-east-1)
  calls() { grep -c 'op=GetLogEvents' "$cwlog" || true; }
  # repeats: GetLogEvents calls that asked for a token already asked for (polls at the stream's end)
  repeats() { sed -n "$1,\$p" "$cwlog" | grep 'op=GetLogEvents' | grep -o 'nextToken=[^ ]*' | sort | uniq -c | awk '{ r += $1 - 1 } END { print r + 0 }'; }
  measure() { # measure NAME OUTFILE args...: one jobrun under /usr/bin/time -v
    local name=$1 out=$2 c0 l0 c1 t0 t1 rc=0
    shift 2
    c0=$(calls) l0=$(($(wc -l <"$cwlog") + 1))
    t0=$(now)
    (cd "$WORK/$s" && env "${aws[@]}" /usr/bin/time -v -o "$OUT/cloudwatch-$name.time" "$OUT/jobrun" --stack "$s" "$@") >"$out" 2>"$WORK/$name.err" || rc=$?
    t1=$(now)
    ((rc == 0)) || { cat "$WORK/$name.err" >&2; die "jobrun ($name) exited $rc"; }
    c1=$(calls)
    local wall kb cpu
    wall=$(ms "$t0" "$t1") kb=$(rss_kb "$OUT/cloudwatch-$name.time")
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$OUT/cloudwatch-$name.time")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$wall" "$(awk -v n="$LINES" -v w="$wall" 'BEGIN { printf "%.0f", n / (w / 1000) }')" \
      "$kb" "$(mib "$kb")" "$cpu" "$((c1 - c0))" "$(div "$((c1 - c0))" "$(div "$wall" 1000)")" "$(repeats "$l0")" >>"$raw"
  }
  section "4. CloudWatch: $LINES-line job output through Docker's awslogs driver to cwlogs-endpoint ($url)"
  printf 'command\twall_ms\tlines_per_s\tpeak_rss_kb\tpeak_rss_mib\tcpu_s\tGetLogEvents\tcalls_per_s\trepeated_token_calls\n' >"$raw"
  measure live "$WORK/live.out" -c "$f" --force --version bench lines
  [[ $(wc -l <"$WORK/live.out") -eq $LINES && $(tail -1 "$WORK/live.out") == "$LINES" ]] ||
    die "live run printed $(wc -l <"$WORK/live.out") lines, want $LINES"
  measure logs /dev/null logs lines
  # Not measured: check that jobrun logs gives back every line.
  (cd "$WORK/$s" && env "${aws[@]}" "$OUT/jobrun" --stack "$s" logs lines) 2>/dev/null >"$WORK/logs.out"
  [[ $(wc -l <"$WORK/logs.out") -eq $LINES ]] || die "jobrun logs printed $(wc -l <"$WORK/logs.out") lines, want $LINES"
  column -t -s $'\t' "$raw"
  echo "pages: $(((LINES + 9999) / 10000)) (10,000 events a page); PutLogEvents by the engine's driver: $(grep -c 'op=PutLogEvents' "$cwlog" || true)"
  echo "targets: jobrun logs >= 100000 lines/s, peak RSS <= 64 MiB, GetLogEvents <= pages + drain polls"
  echo "stderr of jobrun logs (last 3 lines):"
  tail -n 3 "$WORK/logs.err" | sed 's/^/    /'
}

# ---------------------------------------------------------------- 5. parallel

bench_parallel() {
  local s f i names=() a1 a2 p d1 dp raw=$OUT/parallel.tsv
  new_stack par
  s=$STACK
  f=$WORK/$s/stack.yml
  {
    echo 'version: "3.7"'
    echo 'services:'
    for i in $(seq -f '%02g' "$NJOBS"); do
      names+=("job$i")
      printf '  job%s:\n    image: %s\n    command: [sh, -c, "sleep 5; echo done"]\n    deploy:\n      restart_policy: {condition: none}\n' "$i" "$IMAGE"
    done
  } >"$f"
  # docker_jobs TAG JOB...: one `docker service create --detach=false` per job, all at once; prints wall ms
  docker_jobs() {
    local tag=$1 j t0 t1 pids=() rc=0
    shift
    t0=$(now)
    for j in "$@"; do
      "$DOCKER" service create --name "${s}_${tag}_$j" --mode replicated-job --detach=false --no-resolve-image \
        --restart-condition none --network "${s}_default" "$IMAGE" sh -c "sleep 5; echo done" >"$WORK/dp.$tag.$j" 2>&1 &
      pids+=("$!")
    done
    for j in "${pids[@]}"; do wait "$j" || rc=$?; done
    t1=$(now)
    ((rc == 0)) || die "docker service create failed: $(cat "$WORK"/dp."$tag".*)"
    for j in "$@"; do "$DOCKER" service rm "${s}_${tag}_$j" >/dev/null; done
    ms "$t0" "$t1"
  }
  section "5. $NJOBS jobs (sleep 5; echo done) in one call with --parallel vs one job alone; Docker CLI: as many service creates at once"
  a1=$(jobrun_once "$s" "$f" "$WORK/a1.json" "$WORK/a.err" -o json job01)
  d1=$(docker_jobs alone job01)
  p=$(jobrun_once "$s" "$f" "$WORK/p.json" "$WORK/p.err" -o json --parallel "${names[@]}")
  [[ $(grep -c '^done$' "$WORK/p.err") -eq $NJOBS ]] || die "--parallel printed $(grep -c '^done$' "$WORK/p.err") done lines, want $NJOBS"
  cp "$WORK/p.err" "$OUT/parallel.stderr"
  cp "$WORK/p.json" "$OUT/parallel.json"
  dp=$(docker_jobs par "${names[@]}")
  a2=$(jobrun_once "$s" "$f" "$WORK/a2.json" "$WORK/a.err" -o json job01)
  {
    printf 'run\twall_ms\n'
    printf 'jobrun job01 alone\t%s\n' "$a1"
    printf 'docker job01 alone\t%s\n' "$d1"
    printf 'jobrun %d jobs --parallel\t%s\n' "$NJOBS" "$p"
    printf 'docker %d creates at once\t%s\n' "$NJOBS" "$dp"
    printf 'jobrun job01 alone again\t%s\n' "$a2"
  } >"$raw"
  column -t -s $'\t' "$raw"
  echo "jobrun: parallel / mean(alone) = $(div "$p" "$(((a1 + a2) / 2))")   (target <= 1.2)"
  echo "docker: $NJOBS at once / alone = $(div "$dp" "$d1");  jobrun parallel / docker at once = $(div "$p" "$dp")"
  # Where the time goes, per job, from the run records (jobrun's start and
  # end, the engine's task created and Complete timestamps).
  phases() { # phases JSON: per job, ms: start->task created, created->Complete, Complete->record end
    jq -r '.runs[] | [.job, .started, .attempts[-1].created, .attempts[-1].updated, .ended] | @tsv' "$1" |
      while IFS=$'\t' read -r job st cr up en; do
        printf '%s\t%s\t%s\t%s\n' "$job" "$(ms "$(ts "$st")" "$(ts "$cr")")" "$(ms "$(ts "$cr")" "$(ts "$up")")" "$(ms "$(ts "$up")" "$(ts "$en")")"
      done
  }
  {
    printf 'run\tjob\tstart_to_task_ms\ttask_to_complete_ms\tcomplete_to_end_ms\n'
    phases "$WORK/a1.json" | sed 's/^/alone-before\t/'
    phases "$WORK/p.json" | sed 's/^/parallel\t/'
    phases "$WORK/a2.json" | sed 's/^/alone-after\t/'
  } >"$OUT/parallel-phases.tsv"
  echo "jobrun per-job phases, ms (max over the run's jobs): start->task created, task created->Complete (engine), Complete->record end"
  awk -F'\t' 'NR > 1 { r = $1; n[r]++; for (c = 3; c <= 5; c++) if ($c > m[r, c]) m[r, c] = $c }
    END { for (r in n) printf "    %-13s jobs=%-3d %8d %8d %8d\n", r, n[r], m[r, 3], m[r, 4], m[r, 5] }' "$OUT/parallel-phases.tsv" | sort
}


# ---------------------------------------------------------------- 6. startup

bench_startup() {
  local i t0 t1 raw=$OUT/startup.tsv
  section "6. start-up: jobrun version ($RUNS runs), binary size"
  printf 'run\twall_ms\tpeak_rss_kb\n' >"$raw"
  for i in $(seq "$RUNS"); do
    t0=$(now)
    "$OUT/jobrun" version >/dev/null
    t1=$(now)
    /usr/bin/time -f %M -o "$WORK/rss" "$OUT/jobrun" version >/dev/null
    printf '%d\t%s\t%s\n' "$i" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')" "$(cat "$WORK/rss")" >>"$raw"
  done
  tail -n +2 "$raw" | cut -f2 >"$WORK/w"
  tail -n +2 "$raw" | cut -f3 >"$WORK/r"
  read -r _ med p95 lo _ < <(stats "$WORK/w")
  read -r _ rmed _ _ rmax < <(stats "$WORK/r")
  go build -ldflags "-s -w" -o "$WORK/jobrun-stripped" .
  local size stripped
  size=$(stat -c %s "$OUT/jobrun") stripped=$(stat -c %s "$WORK/jobrun-stripped")
  printf 'jobrun version: median %s ms, p95 %s ms, min %s ms; peak RSS median %s KiB, max %s KiB\n' "$med" "$p95" "$lo" "$rmed" "$rmax"
  printf 'binary: go build -o bin/jobrun . = %s bytes (%s MiB); -ldflags "-s -w" = %s bytes (%s MiB)\n' \
    "$size" "$(mib $((size / 1024)))" "$stripped" "$(mib $((stripped / 1024)))"
  printf 'binary\tbytes\ndefault\t%s\ns-w\t%s\n' "$size" "$stripped" >"$OUT/startup-size.tsv"
  # Where start-up goes: package init times (GODEBUG=inittrace=1), one run.
  GODEBUG=inittrace=1 "$OUT/jobrun" version 2>"$OUT/startup-inittrace.txt" >/dev/null
  awk '$1 == "init" { t[$2] += $5; tot += $5; b += $8 } END {
    printf "package init: %.1f ms, %.1f MiB allocated; slowest:", tot, b / 1048576
    for (i = 0; i < 4; i++) { m = ""; for (p in t) if (m == "" || t[p] > t[m]) m = p; printf " %s %.1f ms;", m, t[m]; delete t[m] }
    print "" }' "$OUT/startup-inittrace.txt"
}

# ---------------------------------------------------------------- main

main() {
  local sections=("$@") sec
  ((${#sections[@]})) || sections=("${ALL[@]}")
  if [[ ${sections[0]} == clean ]]; then
    eval "$(bash scripts/engine.sh env)"
    clean_all
    return
  fi
  for sec in "${sections[@]}"; do
    [[ " ${ALL[*]} " == *" $sec "* ]] || die "unknown section $sec (sections: ${ALL[*]}, or clean)"
  done
  mkdir -p "$OUT"
  exec > >(tee "$OUT/results.txt") 2>&1
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  setup
  local t0
  t0=$(now)
  for sec in "${sections[@]}"; do
    "bench_$sec"
    echo "load avg after $sec: $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  echo
  echo "done in $(($(ms "$t0" "$(now)") / 1000)) s; raw numbers in $OUT/"
}

main "$@"
