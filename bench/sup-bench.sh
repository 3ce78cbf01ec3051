#!/bin/bash
# sup-bench.sh BUILD_DIR [PART...]: gensupd's benchmarks, side by side in
# one run (bench/README.md, "## Supervisor", says what each figure means).
#
# Parts (default: all of them, in this order):
#   restart  crash loop: crash -> restarted (D -> S) and crash -> ready,
#            gensupd (ready = "exec" and "notify") against two floors
#            (sup_floor: socketpair + clone(VM|VFORK)/fork + exec + read
#            1 byte), in interleaved rounds; ratios to the faster floor
#   peers    every supervisor under the same conditions, in interleaved
#            rounds: the floor, gensupd, s6-supervise (notification-fd),
#            runsv, supervisord; every child lives 1.1 s (the peers delay
#            restarts of younger children); systemd-run when it can run
#   serve    a real libgensup server (bench/gs_start) back in service:
#            kill -> a new client's call answered under gensupd, against
#            the same binary started by hand (bench/serve_restart.c)
#   startup  exec -> exit of a libgensup server against a plain dynamic
#            and a static binary (bench/startup.c), libraries, LD_DEBUG
#   many     10,000 children under one one_for_one supervisor: start to
#            "all children started", memory per child, SIGTERM to exit
#   status   gensupctl status / which-children on that tree: time and size;
#            gensupctl top --batch 1 (one refresh) and metrics (one scrape)
#            (with "many" it uses the same tree; alone it starts one)
#   statusload  restart latency of a 9,000-child tree (as many as the fd
#            limit holds) with and without 20 status/s from another
#            process, interleaved; status latency (bench/sup_status_load.c)
#   heap     gensupd's live heap by call site with 1,000 children
#            (bench/sup_heapcensus.c preloaded; needs cc and addr2line)
#   idle     a small idle tree: syscalls (strace -c) and wakeups in 10 s
#   absorb   crash absorption (bench/sup_absorb.c): 100 children killed at
#            each rate of SUP_BENCH_ABSORB_RATES while one process sends
#            100 control requests/s; restart and control latency, against
#            the same crashes without control traffic and control traffic
#            without crashes, interleaved
#
# Knobs (environment):
#   SUP_BENCH_N=200         restarts per round for the crash loop
#   SUP_BENCH_ROUNDS=3      interleaved rounds (restart, peers, serve)
#   SUP_BENCH_PEER_N=5      restarts per peer and round (each >= 1.1 s)
#   SUP_BENCH_PEER_LIFE_MS=1100
#   SUP_BENCH_SERVE_N=20, SUP_BENCH_SERVE_ROUNDS (= SUP_BENCH_ROUNDS)
#   SUP_BENCH_STARTUP_N=20, SUP_BENCH_STARTUP_ROUNDS=5
#   SUP_BENCH_STARTUP_BASE=DIR  startup: also a baseline libgensup (DIR: its build
#                           folder, in a checkout; e.g. main's) in the same rounds
#   SUP_BENCH_CHILDREN=10000    (fewer when RLIMIT_NOFILE cannot hold them)
#   SUP_BENCH_HEAP_CHILDREN=1000
#   SUP_BENCH_STATUS_RUNS=10
#   SUP_BENCH_LOAD_CHILDREN=9000, SUP_BENCH_LOAD_RATE=20 (status/s),
#   SUP_BENCH_LOAD_SAMPLES=100 (restarts per phase and round; rounds:
#   SUP_BENCH_ROUNDS)
#   SUP_BENCH_IDLE_S=10
#   SUP_BENCH_ABSORB_RATES="200 500", SUP_BENCH_ABSORB_ROUNDS=3,
#   SUP_BENCH_ABSORB_S=5    (seconds per setting and round)
#   SUP_BENCH_KEEP=1        keep the work directory (raw stamps, logs)
#
# As root, missing peers are installed with apt-get (s6 runit supervisor).
# Only bash, awk, sort and coreutils; strace and hyperfine when present.
# Every process started here is stopped on exit, also on failure or ^C.
set -eu
set -o pipefail

B=${1:?usage: bench/sup-bench.sh BUILD_DIR [restart|peers|serve|startup|many|status|statusload|heap|idle|absorb]...}
B=$(cd "$B" && pwd)
shift
TOP=$(cd "$(dirname "$0")/.." && pwd)
PARTS=${*:-restart peers serve startup many status statusload heap idle absorb}

N=${SUP_BENCH_N:-200}
ROUNDS=${SUP_BENCH_ROUNDS:-3}
PEER_N=${SUP_BENCH_PEER_N:-5}
PEER_LIFE_MS=${SUP_BENCH_PEER_LIFE_MS:-1100}
SERVE_ROUNDS=${SUP_BENCH_SERVE_ROUNDS:-$ROUNDS}
SERVE_N=${SUP_BENCH_SERVE_N:-20}
STARTUP_ROUNDS=${SUP_BENCH_STARTUP_ROUNDS:-5}
STARTUP_N=${SUP_BENCH_STARTUP_N:-20}
CHILDREN=${SUP_BENCH_CHILDREN:-10000}
STATUS_RUNS=${SUP_BENCH_STATUS_RUNS:-10}
IDLE_S=${SUP_BENCH_IDLE_S:-10}
ABSORB_RATES=${SUP_BENCH_ABSORB_RATES:-200 500}
ABSORB_ROUNDS=${SUP_BENCH_ABSORB_ROUNDS:-3}
ABSORB_S=${SUP_BENCH_ABSORB_S:-5}

