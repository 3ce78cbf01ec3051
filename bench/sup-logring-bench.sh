#!/bin/sh
# sup-logring-bench.sh: what the per-child log ring costs gensupd.
#
#   bench/sup-logring-bench.sh BUILD_DIR [N]
#
# Starts gensupd four times with N children each (default 1000, ready =
# "exec", /bin/sh children that sleep) and once with 10 (the baseline),
# and prints gensupd's VmRSS and RssAnon per child over the baseline:
#   idle      children that write nothing (the ring is not allocated);
#   1 line    each child writes one line;
#   100 lines each writes 100 lines of 60 bytes;
#   full      each writes 1,200 lines of 60 bytes: its ring is full
#             (1,000 lines, the default);
# Every run's figures are measured in this run, against its own baseline:
# write down `uptime` beside them.
set -eu
B=${1:?usage: bench/sup-logring-bench.sh BUILD_DIR [N]}
N=${2:-1000}
B=$(cd "$B" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/gensup-logring.XXXXXX")
PID=
cleanup() {
        [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
        rm -rf "$W"
}
trap cleanup EXIT INT TERM

# conf COUNT LINES: a tree of COUNT children, each writing LINES lines.
conf() {
        {
                echo "runtime_dir = \"$W/run\";"
                echo "supervisor = { name = \"root\"; children = ("
                i=1
                while [ "$i" -le "$1" ]; do
                        [ "$i" -gt 1 ] && echo ","
                        printf '{ name = "c%d"; ready = "exec"; output_limit = { lines = 0; bytes = 0; };' "$i"
                        printf ' exec = ["/bin/sh", "-c", "i=0; while [ $i -lt %d ]; do echo line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; exec sleep 100000"]; }' "$2"
                        i=$((i + 1))
                done
                echo "); };"
        } > "$W/c.conf"
}

kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

# run COUNT LINES: prints "VmRSS RssAnon" of gensupd once every child
# runs and has written its lines (the ring holds min(LINES, 1000) + 1).
run() {
        rm -rf "$W/run"; mkdir -p "$W/run"
        conf "$1" "$2"
        "$B/bin/gensupd" -c "$W/c.conf" --log-stderr 2>/dev/null &
        PID=$!
        want=$(( $2 < 1000 ? $2 + 1 : 1000 ))
        last="c$1"
        tries=0
        until "$B/bin/gensupctl" -s "$W/run/control.sock" --json logs "$last" 2>/dev/null |
                awk -v w="$want" 'END { exit NR >= w ? 0 : 1 }'; do
                tries=$((tries + 1))
                [ "$tries" -lt 6000 ] || { echo "gensupd did not come up" >&2; exit 1; }
                sleep 0.1
        done
        # The others wrote theirs before c$1 started (children start in order).
        sleep 2
        echo "$(kb "$PID" VmRSS) $(kb "$PID" RssAnon)"
        kill "$PID"; wait "$PID" 2>/dev/null || true
        PID=
}

echo "load: $(uptime)"
base=$(run 10 0)
echo "baseline (10 idle children): VmRSS RssAnon kB = $base"
for case in "idle 0" "1-line 1" "100-lines 100" "full 1200"; do
        set -- $case
        got=$(run "$N" "$2")
        echo "$got $base" | awk -v n="$N" -v name="$1" '{
                printf "%-10s %d children: VmRSS %d kB, RssAnon %d kB; per child over the baseline: VmRSS %.2f KiB, RssAnon %.2f KiB\n",
                        name, n, $1, $2, ($1 - $3) / (n - 10), ($2 - $4) / (n - 10) }'
done
echo "load: $(uptime)"
