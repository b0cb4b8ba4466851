# The launcher body. RenderLauncher puts a header in front of it that sets:
#   run_dir dispatch_id report_url lease secret heartbeat_seconds
#   stop_grace_seconds final_report_seconds max_log_chunk_bytes
#   connect_timeout_seconds request_timeout_seconds probe_argv
#   probe_initial_delay_seconds probe_period_seconds probe_timeout_seconds
#   probe_max_output_bytes node_script
# It needs POSIX sh, setsid, curl, timeout (for an exec probe), and Linux
# /proc. Every file it writes lives
# in $run_dir/attempts/$dispatch_id (see dispatch/run_dir.h for the layout).

umask 077
attempt_dir=$run_dir/attempts/$dispatch_id
log_file=$attempt_dir/output.log
body_file=$attempt_dir/report.body
chunk_file=$attempt_dir/report.chunk

say() {
  printf 'svcd-launcher[%s]: %s\n' "$dispatch_id" "$*"
}

# Writes $2 to the attempt file $1 through a rename, so a reader never sees a
# half-written value.
put() {
  printf '%s\n' "$2" >"$attempt_dir/$1.tmp" && mv -f "$attempt_dir/$1.tmp" "$attempt_dir/$1"
}

# Prints the start time of process $1 in clock ticks after boot, field 22 of
# /proc/PID/stat. The command name in field 2 may hold spaces and parentheses,
# so the fields are counted after its last ")".
start_ticks() {
  stat_line=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  set -- ${stat_line##*')'}
  [ "$#" -ge 20 ] || return 1
  printf '%s\n' "${20}"
}

# Prints the whole seconds since boot, a clock that never jumps.
uptime_seconds() {
  read -r up_now _ </proc/uptime
  printf '%s\n' "${up_now%.*}"
}

# Prints the hundredths of a second since boot. /proc/uptime has two
# decimals, and one leading zero is dropped so that "08" is not read as octal.
uptime_centis() {
  read -r up_now _ </proc/uptime
  up_frac=${up_now#*.}
  printf '%s\n' "$((${up_now%.*} * 100 + ${up_frac#0}))"
}

# Prints "TICKS RSS_PAGES PID..." for the live (not zombie) members of
# process group $1: CPU time used in clock ticks (utime + stime), resident
# pages and their pids.
group_stats() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v group="$1" '
    {
      pid = $1
      rest = $0
      sub(/^.*\) /, "", rest)
      n = split(rest, f, " ")
      if (n >= 22 && f[3] == group && f[1] != "Z") {
        ticks += f[12] + f[13]
        rss += f[22]
        pids = pids " " pid
      }
    }
    END { printf "%.0f %.0f%s\n", ticks, rss, pids }'
}

group_alive() {
  set -- $(group_stats "$pid")
  [ "$#" -gt 2 ]
}

# Prints the TCP ports on which the processes $@ listen, one per line: the
# socket inodes of /proc/PID/fd matched against LISTEN rows (state 0A) of
# /proc/net/tcp and /proc/net/tcp6.
listening_ports() {
  inode_file=$attempt_dir/report.inodes
  for p in "$@"; do
    ls -l "/proc/$p/fd" 2>/dev/null
  done | sed -n 's/.*socket:\[\([0-9][0-9]*\)\].*/\1/p' >"$inode_file"
  [ -s "$inode_file" ] || return 0
  set -- "$inode_file"
  for table in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$table" ] && set -- "$@" "$table"
  done
  awk '
    function hex(s,   i, n) {
      n = 0
      for (i = 1; i <= length(s); i++)
        n = n * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
      return n
    }
    FILENAME == ARGV[1] { want[$1] = 1; next }
    FNR > 1 && $4 == "0A" && ($10 in want) { split($2, local, ":"); print hex(local[2]) }
  ' "$@" | sort -n -u
}

# Stops process group $pid: TERM, up to stop_grace_seconds for it to go, then
# KILL. $1 is the reason kept in the stop-reason file (the first one wins);
# an empty reason writes none.
stop_service() {
  [ -z "$1" ] || [ -f "$attempt_dir/stop-reason" ] || put stop-reason "$1"
  [ -n "$pid" ] || return 0
  kill -s TERM -- "-$pid" 2>/dev/null
  waited=0
  while group_alive && [ "$waited" -lt "$stop_grace_seconds" ]; do
    sleep 1
    waited=$((waited + 1))
  done
  if group_alive; then
    say "process group $pid still runs ${stop_grace_seconds}s after TERM; sending KILL"
    kill -s KILL -- "-$pid" 2>/dev/null
  fi
}