GENSUPD=$B/bin/gensupd
GENSUPCTL=$B/bin/gensupctl
for f in "$GENSUPD" "$GENSUPCTL" "$B/bench/sup_stamp" "$B/bench/sup_floor" "$B/bench/sup_tslog" \
         "$B/bench/gs_start" "$B/bench/serve_restart" "$B/bench/startup" "$B/bench/sup_absorb"; do
        [ -x "$f" ] || { echo "sup-bench: $f missing (make B=$B programs)" >&2; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/sup-bench.XXXXXX")
mkdir -p "$W/bin"
PIDS=()

# ---- cleanup: every supervisor by pid, then every probe left over ----
# Probes run from $W/bin only, so a probe is recognised by its executable
# (/proc/PID/exe), never by a name pattern.
kill_probes() {
        local p
        for p in $(find /proc -mindepth 2 -maxdepth 2 -name exe -lname "$W/bin/*" 2>/dev/null |
                   awk -F/ '{print $3}'); do
                kill -KILL "$p" 2>/dev/null || :
        done
}
cleanup() {
        local rc=$? p
        trap - EXIT INT TERM
        for p in "${PIDS[@]}"; do
                kill -TERM "$p" 2>/dev/null || :
        done
        for _ in 1 2 3 4 5 6 7 8 9 10; do
                local alive=0
                for p in "${PIDS[@]}"; do
                        kill -0 "$p" 2>/dev/null && alive=1
                done
                [ $alive = 0 ] && break
                sleep 0.2
        done
        for p in "${PIDS[@]}"; do
                kill -KILL "$p" 2>/dev/null || :
        done
        kill_probes
        if [ "${SUP_BENCH_KEEP:-0}" = 1 ]; then
                echo "sup-bench: work directory kept: $W"
        else
                rm -rf "$W"
        fi
        exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
        local p keep=()
        for p in "${PIDS[@]}"; do
                [ "$p" = "$1" ] || keep+=("$p")
        done
        PIDS=("${keep[@]}")
}

say() { printf '%s\n' "$*"; }
die() { echo "sup-bench: $*" >&2; exit 1; }
now_ns() { date +%s%N; }

# ---- the probe: static when the toolchain can (as peer-supervisors.md
# §2.1 did), else the Makefile's build. One binary for every supervisor.
if "${CC:-cc}" -O2 -static -o "$W/bin/stamp" "$TOP/bench/sup_stamp.c" 2>/dev/null; then
        STAMP_KIND="static (cc -O2 -static bench/sup_stamp.c)"
else
        cp "$B/bench/sup_stamp" "$W/bin/stamp"
        STAMP_KIND="$B/bench/sup_stamp (dynamic: $(ldd "$W/bin/stamp" | grep -c '=>') libraries)"
fi
STAMP=$W/bin/stamp

# ---- statistics (values in ns on stdin, one a line) ----
# Prints: n median p90 p99 min max, in ms (p99: nearest rank).
stats() {
        sort -n | awk '{ v[NR] = $1 }
        END {
                if (NR == 0) { print "0 - - - - -"; exit }
                m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                p = v[int(NR * 0.9 + 0.999999)]
                q = v[int(NR * 0.99 + 0.999999)]
                printf "%d %.3f %.3f %.3f %.3f %.3f\n", NR, m / 1e6, p / 1e6, q / 1e6, v[1] / 1e6, v[NR] / 1e6
        }'
}
median_of() { stats | awk '{ print $2 }'; }

# pairs STAMPS [SIDE] [LIMIT]: each D with the next S (peer-supervisors.md
# §2.1). One line per pair: restart_ns child_ready_ns ack_ns ("-" when
# unknown). SIDE holds sup_floor's "F t_fork t_ready pid" lines or
# gensupd's JSON events ("started" with time_us, CLOCK_REALTIME), which
# give the time the supervisor learnt the new process was ready.
pairs() {
        local stamps=$1 side=${2:-/dev/null} limit=${3:-1000000000}
        sort -k2,2n "$stamps" | awk -v side="$side" -v limit="$limit" '
        BEGIN {
                while ((getline line < side) > 0) {
                        if (line ~ /^F /) { split(line, f, " "); fready[f[4]] = f[3] }
                        else if (line ~ /"event":"started"/) {
                                match(line, /"pid":[0-9]+/); pid = substr(line, RSTART + 6, RLENGTH - 6)
                                match(line, /"time_us":[0-9]+/); t = substr(line, RSTART + 10, RLENGTH - 10)
                                eready[pid] = t * 1000
                        }
                }
        }
        $1 == "D" { d = $2; dr = $3; have = 1; next }
        $1 == "S" {
                cur = ""
                if (have && k < limit) {
                        k++; rs[k] = $2 - d; dm[k] = d; drl[k] = dr; np[k] = $3; rd[k] = "-"; cur = $3
                }
                have = 0; next
        }
        $1 == "R" && $3 == cur { rd[k] = $2 - dm[k] }
        END {
                for (i = 1; i <= k; i++) {
                        ack = "-"
                        if (np[i] in fready) ack = fready[np[i]] - dm[i]
                        else if (np[i] in eready) ack = eready[np[i]] - drl[i]
                        # %.0f: awk would print values past 2^31 (2.1 s) as
                        # 2.9e+09, which sort -n reads as 2.9.
                        print n0(rs[i]), n0(rd[i]), n0(ack)
                }
        }
        function n0(x) { return (x == "-") ? x : sprintf("%.0f", x) }'
}

count_s() { [ -f "$1" ] && grep -c '^S' "$1" || echo 0; }

# wait_starts STAMPS WANT TIMEOUT_S: until STAMPS holds WANT starts.
wait_starts() {
        local deadline=$(( $(date +%s) + $3 ))
        while [ "$(count_s "$1")" -lt "$2" ]; do
                [ "$(date +%s)" -lt $deadline ] || return 1
                sleep "${4:-0.2}"
        done
}

# wait_log LOG PATTERN TIMEOUT_S [PID]: until a line of LOG matches
# (fails at the timeout, or as soon as PID is gone).
wait_log() {
        local deadline=$(( $(date +%s) + $3 ))
        until grep -q -- "$2" "$1" 2>/dev/null; do
                [ "$(date +%s)" -lt $deadline ] || return 1
                if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
                        sleep 0.2
                        grep -q -- "$2" "$1" 2>/dev/null
                        return
                fi
                sleep 0.1
        done
}

# stop_pid PID TIMEOUT_S: SIGTERM, wait, SIGKILL if it lingers.
stop_pid() {
        kill -TERM "$1" 2>/dev/null || :
        local deadline=$(( $(date +%s) + ${2:-10} ))
        while kill -0 "$1" 2>/dev/null; do
                if [ "$(date +%s)" -ge $deadline ]; then
                        kill -KILL "$1" 2>/dev/null || :
                        break
                fi
                sleep 0.05
        done
        wait "$1" 2>/dev/null || :
        forget_pid "$1"
}

raise_nofile() {
        local want=$1
        local hard
        hard=$(ulimit -Hn)
        if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
                ulimit -Hn "$want" 2>/dev/null || :
                hard=$(ulimit -Hn)
        fi
        ulimit -n "$hard" 2>/dev/null || :
}

# ---- gensupd configs ----
# gensup_conf FILE RUNDIR READY STAMP_ARGS...: one crashing child.
gensup_conf() {
        local file=$1 rundir=$2 ready=$3
        shift 3
        local args="" a
        for a in "$@"; do args="$args, \"$a\""; done
        cat > "$file" <<EOF
runtime_dir = "$rundir";
supervisor = {
  name = "bench"; strategy = "one_for_one"; intensity = 1000000; period = 1;
  children = ( { name = "stamp"; exec = ["$STAMP"$args]; ready = "$ready"; shutdown = "brutal_kill"; } );
};
EOF
}

# ================= restart: floor and gensupd =================
declare -A ROUNDMED

add_round() {   # add_round KEY FILE_OF_NS
        local m
        m=$(median_of < "$2")
        ROUNDMED[$1]="${ROUNDMED[$1]:-} $m"
        cat "$2" >> "$W/all.$1"
}

# run_floor ROUND MODE [LIFETIME_MS [COUNT [KEY]]]: sup_floor -m MODE
# (spawn: clone(CLONE_VM|CLONE_VFORK) + exec, as gensupd; fork: fork +
# exec), COUNT restarts of a child living LIFETIME_MS.
run_floor() {
        local mode=$2 life=${3:-0} count=${4:-$N}
        local key=${5:-floor.$mode}
        local d=$W/$key.$1
        mkdir -p "$d"
        echo "$life kill fd:3 $d/stamps" > "$d/cfg"
        "$B/bench/sup_floor" -m "$mode" "$STAMP" "$d/cfg" "$count" > "$d/F" || die "sup_floor failed"
        awk '{ print $3 - $2 }' "$d/F" > "$d/forkready"
        pairs "$d/stamps" "$d/F" "$count" > "$d/pairs"
        add_round "$key.forkready" "$d/forkready"
        awk '{ print $1 }' "$d/pairs" > "$d/x"; add_round "$key.restart" "$d/x"
        awk '$2 != "-" { print $2 }' "$d/pairs" > "$d/x"; add_round "$key.childready" "$d/x"
        awk '$3 != "-" { print $3 }' "$d/pairs" > "$d/x"; add_round "$key.ready" "$d/x"
}

# run_gensupd ROUND READY FOLLOW [LIFETIME_MS [COUNT [KEY]]]: COUNT
# restarts of a child that SIGKILLs itself after LIFETIME_MS; FOLLOW=1
# records gensupd's events (ready acks).
run_gensupd() {
        local round=$1 ready=$2 follow=$3 life=${4:-0} count=${5:-$N}
        local key=${6:-gensupd.$ready$([ "$follow" = 1 ] && echo .ack)}
        local d=$W/$key.$round
        mkdir -p "$d/run"
        local sready=none
        [ "$ready" = notify ] && sready=notify
        gensup_conf "$d/g.conf" "$d/run" "$ready" "$life" kill "$sready" "$d/stamps"
        "$GENSUPD" -c "$d/g.conf" --log-stderr 2> "$d/log" &
        local gp=$!
        PIDS+=("$gp")
        local fp=""
        if [ "$follow" = 1 ]; then
                local i=0
                until [ -S "$d/run/control.sock" ] || [ $i -ge 100 ]; do sleep 0.02; i=$((i + 1)); done
                "$GENSUPCTL" -s "$d/run/control.sock" --json events --follow > "$d/events" 2>/dev/null &
                fp=$!
                PIDS+=("$fp")
        fi
        local limit=$(( 120 + count * (life / 1000 + 1) * 2 ))
        wait_starts "$d/stamps" $((count + 2)) "$limit" 0.1 || die "gensupd ($key): no $count restarts in $limit s (see $d/log)"
        stop_pid "$gp" 10
        [ -n "$fp" ] && stop_pid "$fp" 2
        if [ "$follow" = 1 ]; then
                # The first pairs may predate the follower: keep acked ones.
                # awk stops taking lines itself: a head here would end
                # the pipeline with SIGPIPE (141) under pipefail.
                pairs "$d/stamps" "$d/events" | awk -v n="$count" '$3 != "-" && k < n { print; k++ }' > "$d/pairs"
                awk '{ print $3 }' "$d/pairs" > "$d/x"; add_round "$key" "$d/x"
        else
                pairs "$d/stamps" /dev/null "$count" > "$d/pairs"
                awk '{ print $1 }' "$d/pairs" > "$d/x"; add_round "$key.restart" "$d/x"
                if [ "$ready" = notify ]; then
                        awk '$2 != "-" { print $2 }' "$d/pairs" > "$d/x"; add_round "$key.childready" "$d/x"
                fi
        fi
}

fmt_row() {   # fmt_row LABEL KEY
        local s r
        [ -f "$W/all.$2" ] || return 0
        s=$(stats < "$W/all.$2")
        r=$(echo "${ROUNDMED[$2]:-}" | awk '{ mn = $1; mx = $1; for (i = 2; i <= NF; i++) { if ($i < mn) mn = $i; if ($i > mx) mx = $i }
                print (NF > 1) ? mn ".." mx : "-" }')
        set -- $s
        printf '  %-50s %5s %8s %8s %8s %8s %8s  %s\n' "$LABEL" "$1" "$2" "$3" "$4" "$5" "$6" "$r"
}
row() { LABEL=$1; fmt_row "$1" "$2"; }
row_head() { printf '  %-50s %5s %8s %8s %8s %8s %8s  %s\n' "$1" n median p90 p99 min max "round medians"; }
med() { [ -f "$W/all.$1" ] && median_of < "$W/all.$1" || echo ""; }
p99() { [ -f "$W/all.$1" ] && stats < "$W/all.$1" | awk '{ print $4 }' || echo ""; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
# faster KEY KEY: the one of two measures with the lower median.
faster() { awk -v a="$(med "$1")" -v b="$(med "$2")" -v ka="$1" -v kb="$2" 'BEGIN { print (b != "" && (a == "" || b + 0 < a + 0)) ? kb : ka }'; }
# vs LABEL KEY BASE_KEY [TARGET]: KEY over BASE_KEY, median and p99.
vs() {
        printf '  %-44s median %5sx  p99 %5sx   (baseline %s: median %s ms, p99 %s ms)%s\n' "$1" \
                "$(ratio "$(med "$2")" "$(med "$3")")" "$(ratio "$(p99 "$2")" "$(p99 "$3")")" "$3" "$(med "$3")" "$(p99 "$3")" \
                "${4:+  target <= $4}"
}

part_restart() {
        say ""
        say "== restart latency, crash loop: floor vs gensupd ($ROUNDS interleaved rounds x $N restarts; probe: $STAMP_KIND)"
        local r
        for r in $(seq 1 "$ROUNDS"); do
                run_floor "$r" spawn
                run_gensupd "$r" exec 0
                run_floor "$r" fork
                run_gensupd "$r" notify 0
                run_gensupd "$r" exec 1
                run_gensupd "$r" notify 1
        done
        say "  (ms; D = the dying child's last stamp, S = the new child's first, R = it sent READY,"
        say "   ack = the supervisor has the READY: floor read() returned / gensupd's \"started\" event)"
        row_head measure
        row "floor spawn: clone(VM|VFORK)+exec -> ready" floor.spawn.forkready
        row "floor spawn: D -> S (waitpid, spawn, exec)" floor.spawn.restart
        row "floor spawn: D -> ack (read of READY)" floor.spawn.ready
        row "floor fork: fork+exec -> ready" floor.fork.forkready
        row "floor fork: D -> S" floor.fork.restart
        row "floor fork: D -> ack" floor.fork.ready
        row "gensupd ready=exec: D -> S" gensupd.exec.restart
        row "gensupd ready=exec: D -> ack (started event)" gensupd.exec.ack
        row "gensupd ready=notify: D -> S" gensupd.notify.restart
        row "gensupd ready=notify: D -> R (child sent READY=1)" gensupd.notify.childready
        row "gensupd ready=notify: D -> ack (started event)" gensupd.notify.ack
        say ""
        local fr fa
        fr=$(faster floor.spawn.restart floor.fork.restart)
        fa=$(faster floor.spawn.ready floor.fork.ready)
        say "  ratios to the fastest floor of this run:"
        vs "gensupd ready=exec, D -> S" gensupd.exec.restart "$fr" 1.3
        vs "gensupd ready=notify, D -> S" gensupd.notify.restart "$fr"
        vs "gensupd ready=exec, D -> ack" gensupd.exec.ack "$fa"
        vs "gensupd ready=notify, D -> ack" gensupd.notify.ack "$fa"
        vs "floor fork, D -> S (the old floor)" floor.fork.restart floor.spawn.restart
}

# ================= peers: every supervisor under the same conditions ====
# run_peer ROUND TOOL LIFETIME_MS READY COUNT: COUNT restarts under TOOL.
run_peer() {
        local round=$1 tool=$2 life=$3 ready=$4 count=$5
        local key=peer.$tool
        local d=$W/$key.$round
        mkdir -p "$d/svc"
        echo "$life kill $ready $d/stamps" > "$d/svc/cfg"
        ln -s "$STAMP" "$d/svc/run"
        local pid want=$((count + 1)) limit=$(( (count + 2) * (life / 1000 + 3) + 20 ))
        case $tool in
        s6)
                [ "$ready" = fd:3 ] && echo 3 > "$d/svc/notification-fd"
                (cd "$d/svc" && exec s6-supervise .) > "$d/log" 2>&1 &
                pid=$!
                ;;
        runit)
                (cd "$d/svc" && exec runsv .) > "$d/log" 2>&1 &
                pid=$!
                ;;
        supervisord)
                cat > "$d/supd.conf" <<EOF
