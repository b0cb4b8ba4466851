# The stop script body. RenderStopScript puts a header in front of it that
# sets:
#   mode                  stop or inspect
#   run_dir dispatch_id   the attempt's run directory and id
#   poll_seconds          the pause between two looks at the process table
#   grace_polls           polls from TERM to KILL for the service
#   launcher_exit_polls   polls for the launcher to report and exit on its own
#   kill_polls            polls for KILLed processes to vanish
# It runs as a PowerJob shell job on the attempt's host and prints exactly one
# line on stdout, which svcd reads back from the instance result:
#   svcd-stop: gone|survivors signalled=N exit=CODE|none claimed=0|1 [survivor=PID:ROLE:COMMAND ...]
#   svcd-inspect: claimed=0|1 pid=PID|none alive=0|1 launcher_pid=PID|none launcher_alive=0|1 exit=CODE|none stop_reason=WORD|none log_bytes=N log_offset=N
#   svcd-stop: error reason=WORD   (or svcd-inspect: error ...)
# It needs POSIX sh, awk, cat, grep, sed, sleep with fractions of a second
# (GNU coreutils and busybox both have it) and Linux /proc.
# Processes are found through the attempt's SVCD_DISPATCH_ID: with one
# `grep -z` call where grep has -z (GNU, busybox), else with tr and grep per
# process, which costs two processes per process on the host.

attempt_dir=$run_dir/attempts/$dispatch_id
marker=SVCD_DISPATCH_ID=$dispatch_id
prefix=svcd-$mode:

# Prints the pids of processes whose environment contains $marker.
marked_pids() {
  if [ "$grep_z" = 1 ]; then
    grep -l -z -x -F -e "$marker" /proc/[0-9]*/environ 2>/dev/null
  else
    for environ in /proc/[0-9]*/environ; do
      tr '\000' '\n' <"$environ" 2>/dev/null | grep -q -x -F -e "$marker" &&
        printf '%s\n' "$environ"
    done
  fi | sed -n 's#^/proc/\([0-9][0-9]*\)/environ$#\1#p'
}
grep_z=0
printf 'a\000' | grep -q -z -x -F -e a 2>/dev/null && grep_z=1

fail() {
  printf '%s error reason=%s\n' "$prefix" "$1"
  exit 1
}

# Prints "STATE PPID PGRP SESSION START" of process $1, or fails when it is
# gone. The command name in field 2 may hold spaces and parentheses, so the
# fields are counted after its last ")".
proc_fields() {
  stat_line=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  set -- ${stat_line##*')'}
  [ "$#" -ge 20 ] || return 1
  printf '%s %s %s %s %s\n' "$1" "$2" "$3" "$4" "${20}"
}

# Prints the pid recorded in attempt file $1 when that process lives, started
# at the time recorded in file $2 (when there is one) and, with $3 = leader,
# leads its own session. A reused pid thus never passes.
recorded() {
  rec_pid=$(cat "$attempt_dir/$1" 2>/dev/null) || return 1
  case $rec_pid in '' | *[!0-9]*) return 1 ;; esac
  rec_start=$(cat "$attempt_dir/$2" 2>/dev/null)
  rec_leader=$3
  set -- $(proc_fields "$rec_pid")
  [ "$#" -ge 5 ] || return 1
  case $1 in Z | X) return 1 ;; esac
  [ -z "$rec_start" ] || [ "$rec_start" = "$5" ] || return 1
  [ "$rec_leader" != leader ] || [ "$4" = "$rec_pid" ] || return 1
  printf '%s\n' "$rec_pid"
}

# Prints the first line of attempt file $1 as one word of [A-Za-z0-9._-], or
# "none" when the file is missing or empty.
word_file() {
  word=$(head -n 1 "$attempt_dir/$1" 2>/dev/null | tr -cd 'A-Za-z0-9._-')
  printf '%s\n' "${word:-none}"
}

