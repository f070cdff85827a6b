#!/bin/bash
# check-fresh.sh -- the README's two commands on pristine Debian 12 roots.
# Owns: the cached pristine root (/var/tmp/llmux-fresh/*.tar), two roots
# made from it, and every mount and process in them; all go at exit.
# (a) `make run`, then `build/llmux chat -m mock/echo "hi"` answers hi;
# (b) `make test` passes. Run by `make check-fresh`, as root.
set -euo pipefail

SRC=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
HEAD_SHA=$(git -C "$SRC" rev-parse HEAD)   # both roots test this commit
WORK=${FRESH_DIR:-/var/tmp/llmux-fresh}
SUITE=bookworm
CACHE=$WORK/$SUITE-minbase.tar
# Bounds, not sleeps: each wait below ends as soon as its condition holds.
RUN_DEADLINE=${FRESH_RUN_DEADLINE:-1800}
# What a person types: no -j, no XDG_RUNTIME_DIR (root on a bare machine).
CHROOT_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            HOME=/root TERM=dumb LANG=C.UTF-8 ${FRESH_MAKEFLAGS:+MAKEFLAGS=$FRESH_MAKEFLAGS})

ROOTS=()   # roots made here, removed at exit
PGIDS=()   # process groups started here (setsid), ended at exit
T0=$SECONDS

say() { echo "check-fresh: $*"; }
step() {   # step NAME COMMAND...: runs it, prints how long it took
    local name=$1 t=$SECONDS
    shift
    "$@"
    say "$(printf '%-34s %4ds' "$name" $((SECONDS - t)))"
}
die() { echo "check-fresh: FAIL: $*" >&2; exit 1; }

# Lazy, recursive unmount of everything at or under $1 (deepest first),
# then a check that nothing is left: a root is removed only when no mount
# remains in it, or rm -rf would reach the host's /dev, /proc or /sys.
unmount_all() {
    local r=$1 m
    for m in $(awk -v r="$r" '$5 == r || index($5, r "/") == 1 { print $5 }' \
                   /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    ! awk -v r="$r" '$5 == r || index($5, r "/") == 1 { f = 1 } END { exit !f }' \
        /proc/self/mountinfo
}

cleanup() {
    local rc=$? g r
    trap - EXIT INT TERM
    for g in "${PGIDS[@]}"; do
        kill -TERM -- "-$g" 2>/dev/null || true
    done
    for g in "${PGIDS[@]}"; do   # bounded: SIGKILL after 10 s
        for _ in $(seq 100); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$g" 2>/dev/null || true
    done
    for r in "${ROOTS[@]}"; do
        if unmount_all "$r"; then
            rm -rf --one-file-system "$r"
        else
            echo "check-fresh: mounts left under $r; not removing it" >&2; rc=1
        fi
    done
    say "total $((SECONDS - T0))s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap, chroot, mount)"

bootstrap() {
    if ! command -v mmdebstrap >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
    fi
    mkdir -p "$WORK"
    mmdebstrap --quiet --format=tar --variant=minbase \
        --include=make,ca-certificates "$SUITE" "$CACHE.part"
    mv -T "$CACHE.part" "$CACHE"
}

# new_root NAME: a pristine root with the committed checkout and ../shared
# in /work, /proc /sys /dev bound in. Sets R.
new_root() {
    R=$(mktemp -d "$WORK/$1.XXXXXX")
    ROOTS+=("$R")
    chmod 0755 "$R"   # it is /: users other than root must enter it
    tar -xf "$CACHE" -C "$R"
    # A clean clone of what is committed: what a new user gets.
    git clone -q --no-hardlinks "$SRC" "$R/work/main"
    git -C "$R/work/main" checkout -q --detach "$HEAD_SHA"
    cp -a "$SRC/../shared" "$R/work/shared"
    cp /etc/resolv.conf "$R/etc/resolv.conf"
    # The root as a mount of its own: `unshare --propagation` needs / to
    # be a mount point. rslave: nothing unmounted here reaches the host.
    mount --bind "$R" "$R"
    mount --make-rslave "$R"
    local d
    for d in proc sys dev; do
        mount --rbind "/$d" "$R/$d"
        mount --make-rslave "$R/$d"
    done
}

in_root() { chroot "$R" "${CHROOT_ENV[@]}" /bin/sh -c "cd /work/main && $1"; }

# (a) make run in the background until its socket appears.
start_run() {
    setsid chroot "$R" "${CHROOT_ENV[@]}" /bin/sh -c \
        'cd /work/main && exec make run' >"$WORK/run.log" 2>&1 &
    MAKE_PID=$!
    PGIDS+=("$MAKE_PID")
    local end=$((SECONDS + RUN_DEADLINE))
    until [ -S "$R/tmp/llmux-0/llmux.sock" ]; do
        if ! kill -0 "$MAKE_PID" 2>/dev/null; then
            tail -n 30 "$WORK/run.log" >&2
            die "make run ended before llmuxd listened (log: $WORK/run.log)"
        fi
        [ $SECONDS -lt $end ] || die "no socket after ${RUN_DEADLINE}s (log: $WORK/run.log)"
        sleep 1
    done
}

chat_hi() {
    local out
    out=$(in_root 'build/llmux chat -m mock/echo "hi"') || die "llmux chat failed: $out"
    [ "$out" = hi ] || die "llmux chat answered '$out', not 'hi'"
    say "llmux chat -m mock/echo \"hi\" -> $out"
}

stop_run() {
    local pid
    pid=$(ps -o pid=,comm= --ppid "$MAKE_PID" | awk '$2 == "llmuxd" { print $1 }')
    [ -n "$pid" ] || die "no llmuxd under make run (pid $MAKE_PID)"
    kill -TERM "$pid"
    for _ in $(seq 300); do kill -0 "$MAKE_PID" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$pid" 2>/dev/null || die "llmuxd $pid did not stop on SIGTERM"
    kill -0 "$MAKE_PID" 2>/dev/null || PGIDS=()   # ended: nothing to kill later
    grep '^llmuxd: listening on' "$WORK/run.log" | sed 's/^/check-fresh: make run said: /'
}

run_tests() {
    local rc=0 pid
    # In a group of its own, so that cleanup can end all of it.
    setsid chroot "$R" "${CHROOT_ENV[@]}" /bin/sh -c \
        'cd /work/main && exec make test' >"$WORK/test.log" 2>&1 &
    pid=$!
    PGIDS+=("$pid")
    wait "$pid" || rc=$?
    CLOSING=$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed' "$WORK/test.log" | tail -n 1 || true)
    if [ $rc -ne 0 ]; then
        grep -E '^FAIL' "$WORK/test.log" >&2 || tail -n 30 "$WORK/test.log" >&2
        die "make test exited $rc: ${CLOSING:-no closing line} (log: $WORK/test.log)"
    fi
}

say "checkout ${HEAD_SHA:0:7} (what is committed; a clean clone)"
if [ -f "$CACHE" ]; then
    say "pristine root: cached $CACHE"
else
    step "bootstrap $SUITE minbase, cache it" bootstrap
fi
step "(a) root: untar, clone, mount" new_root run
step "(a) make run: deps, build, listen" start_run
step "(a) llmux chat answers hi" chat_hi
step "(a) stop llmuxd by its pid" stop_run
step "(b) root: untar, clone, mount" new_root test
step "(b) make test" run_tests
say "(b) closing line: $CLOSING"
say "ok: both of the two commands work on a pristine $SUITE root"