[supervisord]
nodaemon=true
logfile=$d/supervisord.log
pidfile=$d/supervisord.pid
childlogdir=$d
user=root

[program:stamp]
command=$STAMP $d/svc/cfg
directory=$d/svc
autorestart=true
startsecs=1
startretries=1000000
stdout_logfile=NONE
stderr_logfile=NONE
EOF
                supervisord -n -c "$d/supd.conf" > "$d/log" 2>&1 &
                pid=$!
                ;;
        esac
        PIDS+=("$pid")
        if ! wait_starts "$d/stamps" $want $limit 0.2; then
                say "  $tool: fewer than $want starts in $limit s (see $d)"
        fi
        case $tool in
        s6) s6-svc -dx "$d/svc" 2>/dev/null || : ;;
        runit) printf dx > "$d/svc/supervise/control" 2>/dev/null || : ;;
        supervisord) : ;;
        esac
        stop_pid "$pid" 10
        kill_probes
        touch "$d/stamps"
        pairs "$d/stamps" /dev/null "$count" > "$d/pairs"
        awk '{ print $1 }' "$d/pairs" > "$d/x"; add_round "$key.restart" "$d/x"
        awk '$2 != "-" { print $2 }' "$d/pairs" > "$d/x"
        if [ -s "$d/x" ]; then add_round "$key.childready" "$d/x"; fi
}