inspect() {
  [ -d "$attempt_dir" ] || {
    printf '%s claimed=0\n' "$prefix"
    exit 0
  }
  pid=$(word_file service.pid)
  alive=0
  recorded service.pid service.starttime leader >/dev/null && alive=1
  launcher_pid=$(word_file launcher.pid)
  launcher_alive=0
  recorded launcher.pid launcher.starttime any >/dev/null && launcher_alive=1
  log_bytes=$(wc -c <"$attempt_dir/output.log" 2>/dev/null | tr -cd 0-9)
  log_offset=$(word_file log.offset)
  [ "$log_offset" = none ] && log_offset=0
  printf '%s claimed=1 pid=%s alive=%s launcher_pid=%s launcher_alive=%s exit=%s stop_reason=%s log_bytes=%s log_offset=%s\n' \
    "$prefix" "$pid" "$alive" "$launcher_pid" "$launcher_alive" "$(word_file exit)" \
    "$(word_file stop-reason)" "${log_bytes:-0}" "$log_offset"
  exit 0
}

[ "$mode" = inspect ] && inspect

# Everything below stops the attempt. Scratch files live in a directory of
# their own, removed on exit.
work=$(mktemp -d "${TMPDIR:-/tmp}/svcd-stop.XXXXXX") || fail cannot-create-scratch-directory
trap 'rm -rf "$work"' EXIT
tracked=$work/tracked
: >"$tracked"
signalled=0
svc=
lau=

# Step 0: claim the attempt when no launcher has, so a late delivery finds it
# taken and starts nothing.
claimed=0
mkdir -p "$run_dir/attempts" 2>/dev/null || fail cannot-create-run-directory
if mkdir "$attempt_dir" 2>/dev/null; then
  printf 'cancelled\n' >"$attempt_dir/stop-reason.tmp" &&
    mv -f "$attempt_dir/stop-reason.tmp" "$attempt_dir/stop-reason" ||
    fail cannot-write-stop-reason
  claimed=1
elif [ ! -d "$attempt_dir" ]; then
  fail cannot-create-attempt-directory
fi

# Reads the process table and adds to $tracked (lines "PID START ROLE
# COMMAND") every process of the attempt: the service's process group, the
# descendants of tracked processes through parent links, and every process
# whose environment carries the attempt's marker. The launcher and its
# unmarked descendants (its report helpers) get the role "launcher". A line
# stays once written, so a process whose parent exits is still known.
refresh() {
  [ -n "$svc" ] || svc=$(recorded service.pid service.starttime leader)
  [ -n "$lau" ] || lau=$(recorded launcher.pid launcher.starttime any)
  cat /proc/[0-9]*/stat 2>/dev/null | awk '{
    comm = $0
    sub(/^[^(]*\(/, "", comm)
    sub(/\)[^)]*$/, "", comm)
    gsub(/[^A-Za-z0-9._-]/, "_", comm)
    rest = $0
    sub(/^.*\) /, "", rest)
    if (split(rest, f, " ") >= 20) print $1, f[2], f[3], f[4], f[1], f[20], (comm == "" ? "_" : comm)
  }' >"$work/table"
  marked_pids >"$work/marked"
  awk -v svc="$svc" -v lau="$lau" -v self="$$" -v tracked_file="$tracked" \
    -v marked_file="$work/marked" '
    function track(p, r) {
      if (!(p in st) || st[p] == "Z" || st[p] == "X" || p == self || (p in role)) return
      role[p] = r
      start[p] = stt[p]
      line[p] = p " " stt[p] " " r " " comm[p]
      changed = 1
    }
    function same(p) { return (p in st) && st[p] != "Z" && st[p] != "X" && stt[p] == start[p] }
    FILENAME == tracked_file { role[$1] = $3; start[$1] = $2; line[$1] = $0; next }
    FILENAME == marked_file { marked[$1] = 1; next }
    { order[++n] = $1; ppid[$1] = $2; pgrp[$1] = $3; st[$1] = $5; stt[$1] = $6; comm[$1] = $7 }
    END {
      if (lau != "") track(lau, "launcher")
      for (i = 1; i <= n; i++) {
        p = order[i]
        if (svc != "" && pgrp[p] == svc) track(p, p == svc ? "service" : "descendant")
        if (p in marked) track(p, "descendant")
      }
      changed = 1
      while (changed) {
        changed = 0
        for (i = 1; i <= n; i++) {
          p = order[i]
          q = ppid[p]
          if ((p in role) || !(q in role) || !same(q)) continue
          track(p, (role[q] == "launcher" && !(p in marked)) ? "launcher" : "descendant")
        }
      }
      for (p in line) print line[p]
    }' "$tracked" "$work/marked" "$work/table" >"$work/tracked.new" &&
    mv -f "$work/tracked.new" "$tracked"
}