# Sends one report and prints the HTTP status code, or 000 when svcd cannot be
# reached. $1 event, $2 extra query, $3 body file, $4 content type. The secret
# comes from a header file so that it never shows in a process list.
post() {
  curl -g -s -o /dev/null -w '%{http_code}' -X POST \
    --connect-timeout "$connect_timeout_seconds" --max-time "$request_timeout_seconds" \
    -H "@$attempt_dir/report.headers" -H "Content-Type: $4" -H 'Expect:' \
    --data-binary "@$3" "$report_url?event=$1&lease=$lease$2" 2>/dev/null || true
}

# Returns 0 for a 2xx reply; 2 when svcd rejected the attempt, after stopping
# the service; 1 for anything else, which the next period retries.
check_reply() {
  case $1 in
    2[0-9][0-9])
      [ "$reports_failing" = 1 ] && say "reports reach svcd again"
      reports_failing=0
      return 0
      ;;
    409)
      say "svcd replied 409: this attempt was superseded; stopping the service"
      stop_service superseded
      return 2
      ;;
    401)
      say "svcd replied 401: the attempt secret was rejected; stopping the service"
      stop_service unauthenticated
      return 2
      ;;
  esac
  if [ "$reports_failing" != 1 ]; then
    say "report failed (HTTP ${1:-none}); retrying every ${heartbeat_seconds}s"
    reports_failing=1
  fi
  return 1
}

send_started() {
  [ -f "$attempt_dir/report.started" ] && return 0
  printf '{"pid":%s,"startTimeMs":%s,"hostname":"%s"}' "$pid" "$start_ms" "$host_name" \
    >"$body_file"
  check_reply "$(post started '' "$body_file" application/json)" || return
  : >"$attempt_dir/report.started"
}

# The awk calls that print decimals run with LC_ALL=C, so a locale with a
# decimal comma cannot produce invalid JSON.
send_heartbeat() {
  set -- $(group_stats "$pid")
  ticks=$1
  rss=$2
  shift 2
  [ "$#" -gt 0 ] || return 0
  ports=$(listening_ports "$@" | paste -s -d , -)
  read -r uptime_now _ </proc/uptime
  cpu=$(LC_ALL=C awk -v t1="$ticks" -v t0="$cpu_ticks" -v u1="$uptime_now" -v u0="$cpu_uptime" \
    -v hz="$clk_tck" 'BEGIN {
      d = u1 - u0
      c = (d > 0 && hz > 0) ? 100 * (t1 - t0) / hz / d : 0
      printf "%.1f\n", (c < 0 ? 0 : c)
    }')
  cpu_ticks=$ticks
  cpu_uptime=$uptime_now
  printf '{"pid":%s,"ports":[%s],"cpuPercent":%s,"memBytes":%s}' \
    "$pid" "$ports" "$cpu" "$((rss * page_bytes))" >"$body_file"
  check_reply "$(post heartbeat '' "$body_file" application/json)"
}

# Sends up to $1 chunks of log bytes that svcd has not accepted yet, each at
# most max_log_chunk_bytes, and stores the new offset after each accepted one.
# `head -c` is in POSIX.1-2024 and in every coreutils and busybox.
send_log() {
  offset=$(cat "$attempt_dir/log.offset" 2>/dev/null)
  offset=${offset:-0}
  chunks=0
  while [ "$chunks" -lt "$1" ]; do
    tail -c "+$((offset + 1))" "$log_file" 2>/dev/null | head -c "$max_log_chunk_bytes" \
      >"$chunk_file"
    size=$(wc -c <"$chunk_file" | tr -d ' ')
    [ "${size:-0}" -gt 0 ] || return 0
    check_reply "$(post log "&offset=$offset" "$chunk_file" application/octet-stream)" || return
    offset=$((offset + size))
    put log.offset "$offset"
    chunks=$((chunks + 1))
  done
}