# PEERS: the peers the script can run; installs missing ones when root.
peer_tools() {
        local missing=""
        command -v s6-supervise > /dev/null || missing="$missing s6"
        command -v runsv > /dev/null || missing="$missing runit"
        command -v supervisord > /dev/null || missing="$missing supervisor"
        if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
                say "  installing:$missing (apt-get)"
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing > "$W/apt.log" 2>&1 ||
                        say "  apt-get install$missing failed (see $W/apt.log)"
        fi
        PEERS=""
        if command -v s6-supervise > /dev/null && command -v s6-svc > /dev/null; then PEERS="$PEERS s6"
        else say "  s6-supervise: not installed (apt-get install s6)"; fi
        if command -v runsv > /dev/null; then PEERS="$PEERS runit"
        else say "  runsv: not installed (apt-get install runit)"; fi
        if command -v supervisord > /dev/null; then PEERS="$PEERS supervisord"
        else say "  supervisord: not installed (apt-get install supervisor)"; fi
        # systemd-run needs a running systemd manager (PID 1, or a user
        # manager under it).
        if [ -d /run/systemd/system ]; then
                say "  systemd-run: systemd runs here, but the script does not start transient units on the host's manager"
        else
                say "  systemd-run: cannot run here: PID 1 is '$(cat /proc/1/comm 2>/dev/null || echo '?')', not systemd (no /run/systemd/system), so no manager can start a transient unit"
        fi
}

part_peers() {
        say ""
        say "== restart latency, every supervisor under the same conditions ($ROUNDS interleaved rounds x $PEER_N restarts each;"
        say "   every child lives $PEER_LIFE_MS ms, then SIGKILLs itself: the peers delay restarts of younger children)"
        peer_tools
        local r t
        for r in $(seq 1 "$ROUNDS"); do
                run_floor "$r" spawn "$PEER_LIFE_MS" "$PEER_N" fair.floor
                run_gensupd "$r" notify 0 "$PEER_LIFE_MS" "$PEER_N" fair.gensupd
                for t in $PEERS; do
                        case $t in
                        s6) run_peer "$r" s6 "$PEER_LIFE_MS" fd:3 "$PEER_N" ;;
                        *) run_peer "$r" "$t" "$PEER_LIFE_MS" none "$PEER_N" ;;
                        esac
                done
        done
        say "  readiness: the probe signals it first thing (floor and s6: a line on fd 3, s6's notification-fd;"
        say "  gensupd: ready = \"notify\", READY=1 on \$NOTIFY_SOCKET); runsv and supervisord have no readiness protocol."
        row_head "D -> S (ms)"
        row "floor: spawn + exec, read fd 3" fair.floor.restart
        row "gensupd, ready = \"notify\"" fair.gensupd.restart
        row "s6-supervise, notification-fd 3" peer.s6.restart
        row "runsv" peer.runit.restart
        row "supervisord, startsecs=1" peer.supervisord.restart
        row_head "D -> R (ms; the new child sent readiness)"
        row "floor" fair.floor.childready
        row "gensupd" fair.gensupd.childready
        row "s6-supervise" peer.s6.childready
        say ""
        say "  ratios, D -> S, in this run:"
        vs "gensupd / floor" fair.gensupd.restart fair.floor.restart 1.3
        for t in $PEERS; do
                vs "$t / gensupd" "peer.$t.restart" fair.gensupd.restart
        done
}

