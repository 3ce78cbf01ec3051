#!/bin/bash
# sup-stop-bench.sh GENSUPD [N...]: gensupd's CPU to stop a tree of N
# children (default 250 1000 2000), per exit, to show how it grows with N.
# Each child is /bin/sleep (ready = "exec"); the tree is stopped with
# SIGTERM; gensupd's utime + stime are read from /proc before the SIGTERM,
# and its total from the shell that waited for it (bash's times).
#
# GENSUPD is a gensupd binary (compare two builds by running this twice).
# Every process started here is stopped on exit.
set -eu
G=${1:?usage: bench/sup-stop-bench.sh GENSUPD [N...]}
shift
SIZES=${*:-250 1000 2000}
W=$(mktemp -d "${TMPDIR:-/tmp}/sup-stop-bench.XXXXXX")
GP=""
gp=""
cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        [ -n "$gp" ] && kill -TERM "$gp" 2>/dev/null
        [ -n "$GP" ] && { wait "$GP" 2>/dev/null || :; }
        rm -rf "$W"
        exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# "XmY.ZZZs" -> ms
to_ms() { awk -v t="$1" 'BEGIN { split(t, a, "m"); sub("s", "", a[2]); printf "%.0f", (a[1] * 60 + a[2]) * 1000 }'; }

printf '%8s %12s %14s %12s\n' children "stop wall ms" "gensupd CPU ms" "CPU us/exit"
for n in $SIZES; do
        d=$W/$n
        mkdir -p "$d/run"
        {
                echo "runtime_dir = \"$d/run\";"
                echo 'supervisor = { name = "root"; children = ('
                for i in $(seq 1 "$n"); do
                        sep=","; [ "$i" = "$n" ] && sep=""
                        echo "  { name = \"c$i\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"100000\"]; }$sep"
                done
                echo '); };'
        } > "$d/g.conf"
        ( "$G" -c "$d/g.conf" --log-stderr 2> "$d/log"; times > "$d/times" ) &
        GP=$!
        for _ in $(seq 1 600); do
                grep -q "all children started" "$d/log" && break
                sleep 0.1
        done
        grep -q "all children started" "$d/log" || { echo "no start for $n, see $d/log" >&2; exit 1; }
        gp=$(awk '{ print $1 }' "/proc/$GP/task/$GP/children")
        c0=$(cpu_ticks "$gp")
        t0=$(date +%s%N)
        kill -TERM "$gp"
        while kill -0 "$gp" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$gp/stat" 2>/dev/null)" != Z ]; do
                sleep 0.01
        done
        t1=$(date +%s%N)
        wait "$GP" || :
        GP=""
        gp=""
        set -- $(tail -1 "$d/times")
        total=$(( $(to_ms "$1") + $(to_ms "$2") ))
        awk -v n="$n" -v w=$(( (t1 - t0) / 1000000 )) -v total="$total" -v c0="$c0" -v tick="$TICK" \
                'BEGIN { ms = total - c0 * 1000 / tick; printf "%8d %12d %14.0f %12.1f\n", n, w, ms, ms * 1000 / n }'
done
echo "(load average $(cut -d' ' -f1-3 /proc/loadavg); CPU from /proc in 1/$TICK s ticks)"