# Runs in the background while the service runs: started (until accepted),
# then a heartbeat and new log bytes every heartbeat_seconds. It ends when
# report.stop exists, or when the launcher is gone (killed with KILL), because
# then no process waits for the service. The TERM that the launcher also
# sends only cuts the sleep short: a TERM that arrives before this subshell
# has set its trap is lost in dash.
report_loop() {
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleeper=
  while [ ! -f "$attempt_dir/report.stop" ] && kill -0 "$launcher_pid" 2>/dev/null; do
    send_started && send_heartbeat && send_log 64
    [ "$?" = 2 ] && exit 0
    sleep "$heartbeat_seconds" &
    sleeper=$!
    wait "$sleeper"
  done
}

# Runs the exec probe once and reports the result. The command runs without
# a shell, in a session of its own, under `timeout`. At probe_timeout_seconds
# `timeout` sends TERM to the session, and KILL one second later. Whatever is
# left of the session is killed once the command exits. Returns check_reply's
# code.
run_probe() {
  probe_out=$attempt_dir/probe.out
  probe_started=$(uptime_centis)
  (
    eval "set -- $probe_argv"
    SVCD_DISPATCH_ID=$dispatch_id SVCD_SERVICE_PID=$pid \
      exec setsid timeout -k 1 "$probe_timeout_seconds" "$@"
  ) </dev/null >"$probe_out" 2>&1 &
  probe_pid=$!
  wait "$probe_pid"
  probe_code=$?
  kill -s KILL -- "-$probe_pid" 2>/dev/null
  probe_pid=
  probe_centis=$(($(uptime_centis) - probe_started))
  timed_out=0
  if [ "$probe_code" != 0 ] && [ "$probe_centis" -ge "$((probe_timeout_seconds * 100))" ]; then
    timed_out=1
  fi
  head -c "$probe_max_output_bytes" "$probe_out" >"$attempt_dir/probe.body" 2>/dev/null
  probe_seq=$((probe_seq + 1))
  if [ -n "$boot_seconds" ]; then
    probe_ms=$((boot_seconds * 1000 + probe_started * 10))
  else
    probe_ms=$(($(date +%s) * 1000 - probe_centis * 10))
  fi
  query="&seq=$probe_seq&exitCode=$probe_code&timedOut=$timed_out"
  query="$query&latencyMs=$((probe_centis * 10))&startedMs=$probe_ms"
  check_reply "$(post probe "$query" "$attempt_dir/probe.body" application/octet-stream)"
}

# Sleeps $1 seconds in the background, so that a TERM ends the wait at once.
nap() {
  [ "$1" -gt 0 ] || return 0
  sleep "$1" &
  sleeper=$!
  wait "$sleeper"
  sleeper=
}

# Runs in the background while the service runs, like report_loop: the exec
# probe after probe_initial_delay_seconds, then once per probe_period_seconds
# counted from the start of the previous run. A failed report is not
# resent, because svcd counts a missing result as a failed check.
probe_loop() {
  trap 'kill "$sleeper" 2>/dev/null; [ -z "$probe_pid" ] || kill -s KILL -- "-$probe_pid" 2>/dev/null; exit 0' TERM
  sleeper=
  probe_pid=
  probe_seq=0
  nap "$probe_initial_delay_seconds"
  while [ ! -f "$attempt_dir/report.stop" ] && kill -0 "$launcher_pid" 2>/dev/null; do
    run_probe
    [ "$?" = 2 ] && exit 0
    nap "$(((probe_period_seconds * 100 - probe_centis + 99) / 100))"
  done
}

# Reports the rest of the log and the exit status, retrying each period for
# up to final_report_seconds. The exit file already contains the status.
final_reports() {
  deadline=$(($(uptime_seconds) + final_report_seconds))
  while :; do
    printf '{"exitCode":%s}' "$status" >"$body_file"
    send_started && send_log 1000000 &&
      check_reply "$(post exit '' "$body_file" application/json)"
    case $? in 0 | 2) return 0 ;; esac
    if [ "$(uptime_seconds)" -ge "$deadline" ]; then
      say "svcd unreachable for ${final_report_seconds}s; the exit status stays in $attempt_dir/exit"
      return 1
    fi
    sleep "$heartbeat_seconds"
  done
}