# ================= startup: what loading a libgensup server costs =========
# Builds the binaries compared (in $W/bin), then bench/startup times
# exec -> exit of each in interleaved rounds; LD_DEBUG=statistics and the
# libraries each loads say where the time goes.
part_startup() {
        local d=$W/startup cc=${CC:-cc}
        mkdir -p "$d"
        say ""
        say "== start-up: exec -> exit ($STARTUP_ROUNDS interleaved rounds x $STARTUP_N starts; clone(VM|VFORK) + execve, as gensupd)"
        printf 'int main(void) { return 0; }\n' > "$d/trivial.c"
        local ok=1
        "$cc" -O2 -o "$W/bin/plain-dynamic" "$d/trivial.c" || ok=0
        "$cc" -O2 -static -o "$W/bin/plain-static" "$d/trivial.c" || ok=0
        "$cc" -O2 -o "$W/bin/plain+libsystemd" "$d/trivial.c" -Wl,--no-as-needed -lsystemd || ok=0
        "$cc" -O2 -o "$W/bin/plain+protobuf-c" "$d/trivial.c" -Wl,--no-as-needed -lprotobuf-c || ok=0
        # As a user links a server (gensup.pc: -lgensup, Requires
        # libprotobuf-c): the shared library.
        "$cc" -O2 -I"$TOP/include" -o "$W/bin/gs_start-shared" "$TOP/bench/gs_start.c" -L"$B/lib" -lgensup \
                -Wl,-rpath,"$B/lib" $(pkg-config --libs libprotobuf-c) || ok=0
        # A baseline libgensup in the same run (SUP_BENCH_STARTUP_BASE: the
        # build folder of another checkout, e.g. main's, whose library
        # still linked libsystemd), linked as that gensup.pc said.
        local base=()
        if [ -n "${SUP_BENCH_STARTUP_BASE:-}" ]; then
                "$cc" -O2 -I"$SUP_BENCH_STARTUP_BASE/../include" -o "$W/bin/gs_start-base" "$TOP/bench/gs_start.c" \
                        -L"$SUP_BENCH_STARTUP_BASE/lib" -lgensup -Wl,-rpath,"$SUP_BENCH_STARTUP_BASE/lib" \
                        $(pkg-config --libs libsystemd libprotobuf-c) || ok=0
                base=("gs_start, BASE shared libgensup=$W/bin/gs_start-base")
        fi
        # libgensup.a, everything else static too where Debian ships an
        # archive (libsystemd has none: the same libraries as above).
        # The same with the link options that could matter: --as-needed
        # (drop what is not used), -z lazy (no binding at load), -O1.
        "$cc" -O2 -I"$TOP/include" -o "$W/bin/gs_start-ldopts" "$TOP/bench/gs_start.c" -L"$B/lib" \
                -Wl,-O1,--as-needed,-z,lazy,--hash-style=gnu -lgensup -Wl,-rpath,"$B/lib" \
                $(pkg-config --libs libprotobuf-c) || ok=0
        "$cc" -O2 -I"$TOP/include" -o "$W/bin/gs_start-static-lib" "$TOP/bench/gs_start.c" "$B/lib/libgensup.a" \
                -Wl,-Bstatic -lprotobuf-c -Wl,-Bdynamic || ok=0
        [ $ok = 1 ] || { say "  could not build the binaries (cc, libsystemd-dev, libprotobuf-c-dev)"; return 0; }
        cp "$B/bench/gs_start" "$W/bin/gs_start-intree"
        "$B/bench/startup" -r "$STARTUP_ROUNDS" -n "$STARTUP_N" \
                "plain dynamic (libc only)=$W/bin/plain-dynamic" \
                "plain static=$W/bin/plain-static" \
                "gs_start, shared libgensup (pkg-config)=$W/bin/gs_start-shared" \
                "gs_start, shared, -O1,--as-needed,-z,lazy=$W/bin/gs_start-ldopts" \
                "gs_start, libgensup.a (make's link)=$W/bin/gs_start-intree" \
                "gs_start, libgensup.a + libprotobuf-c.a=$W/bin/gs_start-static-lib" \
                "plain + libsystemd=$W/bin/plain+libsystemd" \
                "plain + libprotobuf-c=$W/bin/plain+protobuf-c" "${base[@]}"
        say "  (ratios to the plain dynamic binary; target for a libgensup server <= 1.2)"
        local b
        say ""
        say "  shared objects loaded (ldd) and LD_DEBUG=statistics (cycles in the dynamic loader, relocations):"
        for b in plain-dynamic gs_start-shared gs_start-intree plain+libsystemd plain+protobuf-c ${base[@]:+gs_start-base}; do
                local libs stat
                libs=$(ldd "$W/bin/$b" | awk '/=>/ { sub(/\.so.*/, "", $1); printf "%s ", $1 }')
                stat=$(LD_DEBUG=statistics "$W/bin/$b" exit 2>&1 | awk '
                        /total startup time/ { t = $(NF - 1) }
                        /time needed for relocation/ { r = $(NF - 2) " " $NF }
                        /time needed to load objects/ { l = $(NF - 2) " " $NF }
                        /final number of relocations:/ { n = $NF }
                        END { printf "loader %s cycles: relocation %s, loading objects %s; %s relocations", t, r, l, n }')
                say "  $(printf '%-18s' "$b") $(ldd "$W/bin/$b" | grep -c '=>') objects: $libs"
                say "  $(printf '%-18s' "") $stat"
        done
        if command -v perf > /dev/null; then
                say "  perf stat -e task-clock,page-faults -r 30 BINARY exit (CPU ms and page faults per start):"
                for b in plain-dynamic plain-static gs_start-shared plain+libsystemd ${base[@]:+gs_start-base}; do
                        perf stat -x, -e task-clock,page-faults -r 30 "$W/bin/$b" exit 2>&1 >/dev/null |
                                awk -F, -v b="$b" '$3 ~ /task-clock/ { t = $1 } $3 ~ /page-faults/ { f = $1 }
                                        END { printf "  %-18s task-clock %.2f ms, %d page faults\n", b, t, f }'
                done
                perf record -q -o "$d/perf.data" -F 5000 -- sh -c 'i=0; while [ $i -lt 100 ]; do "$1" exit; i=$((i+1)); done' sh \
                        "$W/bin/gs_start-shared" > /dev/null 2>&1 &&
                        perf report -i "$d/perf.data" --no-children -g none --sort comm,dso --stdio 2> /dev/null |
                        awk '/%/ && $2 ~ /^gs_start/ && n < 5 { printf "%s %s %s", (n ? "," : "  where gs_start-shared spends its start (perf record, 100 starts):"), $1, $3; n++ }
                             END { if (n) printf "\n" }'
        fi
        say "  libraries libgensup.so needs: $(readelf -d "$B/lib/libgensup.so" | awk '/NEEDED/ { gsub(/[][]/, "", $NF); printf "%s ", $NF }')"
        say "  libsystemd symbols libgensup uses: $(nm -D --undefined-only "$B/lib/libgensup.so" 2>/dev/null | awk '/ sd_/ { sub(/@.*/, "", $2); printf "%s ", $2 }')"
}

# ================= serve: a real server back in service ===================
part_serve() {
        local d=$W/serve
        mkdir -p "$d/run"
        say ""
        say "== a real libgensup server back in service: bench/gs_start, by hand and under gensupd"
        say "   ($SERVE_ROUNDS interleaved rounds x $SERVE_N of each; bench/serve_restart.c says what each row is)"
        cat > "$d/g.conf" <<EOF
runtime_dir = "$d/run";
supervisor = {
  name = "bench"; strategy = "one_for_one"; intensity = 1000000; period = 1;
  children = (
    { name = "held"; exec = ["$B/bench/gs_start"]; listen = true; shutdown = "brutal_kill"; },
    { name = "handed"; exec = ["$B/bench/gs_start"]; shutdown = "brutal_kill"; },
    { name = "polled"; exec = ["$B/bench/gs_start"]; listen = false; shutdown = "brutal_kill"; }
  );
};
EOF
        "$GENSUPD" -c "$d/g.conf" --log-stderr 2> "$d/log" &
        local gp=$!
        PIDS+=("$gp")
        wait_log "$d/log" "all children started" 30 "$gp" || die "serve: gensupd did not start (see $d/log)"
        "$B/bench/serve_restart" -r "$SERVE_ROUNDS" -n "$SERVE_N" -g "$gp" "$B/bench/gs_start" \
                "$d/run/held.sock" "$d/run/handed.sock" "$d/run/polled.sock" || say "  serve_restart failed"
        stop_pid "$gp" 10
}

# ================= many children, status, heap =================
# many_conf FILE RUNDIR COUNT STAMPS: COUNT children holding (pause()),
# each stamping S into STAMPS when it starts.
many_conf() {
        awk -v rd="$2" -v n="$3" -v stamp="$STAMP" -v st="$4" 'BEGIN {
                printf "runtime_dir = \"%s\";\nsupervisor = {\n  name = \"bench\"; strategy = \"one_for_one\";\n  intensity = 10; period = 1;\n  children = (\n", rd
                for (i = 1; i <= n; i++)
                        printf "    { name = \"w%05d\"; exec = [\"%s\", \"0\", \"hold\", \"none\", \"%s\"]; ready = \"exec\"; }%s\n",
                               i, stamp, st, (i < n) ? "," : ""
                printf "  );\n};\n"
        }' > "$1"
}

