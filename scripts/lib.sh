# Shared by the scripts that start and stop daemons: source it.

# stop_process WHO NAME PID SECONDS: SIGTERM, then SIGKILL if PID still runs
# after SECONDS; says which it took.
stop_process() {
  local who=$1 name=$2 pid=$3 seconds=$4
  kill "$pid" 2>/dev/null || true
  for _ in $(seq $((seconds * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$who: $name ($pid) still running after ${seconds}s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "$who: stopped $name ($pid)"
}