# Prints the live tracked processes of kind $1 (service or launcher; service
# means every role but launcher) as "PID PGRP ROLE COMMAND".
live() {
  awk -v kind="$1" -v tracked_file="$tracked" '
    FILENAME == tracked_file { start[$1] = $2; role[$1] = $3; comm[$1] = $4; next }
    ($1 in role) && $5 != "Z" && $5 != "X" && $6 == start[$1] &&
      ((kind == "launcher") == (role[$1] == "launcher")) { print $1, $3, role[$1], comm[$1] }
  ' "$tracked" "$work/table"
}

# Sends signal $1 to the live tracked processes of kind $2: to the process
# group of the service (or of the launcher, when it leads one) while a tracked
# process is in it, then to each other one. An empty group is never
# signalled, because its id may belong to an unrelated process by then.
send() {
  leader=$svc
  [ "$2" = launcher ] && leader=$lau
  live "$2" >"$work/live"
  group=
  [ -n "$leader" ] && awk -v g="$leader" '$2 == g { found = 1 } END { exit !found }' "$work/live" &&
    group=$leader
  if [ -n "$group" ] && kill -s "$1" -- "-$group" 2>/dev/null; then
    signalled=$((signalled + 1))
  else
    group=
  fi
  for target in $(awk -v g="$group" 'g == "" || $2 != g { print $1 }' "$work/live"); do
    kill -s "$1" "$target" 2>/dev/null && signalled=$((signalled + 1))
  done
}

# Polls up to $1 times until no tracked process of kind $2 lives.
wait_gone() {
  polls=0
  while :; do
    refresh
    [ -z "$(live "$2")" ] && return 0
    [ "$polls" -ge "$1" ] && return 1
    sleep "$poll_seconds"
    polls=$((polls + 1))
  done
}

refresh

# Step 1: a launcher that has no service yet gets TERM, which keeps it from
# starting one.
if [ -n "$lau" ] && [ -z "$svc" ] && kill -s TERM "$lau" 2>/dev/null; then
  signalled=$((signalled + 1))
fi

# Step 2: TERM, the grace period, then KILL for the service and its tree.
send TERM service
if ! wait_gone "$grace_polls" service; then
  send KILL service
  wait_gone "$kill_polls" service
fi

# Step 3: the launcher records the exit status and reports it, then exits.
# One that takes too long is stopped as well.
if ! wait_gone "$launcher_exit_polls" launcher; then
  send TERM launcher
  if ! wait_gone "$kill_polls" launcher; then
    send KILL launcher
    wait_gone "$kill_polls" launcher
  fi
fi

# Step 4: a last search, so a process that escaped the earlier looks is
# killed too; whatever still lives after that is a survivor.
refresh
if [ -n "$(live service)" ]; then
  send KILL service
  wait_gone "$kill_polls" service
fi
refresh
survivors=$({
  live service
  live launcher
} | awk '{ printf " survivor=%s:%s:%s", $1, $3, $4 }')
outcome=gone
[ -n "$survivors" ] && outcome=survivors
printf '%s %s signalled=%s exit=%s claimed=%s%s\n' "$prefix" "$outcome" "$signalled" \
  "$(word_file exit)" "$claimed" "$survivors"
exit 0