GP=""
T_MS=""
# tree_up DIR COUNT [ENV...]: gensupd with COUNT children; sets GP, and
# T_MS to the ms from its start to its "all children started" line.
tree_up() {
        local d=$1 count=$2
        shift 2
        mkdir -p "$d/run"
        [ -p "$d/fifo" ] || mkfifo "$d/fifo"
        many_conf "$d/g.conf" "$d/run" "$count" "$d/stamps"
        "$B/bench/sup_tslog" "$d/log" < "$d/fifo" &
        PIDS+=("$!")
        local t0
        t0=$(now_ns)
        env "$@" "$GENSUPD" -c "$d/g.conf" --log-stderr 2> "$d/fifo" &
        GP=$!
        PIDS+=("$GP")
        wait_log "$d/log" "all children started" 600 "$GP" ||
                die "gensupd with $count children: not ready (see $d/log: $(tail -n 3 "$d/log" | cut -d' ' -f2- | tr '\n' ' '))"
        local t
        t=$(grep -m1 "all children started" "$d/log" | awk '{ print $1 }')
        T_MS=$(awk -v a="$t" -v b="$t0" 'BEGIN { printf "%.0f", (a - b) / 1e6 }')
}

# mem PID: VmRSS RssAnon Pss Private_Dirty (kB) fds
mem() {
        local rss anon pss priv fds
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
        anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$1/status")
        pss=$(awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup")
        priv=$(awk '/^Private_Dirty:/ { print $2 }' "/proc/$1/smaps_rollup")
        fds=$(ls "/proc/$1/fd" | wc -l)
        echo "$rss $anon $pss $priv $fds"
}

# tree_down: SIGTERM gensupd; T_MS: ms until it exited.
tree_down() {
        local t0 t1
        t0=$(now_ns)
        kill -TERM "$GP"
        wait "$GP" || echo "  gensupd exited with status $?" >&2
        t1=$(now_ns)
        forget_pid "$GP"
        GP=""
        T_MS=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.0f", (a - b) / 1e6 }')
}

# time_cmd LABEL CMD...: wall time of a gensupctl command (hyperfine when
# installed, else a date +%s%N loop), and its output size.
time_cmd() {
        local label=$1
        shift
        local bytes
        bytes=$("$@" | wc -c)
        if command -v hyperfine > /dev/null; then
                local q="" a
                for a in "$@"; do q="$q $(printf '%q' "$a")"; done
                hyperfine -N --style none --warmup 2 --runs "$STATUS_RUNS" --export-csv "$W/hf.csv" "${q# }" > /dev/null 2>&1 ||
                        hyperfine --style none --warmup 2 --runs "$STATUS_RUNS" --export-csv "$W/hf.csv" "${q# }" > /dev/null
                # command,mean,stddev,median,user,system,min,max (s)
                tail -n 1 "$W/hf.csv" | awk -F, -v l="$label" -v b="$bytes" -v n="$STATUS_RUNS" \
                        '{ printf "  %-44s %5d %9.1f %9.1f %9.1f %10d\n", l, n, $(NF-4) * 1e3, $(NF-1) * 1e3, $NF * 1e3, b }'
        else
                local i t0 t1
                for i in $(seq 1 "$STATUS_RUNS"); do
                        t0=$(now_ns); "$@" > /dev/null; t1=$(now_ns)
                        echo $((t1 - t0))
                done | stats | awk -v l="$label" -v b="$bytes" '{ printf "  %-44s %5d %9.1f %9.1f %9.1f %10d\n", l, $1, $2, $5, $6, b }'
        fi
}

status_times() {
        local sock=$1 count=$2
        say "  gensupctl on the $count-child tree ($(command -v hyperfine > /dev/null && echo hyperfine -N --warmup 2 || echo 'date +%s%N loop'), $STATUS_RUNS runs; ms):"
        printf '  %-44s %5s %9s %9s %9s %10s\n' command runs median min max "out bytes"
        time_cmd "gensupctl --json status" "$GENSUPCTL" -s "$sock" --json status
        time_cmd "gensupctl status" "$GENSUPCTL" -s "$sock" status
        time_cmd "gensupctl --json which-children bench" "$GENSUPCTL" -s "$sock" --json which-children bench
        time_cmd "gensupctl which-children bench" "$GENSUPCTL" -s "$sock" which-children bench
        time_cmd "gensupctl --json count-children bench" "$GENSUPCTL" -s "$sock" --json count-children bench
        # top: one refresh (status, the rows, statistics of up to 256
        # servers, every row printed); metrics: one scrape.
        time_cmd "gensupctl top --batch 1" "$GENSUPCTL" -s "$sock" top --batch 1
        time_cmd "gensupctl top --batch 1 --sort cpu" "$GENSUPCTL" -s "$sock" top --batch 1 --sort cpu
        time_cmd "gensupctl metrics" "$GENSUPCTL" -s "$sock" metrics
}

# start_spacing STAMPS: how start-up slows as the tree grows: median time
# between consecutive children's S stamps in each tenth of the start.
start_spacing() {
        sort -k2,2n "$1" | awk '$1 == "S" { t[++n] = $2 }
        END {
                for (k = 0; k < 10; k++) {
                        lo = int(n * k / 10) + 2; hi = int(n * (k + 1) / 10); m = 0
                        for (i = lo; i <= hi; i++) d[++m] = t[i] - t[i - 1]
                        # insertion sort is fine for one tenth of 10,000
                        for (i = 2; i <= m; i++) { v = d[i]; j = i - 1; while (j > 0 && d[j] > v) { d[j + 1] = d[j]; j-- } d[j + 1] = v }
                        printf " %.2f", (m ? d[int((m + 1) / 2)] : 0) / 1e6
                }
                printf "\n"
        }'
}

part_many() {
        local with_status=$1 with_many=$2
        raise_nofile $((CHILDREN * 4 + 1000))
        local nofile
        nofile=$(ulimit -n)
        say ""
        say "== many children under one one_for_one supervisor (probe in hold mode, ready = \"exec\")"
        # Small trees first: the baseline memory and the fds each child costs.
        local m10 m20 per_fd count=$CHILDREN t_up t_down
        tree_up "$W/many10" 10; t_up=$T_MS
        sleep 0.5
        m10=$(mem "$GP")
        tree_down; t_down=$T_MS
        say "  10 children: ready in $t_up ms, stopped in $t_down ms; VmRSS RssAnon Pss Private_Dirty (kB), fds: $m10"
        tree_up "$W/many20" 20
        m20=$(mem "$GP")
        tree_down
        per_fd=$(echo "$m10 $m20" | awk '{ printf "%d", ($10 - $5 + 9) / 10 }')
        local fits
        fits=$(echo "$m10" | awk -v nf="$nofile" -v f="$per_fd" '{ printf "%d", (nf - $5 - 64) / f + 10 }')
        say "  gensupd holds $per_fd fds per child; RLIMIT_NOFILE here: soft $nofile, hard $(ulimit -Hn) -> at most $fits children"
        if [ "$count" -gt "$fits" ]; then
                count=$(( fits / 100 * 100 ))
                say "  !! $CHILDREN children need $((CHILDREN * per_fd + 64)) fds, more than the hard limit allows (raising it needs CAP_SYS_RESOURCE): running $count"
        fi
        tree_up "$W/many" "$count"; t_up=$T_MS
        say "  $count children: gensupd start -> \"all children started\": $t_up ms ($(awk -v t="$t_up" -v n="$count" 'BEGIN { printf "%.3f", t / n }') ms per child on average)"
        say "  ms between two children's starts, median in each tenth of the start:$(start_spacing "$W/many/stamps")"
        sleep 1
        local big
        big=$(mem "$GP")
        if [ "$with_many" = 1 ]; then
                say "  $count children: VmRSS RssAnon Pss Private_Dirty (kB), fds: $big"
                echo "$m10 $big" | awk -v n="$count" '{
                        d = n - 10
                        printf "  per child ((%d children - 10 children) / %d): VmRSS %.2f KiB, RssAnon %.2f KiB, Pss %.2f KiB, Private_Dirty %.2f KiB, fds %.2f  (target <= 16 KiB)\n",
                               n, d, ($6 - $1) / d, ($7 - $2) / d, ($8 - $3) / d, ($9 - $4) / d, ($10 - $5) / d
                }'
        fi
        if [ "$with_status" = 1 ]; then
                status_times "$W/many/run/control.sock" "$count"
        fi
        tree_down; t_down=$T_MS
        say "  $count children: SIGTERM -> gensupd exited: $t_down ms ($(awk -v t="$t_down" -v n="$count" 'BEGIN { printf "%.3f", t / n }') ms per child)"
        kill_probes
}

