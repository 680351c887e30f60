#!/usr/bin/env bash
# A real multi-node swarm on one machine, for jobrun's multi-node tests: a
# manager and two workers, each its own dockerd in its own network namespace,
# joined over a private host bridge; and a fourth, plain dockerd that is not in
# swarm mode. It never touches a system dockerd, nor scripts/engine.sh's engine
# (which it only reads the test image from, starting it if it is not running).
#
#   scripts/multinode.sh up      start (idempotent; also restarts a dockerd that died,
#                                continues a stopped one, and demotes the managers a
#                                process promoted and left behind when it ended)
#   scripts/multinode.sh down    stop every dockerd, remove its state, namespaces,
#                                links and bridge
#   scripts/multinode.sh env     eval "$(scripts/multinode.sh env)"
#
# Faults, for multinode_faults_test.go (NODE: manager, worker1 or worker2):
#   scripts/multinode.sh promote      worker1 and worker2 become managers too: three
#                                     managers, all reachable, one of them leader
#   scripts/multinode.sh demote       back to the shape up makes: every dockerd running,
#                                     manager the one manager (and leader), worker1
#                                     and worker2 workers, all Ready
#   scripts/multinode.sh leader       prints the NODE that leads the swarm now
#   scripts/multinode.sh kill NODE    SIGKILL to its dockerd (up restarts it)
#   scripts/multinode.sh freeze NODE  SIGSTOP to its dockerd; thaw NODE: SIGCONT
#
# Layout (NET defaults to 10.213.7, JOBRUN_MULTINODE_NET overrides it):
#   bridge jrmn0             NET.1/24 on the host (BRIDGE_HOST_IP)
#   netns jrmn-NODE          eth0 NET.1x/24, no default route (offline)
#   dockerd                  unix:///run/jobrun-multinode/NODE/docker.sock,
#                            hostname jobrun-NODE (own UTS namespace)
#   NODE: manager .11, worker1 .12, worker2 .13, plain .14
#
# JOBRUN_ENGINE=29 (scripts/lib.sh, engine_family): the same swarm of Docker
# Engine 29 dockerds, beside the 20.10 one: bridge jrmn29, netns jrmn29-NODE,
# NET 10.213.8 by default, /run/jobrun-multinode29, /var/lib/jobrun-multinode29;
# the test image comes from scripts/engine.sh's Engine 29.
set -euo pipefail
# Under pipefail a pipe into grep -q (or head) fails when the reader exits
# before the writer is done (SIGPIPE, 141): grep here reads to the end.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
engine_family

if [[ $ENGINE_FAMILY == 29 ]]; then NET=${JOBRUN_MULTINODE_NET:-10.213.8}; else NET=${JOBRUN_MULTINODE_NET:-10.213.7}; fi
BRIDGE=jrmn${ENGINE_SUFFIX:-0}
BRIDGE_IP=$NET.1
RUN_DIR=/run/jobrun-multinode$ENGINE_SUFFIX
DATA_DIR=/var/lib/jobrun-multinode$ENGINE_SUFFIX
NODES=(manager worker1 worker2 plain)
declare -A IP=([manager]=$NET.11 [worker1]=$NET.12 [worker2]=$NET.13 [plain]=$NET.14)
TEST_IMAGE=jobrun-test/busybox:latest
# ENGINE_SOCK (lib.sh): scripts/engine.sh's engine of the same family

netns() { echo "jrmn$ENGINE_SUFFIX-$1"; }    # network namespace of a node
hostlink() { echo "jrmn$ENGINE_SUFFIX-$1"; } # host end of its veth (<= 15 chars)
sock() { echo "unix://$RUN_DIR/$1/docker.sock"; }
pidfile() { echo "$RUN_DIR/$1/docker.pid"; }
logfile() { echo "$RUN_DIR/$1/dockerd.log"; }
hostname_of() { echo "jobrun-$1"; }
dk() { local n=$1; shift; docker -H "$(sock "$n")" "$@"; } # docker CLI against a node

fail() {
  echo "multinode: $*" >&2
  exit 1
}

