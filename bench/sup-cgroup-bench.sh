#!/bin/bash
# sup-cgroup-bench.sh BUILD_DIR: what a cgroup per child costs a restart.
#
# In interleaved rounds, the same probe (bench/sup_stamp, killing itself
# at once) restarted N times by:
#   floor     bench/sup_spawn_floor: socketpair + vfork + exec + read of a
#             1-byte READY + waitpid, nothing else (posix_spawn's way)
#   process   gensupd, ready = "exec", GENSUP_CONTAINMENT=process_group
#   cgroup    gensupd, ready = "exec", a cgroup per child (the default
#             where cgroups work; skipped with a line where they do not)
# Restart latency is D -> S: the dying probe's last CLOCK_MONOTONIC stamp
# to the new probe's first (bench/sup_stamp.c). Prints median and p90 per
# setting and the ratios cgroup/process (issue 7's target: <= 1.10) and
# cgroup/floor, process/floor.
#
# Knobs: SUP_BENCH_N=200 restarts per round, SUP_BENCH_ROUNDS=3.
# Every process started here is stopped on exit; gensupd removes its own
# cgroups when it stops.
set -eu
set -o pipefail

B=${1:?usage: bench/sup-cgroup-bench.sh BUILD_DIR}
B=$(cd "$B" && pwd)
N=${SUP_BENCH_N:-200}
ROUNDS=${SUP_BENCH_ROUNDS:-3}
GENSUPD=$B/bin/gensupd
STAMP=$B/bench/sup_stamp
FLOOR=$B/bench/sup_spawn_floor
for f in "$GENSUPD" "$STAMP" "$FLOOR"; do
        [ -x "$f" ] || { echo "sup-cgroup-bench: $f missing (make programs)" >&2; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/sup-cgroup-bench.XXXXXX")
GP=""
cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        if [ -n "$GP" ]; then
                kill -TERM "$GP" 2>/dev/null || :
                wait "$GP" 2>/dev/null || :
        fi
        rm -rf "$W"
        exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# D -> S in ns, one a line: each D paired with the next S.
pairs() {
        sort -k2,2n "$1" | awk -v limit="$2" '
        $1 == "D" { d = $2; have = 1; next }
        $1 == "S" { if (have && k < limit) { k++; print $2 - d }; have = 0 }'
}

# n median p90 in ms, from ns on stdin.
stats() {
        sort -n | awk '{ v[NR] = $1 } END {
                if (NR == 0) { print "0 - -"; exit }
                m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                printf "%d %.3f %.3f\n", NR, m / 1e6, v[int(NR * 0.9 + 0.999999)] / 1e6 }'
}

count_s() { [ -f "$1" ] && grep -c '^S' "$1" || echo 0; }

run_floor() {
        local d=$W/floor.$1
        mkdir -p "$d"
        echo "0 kill fd:3 $d/stamps" > "$d/cfg"
        "$FLOOR" "$STAMP" "$d/cfg" "$N" > /dev/null
        pairs "$d/stamps" "$N" >> "$W/all.floor"
}

# run_gensupd ROUND MODE: MODE cgroup or process.
run_gensupd() {
        local d=$W/$2.$1
        mkdir -p "$d/run"
        cat > "$d/g.conf" <<CONF
runtime_dir = "$d/run";
supervisor = {
  name = "bench"; intensity = 1000000; period = 1;
  children = ( { name = "stamp"; exec = ["$STAMP", "0", "kill", "none", "$d/stamps"]; ready = "exec";
                 shutdown = "brutal_kill"; } );
};
CONF
        if [ "$2" = process ]; then
                GENSUP_CONTAINMENT=process_group "$GENSUPD" -c "$d/g.conf" --log-stderr 2> "$d/log" &
        else
                "$GENSUPD" -c "$d/g.conf" --log-stderr 2> "$d/log" &
        fi
        GP=$!
        local deadline=$(( $(date +%s) + 120 ))
        while [ "$(count_s "$d/stamps")" -lt $((N + 2)) ]; do
                [ "$(date +%s)" -lt $deadline ] || { echo "sup-cgroup-bench: gensupd ($2): too slow, see $d/log" >&2; exit 1; }
                sleep 0.1
        done
        kill -TERM "$GP"
        wait "$GP" || :
        GP=""
        if [ "$2" = cgroup ] && ! grep -q "containment: cgroup" "$d/log"; then
                echo "sup-cgroup-bench: no cgroups here: $(grep containment "$d/log")" >&2
                return 1
        fi
        pairs "$d/stamps" "$N" >> "$W/all.$2"
}

echo "== restart latency with a cgroup per child ($ROUNDS interleaved rounds x $N restarts, D -> S, ms)"
echo "   $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
have_cg=1
for r in $(seq 1 "$ROUNDS"); do
        run_floor "$r"
        run_gensupd "$r" process
        if [ $have_cg = 1 ] && ! run_gensupd "$r" cgroup; then
                have_cg=0
        fi
done
printf '  %-44s %6s %9s %9s\n' setting n median p90
declare -A MED
for k in floor process cgroup; do
        [ -f "$W/all.$k" ] || continue
        set -- $(stats < "$W/all.$k")
        MED[$k]=$2
        case $k in
        floor) label="floor: vfork + exec + READY + waitpid" ;;
        process) label="gensupd, process groups" ;;
        cgroup) label="gensupd, a cgroup per child" ;;
        esac
        printf '  %-44s %6s %9s %9s\n' "$label" "$1" "$2" "$3"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
echo ""
echo "  gensupd process groups / floor:  $(ratio "${MED[process]:-}" "${MED[floor]:-}")"
if [ $have_cg = 1 ]; then
        echo "  gensupd cgroup / floor:          $(ratio "${MED[cgroup]:-}" "${MED[floor]:-}")"
        echo "  gensupd cgroup / process groups: $(ratio "${MED[cgroup]:-}" "${MED[process]:-}")  (target <= 1.10)"
fi
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