# heap: gensupd's live heap by call site, with sup_heapcensus preloaded
# (valgrind's massif cannot run gensupd: pidfd_open is ENOSYS under it).
part_heap() {
        local count=${SUP_BENCH_HEAP_CHILDREN:-1000} d=$W/heap
        say ""
        say "== gensupd's live heap by call site, $count children (LD_PRELOAD bench/sup_heapcensus.c)"
        mkdir -p "$d"
        if ! "${CC:-cc}" -O2 -shared -fPIC -DSUP_PRELOAD -o "$d/census.so" "$TOP/bench/sup_heapcensus.c" -ldl 2> "$d/cc.log"; then
                say "  cannot build the census library (see $d/cc.log)"
                return 0
        fi
        mkfifo "$d/trigger"
        raise_nofile $((count * 4 + 1000))
        tree_up "$d" "$count" SUP_HEAP_FIFO="$d/trigger" SUP_HEAP_OUT="$d/census" LD_PRELOAD="$d/census.so"
        sleep 0.5
        echo > "$d/trigger"
        local i=0
        until grep -q '^total' "$d/census" 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
        tree_down
        kill_probes
        grep -q '^total' "$d/census" || { say "  no census written"; return 0; }
        printf '  %-62s %7s %10s %10s %9s\n' "call site (first frame in gensupd)" blocks "req bytes" "heap bytes" "B/child"
        local site blocks bytes chunk where
        sort -k4,4nr "$d/census" | grep -v '^total' | head -n 25 | while read -r site blocks bytes chunk; do
                case $site in
                0x*) where=$(addr2line -f -i -p -e "$GENSUPD" "$site" 2>/dev/null | head -n 1 | sed "s|$TOP/||g; s| (discriminator [0-9]*)||") ;;
                *) where=$site ;;
                esac
                printf '  %-62.62s %7d %10d %10d %9.0f\n' "$where" "$blocks" "$bytes" "$chunk" "$(awk -v c="$chunk" -v n="$count" 'BEGIN { print c / n }')"
        done
        awk -v n="$count" '$1 == "total" { printf "  %-62s %7d %10d %10d %9.0f\n", "total live heap", $2, $3, $4, $4 / n }' "$d/census"
}