alive() { # true if pid $1 runs; a zombie does not (PID 1 may reap it seconds late)
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

stopped() { # true if pid $1 is stopped (SIGSTOP)
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} == T ]]
}

running_pid() { # prints node $1's dockerd pid if it is alive
  local pid
  pid=$(cat "$(pidfile "$1")" 2>/dev/null) || return 1
  [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] && alive "$pid" && echo "$pid"
}

install_deps() {
  local bb missing=()
  command -v dockerd >/dev/null && command -v docker >/dev/null || missing+=(docker.io)
  bb=$(command -v busybox || true)
  [[ -n $bb ]] && ! ldd "$bb" >/dev/null 2>&1 || missing+=(busybox-static)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v nsenter >/dev/null && command -v unshare >/dev/null || missing+=(util-linux)
  command -v openssl >/dev/null || missing+=(openssl)
  ((${#missing[@]} == 0)) && return
  echo "multinode: installing ${missing[*]}" >&2
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
}

# --- network -----------------------------------------------------------------

# A host dockerd that sets the FORWARD policy to DROP would also drop bridged
# traffic between the namespaces (br_netfilter hands it to iptables): accept
# the bridge's own traffic, in DOCKER-USER where that chain exists.
fw_chain() { if iptables -S DOCKER-USER >/dev/null 2>&1; then echo DOCKER-USER; else echo FORWARD; fi; }
FW_RULE=(-i "$BRIDGE" -o "$BRIDGE" -j ACCEPT)

net_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    if ip -4 route show | grep "^$NET\.0/24 " >/dev/null; then
      fail "$NET.0/24 is already routed on this host: set JOBRUN_MULTINODE_NET to another private /24 prefix"
    fi
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$BRIDGE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local n ns
  for n in "${NODES[@]}"; do
    ns=$(netns "$n")
    [[ -e /var/run/netns/$ns ]] || ip netns add "$ns"
    if ! ip link show "$(hostlink "$n")" >/dev/null 2>&1; then
      ip -n "$ns" link del eth0 2>/dev/null || true
      ip link add "$(hostlink "$n")" type veth peer name eth0 netns "$ns"
    fi
    ip link set "$(hostlink "$n")" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr replace "${IP[$n]}/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  if iptables -S FORWARD 2>/dev/null | grep -x -- '-P FORWARD DROP' >/dev/null || iptables -S DOCKER-USER >/dev/null 2>&1; then
    local chain
    chain=$(fw_chain)
    iptables -C "$chain" "${FW_RULE[@]}" 2>/dev/null || iptables -I "$chain" "${FW_RULE[@]}"
  fi
}

net_down() {
  local n chain
  for chain in DOCKER-USER FORWARD; do
    while iptables -D "$chain" "${FW_RULE[@]}" 2>/dev/null; do :; done
  done
  for n in "${NODES[@]}"; do
    ip link del "$(hostlink "$n")" 2>/dev/null || true
    if [[ -e /var/run/netns/$(netns "$n") ]]; then ip netns del "$(netns "$n")"; fi
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}

# --- dockerd -----------------------------------------------------------------

start_dockerd() { # node; returns at once, wait_dockerd waits
  local n=$1 dir=$RUN_DIR/$1
  mkdir -p "$dir/exec" "$DATA_DIR/$n"
  rm -f "$(pidfile "$n")" # stale (running_pid said so)
  # A killed dockerd's containerd dies with it, but a new dockerd that finds
  # its pid still there (a zombie, or not yet dead) waits on its socket and
  # gives up. Wait for it to go, and drop its pidfile.
  local cpidfile=$dir/exec/containerd/containerd.pid cpid
  if cpid=$(cat "$cpidfile" 2>/dev/null) && [[ -n $cpid ]]; then
    for _ in $(seq 50); do alive "$cpid" || break; sleep 0.1; done
    alive "$cpid" || rm -f "$cpidfile"
  fi
  dockerd_command
  printf '{"deprecated-key-path": "%s"%s}\n' "$DATA_DIR/$n/key.json" "${DOCKERD_CONFIG_FIELDS:+, $DOCKERD_CONFIG_FIELDS}" >"$dir/daemon.json"
  # 29: its own mount namespace too, for a sysfs of its network namespace
  # (NETNS_SYSFS in lib.sh).
  local mounts=() sysfs=()
  if [[ $ENGINE_FAMILY == 29 ]]; then
    mounts=(--mount --propagation slave)
    sysfs=(sh -c "$NETNS_SYSFS" "$dir")
  fi
  # As scripts/engine.sh (see the reasons there), plus:
  #  nsenter --net (not `ip netns exec`, which remounts /sys and hides the cgroup
  #    mounts dockerd needs); unshare --uts: its own hostname, which Swarm shows
  #    as the node's and placement constraints can name.
  #  --config-file (with its own deprecated-key-path): not the host's
  #    /etc/docker, so the engines share neither settings nor an engine ID.
  #  Proxy and DOCKER_* variables are dropped: the awslogs driver must reach the
  #    test endpoint on the bridge directly.
  env -u DOCKER_HOST -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH \
    -u HTTP_PROXY -u HTTPS_PROXY -u NO_PROXY -u http_proxy -u https_proxy -u no_proxy \
    AWS_ACCESS_KEY_ID=AKIDJOBRUNTEST AWS_SECRET_ACCESS_KEY=jobrun-test-secret \
    AWS_REGION=us-east-1 DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
    setsid nsenter --net="/var/run/netns/$(netns "$n")" \
    unshare --uts "${mounts[@]}" -- "${sysfs[@]}" sh -c 'hostname "$0" && exec "$@"' "$(hostname_of "$n")" \
    "${DOCKERD[@]}" \
    --host "$(sock "$n")" \
    --data-root "$DATA_DIR/$n" \
    --exec-root "$dir/exec" \
    --pidfile "$(pidfile "$n")" \
    --config-file "$dir/daemon.json" \
    --bridge=none --iptables=false --ip-forward=false \
    --containerd-namespace "jobrun-mn$ENGINE_SUFFIX-$n" --containerd-plugins-namespace "jobrun-mn$ENGINE_SUFFIX-$n-plugins" \
    </dev/null >>"$(logfile "$n")" 2>&1 &
  LAUNCHED[$n]=$! # dockerd itself: setsid, nsenter, unshare and sh exec in turn
}
declare -A LAUNCHED=()

wait_dockerd() {
  local n=$1
  for _ in $(seq 600); do # 60 s
    dk "$n" version >/dev/null 2>&1 && return
    [[ -z ${LAUNCHED[$n]:-} ]] || alive "${LAUNCHED[$n]}" || break
    sleep 0.1
  done
  echo "--- tail of $(logfile "$n") ---" >&2
  tail -n 30 "$(logfile "$n")" >&2 || true
  fail "$n: dockerd exited or did not answer on $(sock "$n") within 60s"
}

# Kills what killed dockerds left behind: containers (through runc's state),
# containerd shims and containerd, found by our exec-roots in their command
# lines and killed by pid.
kill_leftovers() {
  local root id pid cmd
  for root in "$RUN_DIR"/*/exec/runtime-runc/*; do
    [[ -d $root ]] || continue
    for id in $(runc --root "$root" list -q 2>/dev/null); do
      runc --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
  done
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    { cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline"); } 2>/dev/null || continue
    [[ $cmd == *"$RUN_DIR/"*/exec/* ]] && kill -KILL "$pid" 2>/dev/null || true
  done
}

stop_all() {
  local n pid pids=()
  for n in "${NODES[@]}"; do
    if pid=$(running_pid "$n"); then
      kill "$pid"
      kill -CONT "$pid" # a frozen one handles SIGTERM once continued
      pids+=("$pid")
    fi
  done
  for _ in $(seq 300); do # 30 s: dockerd gives running containers their grace period
    local running=0
    for pid in "${pids[@]}"; do alive "$pid" && running=1; done
    ((running)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then
      echo "multinode: dockerd ($pid) still running after 30s, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  kill_leftovers
  sleep 0.5
}

# --- swarm -------------------------------------------------------------------

swarm_state() { dk "$1" info --format '{{.Swarm.LocalNodeState}}'; }

ensure_swarm() {
  local n out token
  if [[ $(swarm_state manager) == inactive ]]; then
    out=$(dk manager swarm init --advertise-addr "${IP[manager]}" 2>&1) || fail "manager: swarm init failed: $out"
  fi
  wait_leader
  token=$(dk manager swarm join-token -q worker)
  for n in worker1 worker2; do
    if [[ $(swarm_state "$n") == inactive ]]; then
      out=$(dk "$n" swarm join --token "$token" --advertise-addr "${IP[$n]}" "${IP[manager]}:2377" 2>&1) ||
        fail "$n: swarm join failed: $out"
    fi
  done
  [[ $(swarm_state plain) == inactive ]] || fail "plain: in swarm mode ($(swarm_state plain)); run $0 down first"
  # A restarted worker rejoins by itself; wait until the manager sees all Ready.
  local want=3 ready
  for _ in $(seq 600); do # 60 s
    ready=$(dk manager node ls --format '{{.Hostname}} {{.Status}}' 2>/dev/null | grep -c ' Ready$' || true)
    ((ready >= want)) && return
    sleep 0.1
  done
  dk manager node ls >&2 || true
  fail "swarm: $ready of $want nodes Ready within 60s"
}

# Managers back after a lost quorum took 50 to 70 s to elect a leader here
# (their gRPC connections to each other back off while the peers are away).
wait_leader() {
  for _ in $(seq 1200); do # 120 s
    dk manager node ls >/dev/null 2>&1 && return
    sleep 0.1
  done
  fail "manager: no leader within 120s"
}

# Loads the test image from scripts/engine.sh's engine into each swarm node
# that lacks it (or has another build of it). The saved copy is kept, so that
# repairing a node works while that engine is down (a test may restart it).
load_images() {
  local want n tar=$DATA_DIR/test-image.tar
  # One call: the engine may go down between two (a test beside restarts it).
  if want=$(docker -H "$ENGINE_SOCK" image inspect --format '{{.Id}}' "$TEST_IMAGE" 2>/dev/null); then
    :
  elif [[ -f $tar.id ]]; then
    want=$(cat "$tar.id")
  else
    echo "multinode: the single-node engine is not running: starting it (scripts/engine.sh up) for $TEST_IMAGE" >&2
    bash scripts/engine.sh up >&2 # of the same family: JOBRUN_ENGINE is passed on
    want=$(docker -H "$ENGINE_SOCK" image inspect --format '{{.Id}}' "$TEST_IMAGE")
  fi
  for n in manager worker1 worker2; do
    [[ $(dk "$n" image inspect --format '{{.Id}}' "$TEST_IMAGE" 2>/dev/null) == "$want" ]] && continue
    if [[ $(cat "$tar.id" 2>/dev/null) != "$want" ]]; then
      docker -H "$ENGINE_SOCK" save -o "$tar.tmp" "$TEST_IMAGE"
      mv "$tar.tmp" "$tar"
      echo "$want" >"$tar.id"
    fi
    dk "$n" load -q -i "$tar" >/dev/null
  done
}

# --- faults ----------------------------------------------------------------------

SWARM_NODES=(manager worker1 worker2)

# dkt: dk with a bound, for nodes that may be frozen.
dkt() { local n=$1; shift; timeout 10 docker -H "$(sock "$n")" "$@"; }

node_of_hostname() { echo "${1#jobrun-}"; } # jobrun-worker1 → worker1

is_node() { [[ $1 == manager || $1 == worker1 || $1 == worker2 ]] || fail "no such swarm node: ${1:-(none)}: manager, worker1 or worker2"; }

# node_ls prints "NODE status manager-status" lines, as the first manager that
# answers sees them; fails if none does.
node_ls() {
  local n out
  for n in "${SWARM_NODES[@]}"; do
    out=$(dkt "$n" node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' 2>/dev/null) || continue
    while read -r host status mstatus; do
      echo "$(node_of_hostname "$host") $status ${mstatus:--}"
    done <<<"$out"
    return 0
  done
  return 1
}

has_leader() { node_ls | awk '$3 == "Leader" {found=1} END {exit !found}'; }

leader() {
  local out
  out=$(node_ls) || fail "no manager answers node ls (no leader?)"
  awk '$3 == "Leader" {print $1; found=1} END {exit !found}' <<<"$out" || fail "no leader: $(tr '\n' ';' <<<"$out")"
}

# wait_until SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it
# succeeds, for SECONDS of the clock (one try may take 30 s: frozen nodes).
wait_until() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    "$@" >/dev/null 2>&1 && return
    sleep 0.2
  done
  node_ls >&2 || true
  fail "$what: not within ${seconds}s (a new swarm: scripts/multinode.sh down && scripts/multinode.sh up)"
}

control_available() { [[ $(dkt "$1" info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}') == "active $2" ]]; }

# three_managers: every swarm node Ready and a reachable manager (or leader),
# and each answers as a manager.
three_managers() {
  local out n
  out=$(node_ls) || return 1
  [[ $(awk '$2 == "Ready" && ($3 == "Leader" || $3 == "Reachable")' <<<"$out" | wc -l) == 3 ]] || return 1
  for n in "${SWARM_NODES[@]}"; do control_available "$n" true || return 1; done
}

# one_manager: the shape up makes: manager leads, alone; the workers are
# workers, down to their certificates (a demoted node renews its own some
# seconds later; promoted again before that, it takes 16 s and more).
one_manager() {
  local out n
  out=$(node_ls) || return 1
  [[ $(awk '$2 == "Ready"' <<<"$out" | wc -l) == 3 ]] || return 1
  [[ $(awk '$3 != "-" {print $1, $3}' <<<"$out") == "manager Leader" ]] || return 1
  control_available manager true || return 1
  for n in worker1 worker2; do
    control_available "$n" false && [[ $(cert_role "$n") == swarm-worker ]] || return 1
  done
}

# cert_role NODE: the role its swarm certificate names (swarm-manager, swarm-worker).
cert_role() {
  openssl x509 -noout -subject -in "$DATA_DIR/$1/swarm/certificates/swarm-node.crt" | sed -n 's/.*OU *= *\([a-z-]*\).*/\1/p'
}

reachable_manager() {
  node_ls | grep -E "^$1 Ready (Reachable|Leader)\$" >/dev/null && control_available "$1" true
}

is_manager() { node_ls | awk -v n="$1" '$1 == n && $3 != "-" {found=1} END {exit !found}'; }

# demoted NODE: true once it is a worker; asks a manager to demote it if not.
demoted() {
  local out lead
  out=$(node_ls) || return 1
  awk -v n="$1" '$1 == n && $3 == "-" {found=1} END {exit !found}' <<<"$out" && return 0
  lead=$(awk '$3 == "Leader" {print $1}' <<<"$out")
  dkt "${lead:-manager}" node demote "$(hostname_of "$1")" >/dev/null 2>&1
  return 1
}

# promote: one node at a time. Two at once make one join time out ("can't
# initialize raft node"), after which its engine reports the swarm state
# "error" until it restarts.
promote() {
  local n todo=()
  # Whoever asked (a test) owns the three managers until it demotes them;
  # said first, so that up undoes a promotion its owner did not see end.
  echo "$PPID $(start_time "$PPID")" >"$PROMOTED_BY"
  for n in worker1 worker2; do is_manager "$n" || todo+=("$n"); done
  ((${#todo[@]} == 0)) || compact_raft
  for n in "${todo[@]}"; do
    # The call may time out (DeadlineExceeded) while the raft takes the
    # new member in; the promotion still happens: wait for it.
    dkt manager node promote "$(hostname_of "$n")" >/dev/null 2>&1 || true
    wait_until 90 "$n: a reachable manager" reachable_manager "$n"
  done
  wait_until 60 "three managers" three_managers
  clean_orchestrators three_managers
  echo "multinode: three managers; leader $(leader || echo unknown)"
}

# restore_abandoned demotes the three managers of a test that ended without
# putting the swarm back (killed, say): the tests after it need the shape up
# makes.
PROMOTED_BY=$RUN_DIR/promoted-by
restore_abandoned() {
  local pid started
  read -r pid started 2>/dev/null <"$PROMOTED_BY" || return 0
  # The start time tells the owner from a process that took its pid since.
  [[ -n $pid ]] && alive "$pid" && [[ $(start_time "$pid") == "$started" ]] && return 0
  echo "multinode: the three managers of a process that has ended ($pid): back to one" >&2
  demote >/dev/null
}

# start_time PID: when the process started (field 22 of its stat), "" if gone.
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  awk '{print $20}' <<<"$stat"
}

# compact_raft has the managers snapshot their raft logs. A new manager gets
# the snapshot and the entries after it; without one it replays every entry
# since the swarm began (each run record is one, up to 400 KiB), which takes
# it a minute and more of tests, while the raft commits nothing: the leader
# then hands its leadership on ("data store lock held too long").
compact_raft() {
  local lead interval
  lead=$(leader)
  interval=$(dkt "$lead" info --format '{{.Swarm.Cluster.Spec.Raft.SnapshotInterval}}')
  # A run that failed half-way left 1 or 2: Swarm's default then.
  ((interval >= 100)) || interval=10000
  if ! { dkt "$lead" swarm update --snapshot-interval 1 >/dev/null &&
    dkt "$lead" swarm update --snapshot-interval 2 >/dev/null; }; then # applied with 1: a snapshot
    dkt "$lead" swarm update --snapshot-interval "$interval" >/dev/null || true
    fail "could not have the managers snapshot their raft logs"
  fi
  dkt "$lead" swarm update --snapshot-interval "$interval" >/dev/null
}

# leads NODE: how many times the manager in NODE's dockerd became the raft
# leader (its log since the dockerd started or stopped its manager).
leads() {
  awk '/msg="Starting up"|msg="Manager shut down"/ {n = 0} /became leader at term/ {n++} END {print n + 0}' "$(logfile "$1")"
}

# clean_orchestrators SHAPE restarts, one at a time, the dockerd of each
# manager that runs a jobs orchestrator it should not: one that became the
# leader and is no longer, or became it twice. Swarm never stops a leader's
# jobs orchestrator until its dockerd stops, and each one starts the job
# again (moby/moby#53632). SHAPE is the wait after each restart.
clean_orchestrators() {
  local shape=$1 n lead stale restarts=0
  while :; do
    lead=$(leader)
    stale=""
    for n in "${SWARM_NODES[@]}"; do
      if (($(leads "$n") > 1)) || { (($(leads "$n") == 1)) && [[ $n != "$lead" ]]; }; then
        stale=$n
        break
      fi
    done
    [[ -n $stale ]] || return 0
    ((restarts++ < 3)) || fail "managers still run a jobs orchestrator they should not after 3 restarts (a new swarm: scripts/multinode.sh down && scripts/multinode.sh up)"
    echo "multinode: $stale: its dockerd became the leader $(leads "$stale") time(s) and $lead leads: restarting it, for its jobs orchestrator (moby/moby#53632)" >&2
    stop_dockerd "$stale"
    start_all
    wait_until 90 "$shape after restarting $stale" "$shape"
  done
}

# stop_dockerd NODE: SIGTERM, then SIGKILL after 30 s; up starts it again.
stop_dockerd() {
  local pid
  pid=$(running_pid "$1") || return 0
  kill "$pid"
  kill -CONT "$pid"
  for _ in $(seq 300); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid"
  for _ in $(seq 100); do alive "$pid" || return 0; sleep 0.1; done
  fail "$1: dockerd $pid did not end after SIGKILL"
}

# demote: everything back as up leaves it, whatever a test did: every
# dockerd running and continued, manager the one manager, without a
# second jobs orchestrator (see clean_orchestrators).
demote() {
  local n
  start_all
  # An engine whose swarm node restarted itself (a failed raft join) says
  # its swarm state is "error" until its dockerd restarts.
  for n in worker1 worker2; do
    if [[ $(dkt "$n" info --format '{{.Swarm.LocalNodeState}}') == error ]]; then
      echo "multinode: $n: swarm state error: restarting its dockerd" >&2
      stop_dockerd "$n"
    fi
  done
  start_all
  wait_until 60 "a leader" has_leader
  for n in worker1 worker2; do
    # Demoting the leader hands leadership on first (an election, while
    # which no manager answers node ls). A demoted manager stops its
    # manager whole, jobs orchestrator included.
    wait_until 60 "a leader" has_leader
    wait_until 90 "$n demoted" demoted "$n"
  done
  wait_until 90 "one manager (manager) and two workers, all Ready" one_manager
  clean_orchestrators one_manager
  rm -f "$PROMOTED_BY"
  echo "multinode: one manager (manager), two workers, all Ready"
}

signal_dockerd() { # NODE SIGNAL
  is_node "$1"
  local pid
  pid=$(running_pid "$1") || fail "$1: no dockerd running"
  kill -"$2" "$pid"
  echo "multinode: $1: SIG$2 to dockerd $pid"
}

# --- commands ------------------------------------------------------------------

up() {
  start_all
  restore_abandoned
  local n id role
  for n in "${NODES[@]}"; do
    if [[ $n == plain ]]; then
      role="not in swarm mode"
    else
      id=$(dk "$n" info --format '{{.Swarm.NodeID}}')
      role="swarm $( [[ $n == manager ]] && echo manager || echo worker ), node $id, $(dk manager node inspect --format '{{.Status.State}}' "$id")"
    fi
    echo "multinode: $n: DOCKER_HOST=$(sock "$n") hostname $(dk "$n" info --format '{{.Name}}') ip ${IP[$n]} pid $(running_pid "$n"), $role"
  done
}

# start_all starts what is not running (continues what is stopped), joins
# the swarm and loads the test image.
start_all() {
  install_deps
  net_up
  local n pid
  for n in "${NODES[@]}"; do
    if pid=$(running_pid "$n"); then
      # A stopped dockerd (freeze) answers nothing: continue it.
      if stopped "$pid"; then kill -CONT "$pid"; fi
    else
      start_dockerd "$n"
    fi
  done
  for n in "${NODES[@]}"; do wait_dockerd "$n"; done
  ensure_swarm
  load_images
}

down() {
  stop_all
  # Unmount what the engines left (deepest first), then remove their state.
  awk -v a="$RUN_DIR" -v b="$DATA_DIR" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/mounts |
    sort -r | xargs -r -n1 umount -l
  rm -rf "$RUN_DIR" "$DATA_DIR"
  net_down
  echo "multinode: stopped; removed $RUN_DIR, $DATA_DIR, bridge $BRIDGE and namespaces"
}

env_vars() {
  echo "export JOBRUN_ENGINE=$ENGINE_FAMILY" # the tests' scripts/multinode.sh calls: this swarm
  echo "export MANAGER_HOST=$(sock manager)"
  echo "export WORKER1_HOST=$(sock worker1)"
  echo "export WORKER2_HOST=$(sock worker2)"
  echo "export PLAIN_HOST=$(sock plain)"
  echo "export MANAGER_IP=${IP[manager]}"
  echo "export BRIDGE_HOST_IP=$BRIDGE_IP"
  echo "export WORKER1_PIDFILE=$(pidfile worker1)"
  echo "export WORKER2_PIDFILE=$(pidfile worker2)"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  env) env_vars ;;
  promote) promote ;;
  demote) demote ;;
  leader) leader ;;
  kill) signal_dockerd "${2:-}" KILL ;;
  freeze) signal_dockerd "${2:-}" STOP ;;
  thaw) signal_dockerd "${2:-}" CONT ;;
  *) echo "usage: $0 up | down | env | promote | demote | leader | kill NODE | freeze NODE | thaw NODE" >&2; exit 2 ;;
esac
