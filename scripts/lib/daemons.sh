# shellcheck shell=bash
# The daemons of the test clusters, shared by scripts/test-control-plane, test-node and
# test-kwok. Each daemon runs in a session of its own, so stopping its group stops what
# it started; its pid is in $STATE/NAME.pid, its log in $STATE/logs/NAME.log.
#
# The sourcing script sets
#   STATE          its state folder;
#   DAEMON_MARK    a string each of its daemons has on its command line (default: the
#                  state folder, read at each call, so a stop of another instance works):
#                  a stale pid file must never make us signal a stranger with the pid;
#   DAEMON_WRAP    (an array, may be empty) what a daemon runs under (test-node: nsenter);
#   DAEMON_READY_TIMEOUT  seconds wait_for waits (default 180);
# and defines log MESSAGE, and start_failed NAME MESSAGE (stop everything, then die)
# when it uses wait_for.

pid_alive() { # pidfile: alive, and really one of ours
  local pid
  [ -f "$1" ] || return 1
  pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "${DAEMON_MARK:-$STATE}"
}

spawn() { # name cmd...
  local name="$1" pid n=200
  shift
  setsid "${DAEMON_WRAP[@]}" "$@" >>"$STATE/logs/$name.log" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$STATE/$name.pid"
  # Until it has exec'd, the child is a copy of this shell, whose command line lacks the
  # mark: pid_alive would take a daemon still starting for a dead one (a busy machine
  # can take that long). Wait for the exec, at most 10 s.
  while [ $n -gt 0 ] && kill -0 "$pid" 2>/dev/null && ! pid_alive "$STATE/$name.pid"; do
    sleep 0.05
    n=$((n - 1))
  done
}

stop_group() { # name [timeout s, default 15]: TERM the group, KILL it after the timeout
  local pidf="$STATE/$1.pid" pid timeout="${2:-15}" n
  [ -f "$pidf" ] || return 0
  pid="$(cat "$pidf")"
  if pid_alive "$pidf"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    n=$((timeout * 10))
    while [ $n -gt 0 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      log "$1 (pid $pid) did not stop in ${timeout}s, killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$pidf"
}

wait_for() { # name what command...: polls until the command succeeds
  local name="$1" what="$2" t0=$SECONDS timeout="${DAEMON_READY_TIMEOUT:-180}"
  shift 2
  until "$@" >/dev/null 2>&1; do
    pid_alive "$STATE/$name.pid" || start_failed "$name" "exited while waiting for $what"
    [ $((SECONDS - t0)) -lt "$timeout" ] || start_failed "$name" "no $what after ${timeout}s"
    sleep 0.5
  done
  log "$name: $what after $((SECONDS - t0))s"
}

log_tail() { # name: the last lines of its log, on stderr (before start_failed stops all)
  echo "---- last lines of $STATE/logs/$1.log ----" >&2
  tail -n 40 "$STATE/logs/$1.log" >&2 2>/dev/null || true
  echo "----" >&2
}
