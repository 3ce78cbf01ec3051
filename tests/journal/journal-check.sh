#!/bin/sh
# journal-check.sh BUILD_DIR: children's lines in the journal, through a
# real systemd-journald, gensupd and gensupctl.
#
# journald listens on fixed paths (/run/systemd/journal/...) and writes
# under /run/log/journal or /var/log/journal, and every gensupd that finds
# its socket logs there. So the test runs in a mount namespace of its own
# (unshare --mount) with tmpfs over /run/systemd, /run/log and
# /var/log/journal: its journald, its sockets and its journal files are
# seen by nothing else on the machine, whatever runs beside it, and go
# with the namespace. Where that cannot be had (not root, no unshare, no
# journald) it says why and skips.
#
# It checks: each line a child writes is an entry with
# SYSLOG_IDENTIFIER = the child's name, SYSLOG_PID = its pid and
# GENSUP_STREAM = stdout or stderr; gensupctl logs has them too; gensupd's
# own messages are entries of SYSLOG_IDENTIFIER=gensupd.
set -eu
B=${1:?usage: tests/journal/journal-check.sh BUILD_DIR}
B=$(cd "$B" && pwd)
JOURNALD=/lib/systemd/systemd-journald

skip() {
        echo "journal: skipped: $*"
        echo "journal: 0 passed, 0 failed, 1 skipped"
        exit 0
}

if [ "${GENSUP_JOURNAL_NS:-}" != 1 ]; then
        [ "$(id -u)" = 0 ] || skip "needs root (a mount namespace and a journald of its own)"
        [ -x "$JOURNALD" ] || skip "no $JOURNALD (Debian package systemd)"
        command -v journalctl >/dev/null || skip "no journalctl"
        command -v unshare >/dev/null || skip "no unshare (util-linux)"
        unshare --mount --propagation private true 2>/dev/null || skip "unshare --mount is not allowed here"
        GENSUP_JOURNAL_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/gensup-journal.XXXXXX")
JPID= GPID=
cleanup() {
        [ -n "$GPID" ] && kill -9 "$GPID" 2>/dev/null
        [ -n "$JPID" ] && kill "$JPID" 2>/dev/null && wait "$JPID" 2>/dev/null
        rm -rf "$W"
}
trap cleanup EXIT INT TERM
fail() {
        echo "journal: FAILED: $*"
        echo "--- gensupd's stderr:"; cat "$W/gensupd.log" 2>/dev/null || true
        echo "journal: 0 passed, 1 failed"
        exit 1
}
# until_true TRIES CMD...: runs CMD every 0.1 s until it succeeds.
until_true() {
        n=$1; shift
        while [ "$n" -gt 0 ]; do
                "$@" >/dev/null 2>&1 && return 0
                n=$((n - 1)); sleep 0.1
        done
        return 1
}

mkdir -p /run/systemd /run/log
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
"$JOURNALD" >"$W/journald.log" 2>&1 &
JPID=$!
until_true 100 test -S /run/systemd/journal/socket || skip "systemd-journald did not start: $(cat "$W/journald.log")"

cat > "$W/c.conf" <<CONF
runtime_dir = "$W/run";
supervisor = { name = "root"; children = (
  { name = "jchild"; ready = "exec";
    exec = ["/bin/sh", "-c", "echo to-journal-out; echo to-journal-err >&2; exec sleep 1000"]; }
); };
CONF
mkdir -p "$W/run"
"$B/bin/gensupd" -c "$W/c.conf" 2>"$W/gensupd.log" &
GPID=$!
ctl() { "$B/bin/gensupctl" -s "$W/run/control.sock" "$@"; }

has_line() { ctl logs jchild | grep -q "]: $1\$"; }
until_true 300 has_line to-journal-err || fail "gensupctl logs has no to-journal-err"
until_true 300 has_line to-journal-out || fail "gensupctl logs has no to-journal-out"
pid=$(ctl --json logs jchild -n 1 | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
[ -n "$pid" ] || fail "no pid in gensupctl logs"

# journalctl's JSON is one entry a line, keys in any order.
entry() {
        journalctl -t jchild -o json --no-pager 2>/dev/null | grep "\"MESSAGE\":\"$1\"" |
                grep "\"SYSLOG_PID\":\"$pid\"" | grep -q "\"GENSUP_STREAM\":\"$2\""
}
until_true 300 entry to-journal-out stdout || fail "no journal entry for to-journal-out: $(journalctl -o json --no-pager 2>&1 | tail -5)"
until_true 300 entry to-journal-err stderr || fail "no journal entry for to-journal-err"
own() { journalctl -t gensupd -o cat --no-pager 2>/dev/null | grep -q "all children started"; }
until_true 300 own || fail "gensupd's own messages are not in the journal"
if grep -q "jchild stdout:" "$W/gensupd.log"; then fail "children's lines went to stderr as well"; fi

ctl stop --wait >/dev/null || fail "stop --wait did not return 0"
wait "$GPID" || fail "gensupd did not exit 0"
GPID=
echo "journal: 1 passed, 0 failed"