on_signal() {
  signal_count=$((signal_count + 1))
  [ "$exited" = 1 ] && exit "$status"
  stop_service signal
}

# Step 1: check the tools, then claim the attempt. mkdir is atomic, so of two
# deliveries of one attempt exactly one goes on.
tools="setsid curl"
[ -z "$probe_argv" ] || tools="$tools timeout"
for tool in $tools; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "$tool not found in PATH ($PATH); nothing started"
    exit 70
  fi
done
if ! mkdir -p "$run_dir/attempts"; then
  say "cannot create $run_dir/attempts; nothing started"
  exit 70
fi
if ! mkdir "$attempt_dir" 2>/dev/null; then
  if [ -d "$attempt_dir" ]; then
    say "attempt already claimed in $attempt_dir; not starting a second process"
    exit 0
  fi
  say "cannot create $attempt_dir; nothing started"
  exit 70
fi

# Step 2: write the attempt's files. A signal from here on stops the service,
# or keeps it from starting.
pid=
status=
exited=0
signal_count=0
reports_failing=0
trap on_signal TERM INT HUP
put launcher.starttime "$(start_ticks "$$")"
put launcher.pid "$$"
if ! printf '%s' "$node_script" >"$attempt_dir/script.sh" ||
  ! printf 'X-Svcd-Attempt-Secret: %s\n' "$secret" >"$attempt_dir/report.headers" ||
  ! : >"$log_file" || ! cd "$attempt_dir"; then
  put stop-reason setup-failed
  say "cannot write the files of $attempt_dir; nothing started"
  exit 70
fi
node_script=
if [ -f "$attempt_dir/stop-reason" ]; then
  say "stopped before the service started"
  exit 0
fi

# Step 3: start the node script in a new session. The launcher is never a
# process group leader here, so setsid does not fork and $! is the session
# and group id. SVCD_DISPATCH_ID marks every process of the attempt, also
# those that leave the group.
SVCD_DISPATCH_ID=$dispatch_id setsid sh "$attempt_dir/script.sh" </dev/null >>"$log_file" 2>&1 &
pid=$!
put service.starttime "$(start_ticks "$pid")"
put service.pid "$pid"
say "started process group $pid"
[ -f "$attempt_dir/stop-reason" ] && stop_service signal

# Step 4: report, and run the exec probe, in the background while waiting
# for the service.
clk_tck=$(getconf CLK_TCK 2>/dev/null) || clk_tck=100
page_bytes=$(getconf PAGESIZE 2>/dev/null) || page_bytes=4096
host_name=$(uname -n | tr -cd 'A-Za-z0-9._-')
boot_seconds=$(awk '$1 == "btime" { print $2 }' /proc/stat 2>/dev/null)
service_ticks=$(cat "$attempt_dir/service.starttime")
if [ -n "$boot_seconds" ] && [ -n "$service_ticks" ]; then
  start_ms=$((boot_seconds * 1000 + service_ticks * 1000 / clk_tck))
else
  start_ms=$(($(date +%s) * 1000))
fi
cpu_ticks=0
cpu_uptime=$(LC_ALL=C awk -v t="${service_ticks:-0}" -v hz="$clk_tck" 'BEGIN { printf "%.2f\n", t / hz }')
launcher_pid=$$
report_loop &
reporter=$!
prober=
if [ -n "$probe_argv" ]; then
  probe_loop &
  prober=$!
fi

# A trapped signal ends `wait` early with a status above 128, so wait again
# until no signal arrived during the wait.
while :; do
  seen=$signal_count
  wait "$pid"
  status=$?
  [ "$seen" = "$signal_count" ] && break
done
exited=1
: >"$attempt_dir/report.stop"
kill -s TERM "$reporter" $prober 2>/dev/null
wait "$reporter"
[ -z "$prober" ] || wait "$prober"

# Step 5: keep the exit status, stop what the service left in its group, then
# report the status unless svcd rejected the attempt.
put exit "$status"
say "process group $pid exited with status $status"
if group_alive; then
  say "stopping the processes left in group $pid"
  stop_service ''
fi
case $(cat "$attempt_dir/stop-reason" 2>/dev/null) in
  superseded | unauthenticated) exit "$status" ;;
esac
final_reports
exit "$status"