# ================= restarts under status traffic =================
# bench/sup_status_load.c: its own tree (it must own the victim's stamps).
part_statusload() {
        say ""
        say "== restart latency with and without status traffic (bench/sup_status_load)"
        raise_nofile $((${SUP_BENCH_LOAD_CHILDREN:-9000} * 4 + 1000))
        "$B/bench/sup_status_load" -n "${SUP_BENCH_LOAD_CHILDREN:-9000}" -r "$ROUNDS" \
                -s "${SUP_BENCH_LOAD_SAMPLES:-100}" -q "${SUP_BENCH_LOAD_RATE:-20}" "$B" | sed 's/^/  /' ||
                say "  sup_status_load failed"
}

# ================= idle =================
part_idle() {
        local d=$W/idle
        mkdir -p "$d/run"
        cat > "$d/g.conf" <<EOF
runtime_dir = "$d/run";
supervisor = {
  name = "bench"; strategy = "one_for_one";
  children = (
    { name = "a"; exec = ["$STAMP", "0", "hold", "none", "-"]; ready = "exec"; },
    { name = "b"; exec = ["$STAMP", "0", "hold", "notify", "-"]; ready = "notify"; },
    { name = "c"; exec = ["$STAMP", "0", "hold", "none", "-"]; ready = "exec"; listen = true; },
    { name = "pool"; type = "supervisor"; strategy = "simple_one_for_one";
      children = ( { name = "w"; exec = ["$STAMP", "0", "hold", "none", "-"]; ready = "exec"; } ); }
  );
};
EOF
        "$GENSUPD" -c "$d/g.conf" --log-stderr 2> "$d/log" &
        local gp=$!
        PIDS+=("$gp")
        wait_log "$d/log" "all children started" 30 "$gp" || die "idle tree did not start (see $d/log)"
        sleep 1
        say ""
        say "== idle gensupd, 4 children (one of them a supervisor), ${IDLE_S} s each"
        local v0 v1 n0 n1
        v0=$(awk '/^voluntary_ctxt_switches:/ { print $2 }' "/proc/$gp/status")
        n0=$(awk '/^nonvoluntary_ctxt_switches:/ { print $2 }' "/proc/$gp/status")
        sleep "$IDLE_S"
        v1=$(awk '/^voluntary_ctxt_switches:/ { print $2 }' "/proc/$gp/status")
        n1=$(awk '/^nonvoluntary_ctxt_switches:/ { print $2 }' "/proc/$gp/status")
        say "  context switches in ${IDLE_S} s (no strace): voluntary $((v1 - v0)), involuntary $((n1 - n0))  (target 0)"
        if command -v strace > /dev/null; then
                timeout -s INT "$IDLE_S" strace -c -f -p "$gp" -o "$d/strace" 2> /dev/null || :
                # strace -c: "% time, seconds, usecs/call, calls, [errors,] syscall";
                # an empty table: no syscall at all.
                local calls
                calls=$(awk '$NF == "total" { print $4 }' "$d/strace")
                say "  syscalls in ${IDLE_S} s (timeout -s INT $IDLE_S strace -c -f -p PID): ${calls:-0}  (target 0)"
                if [ -n "${calls:-}" ] && [ "$calls" != 0 ]; then
                        awk 'NR > 2 && $NF != "total" && $1 !~ /^-/ { print "    " $0 }' "$d/strace"
                        # Attaching interrupts epoll_wait once; sd-event calls
                        # gettid() before it waits again. Not a wakeup of its own.
                        if [ "$calls" = 1 ] && grep -q ' gettid$' "$d/strace"; then
                                say "    (that gettid is strace's attach: it interrupts epoll_wait, and sd-event calls gettid before waiting again)"
                        fi
                fi
        else
                say "  strace: not installed"
        fi
        stop_pid "$gp" 10
        kill_probes
}

# ================= absorb: crashes under control traffic =================
part_absorb() {
        say ""
        say "== crash absorption: $ABSORB_ROUNDS interleaved rounds x $ABSORB_S s per setting, crashes/s: $ABSORB_RATES (probe: $STAMP_KIND)"
        # shellcheck disable=SC2086
        "$B/bench/sup_absorb" -r "$ABSORB_ROUNDS" -d "$ABSORB_S" -s "$STAMP" "$B" $ABSORB_RATES ||
                say "  sup_absorb failed (exit $?)"
        kill_probes
}

# ================= main =================
say "gensupd benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, kernel $(uname -r); build $B"
want_many=0; want_status=0
for p in $PARTS; do
        case $p in
        restart) part_restart ;;
        peers) part_peers ;;
        serve) part_serve ;;
        startup) part_startup ;;
        many) want_many=1 ;;
        status) want_status=1 ;;
        idle | heap | statusload | absorb) ;;
        *) die "unknown part '$p' (restart peers serve startup many status statusload heap idle absorb)" ;;
        esac
done
if [ $want_many = 1 ] || [ $want_status = 1 ]; then
        part_many $want_status $want_many
fi
for p in $PARTS; do
        case $p in
        statusload) part_statusload ;;
        heap) part_heap ;;
        idle) part_idle ;;
        absorb) part_absorb ;;
        esac
done
say ""
say "sup-bench: done"
