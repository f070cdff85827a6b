#!/bin/sh
# callgrind.sh -- instructions llmuxd spends per request, from callgrind.
# Runs llmuxd under valgrind --tool=callgrind twice with the benchmark's
# load generator at concurrency 1, once with N and once with 3N requests;
# the difference divided by 2N is the cost of one request with start-up
# and shutdown cancelled out (callgrind counts are stable on a noisy
# machine, unlike timings). Then prints the top inclusive functions of the
# larger run.
#
# usage: tests/bench/callgrind.sh [LLMUXD] [plain|stream] [N] [key]
#   defaults: build/llmuxd plain 1000; $BENCH_ARGS adds llmux-bench
#   options (e.g. "--log-level warning"). Needs build/llmux-bench and
#   build/bench-upstream (make build/llmux-bench build/bench-upstream).
#   "key": every request presents a virtual key with rpm, tpm, parallel
#   and budget limits (access + limits + ledger on); without it, no key.
set -e
cd "$(dirname "$0")/../.."
LLMUXD=${1:-build/llmuxd}
KIND=${2:-plain}
N=${3:-1000}
OUT=$(mktemp -d /tmp/llmux-callgrind-XXXXXX)
# Each run its own database (a copy of one made here, with the key if
# any), so the key, the spend rows and their writes are part of what is
# measured, and the larger run does not also load the smaller run's rows
# at start (which once added ~16k instructions to every "request").
export XDG_STATE_HOME="$OUT/state"
mkdir -p "$XDG_STATE_HOME"
if [ "${4:-}" = key ]; then
    printf 'model_list:\n  - model_name: x\n    litellm_params: {model: mock/echo}\n' \
        > "$OUT/keys.yaml"
    "$LLMUXD" -c "$OUT/keys.yaml" -s "$OUT/keys.sock" >"$OUT/keys.log" 2>&1 &
    pid=$!
    i=0
    until [ -S "$OUT/keys.sock" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
    LLMUX_API_KEY=$(build/llmux -S "$OUT/keys.sock" key generate --alias bench \
        --rpm 100000000 --tpm 1000000000 --parallel 100000 --max-budget 1000000 \
        --budget-duration 30d 2>/dev/null)
    export LLMUX_API_KEY
    kill "$pid"
    wait "$pid" || true
fi
total() { sed -n 's/^summary: //p' "$1"; }
for n in "$N" "$((3 * N))"; do
    rm -rf "$OUT/state.$n"
    cp -a "$OUT/state" "$OUT/state.$n"
    XDG_STATE_HOME="$OUT/state.$n" build/llmux-bench --llmuxd "$LLMUXD" --upstream build/bench-upstream \
        --rounds 1 --no-scale --ready-runs 1 --requests "$n" \
        --only "^$KIND, 1 client llmuxd" $BENCH_ARGS \
        --wrap "valgrind --tool=callgrind --callgrind-out-file=$OUT/cg.$n" \
        >/dev/null
done
a=$(total "$OUT/cg.$N"); b=$(total "$OUT/cg.$((3 * N))")
echo "$KIND: $(( (b - a) / (2 * N) )) instructions per request" \
     "($a for $N requests, $b for $((3 * N)); files in $OUT)"
# The stages of issue 12 on the loop (inclusive, so the key's and the
# ledger's work inside them counts), and the ledger's batch on the
# database worker thread (off the loop).
# A function's cost is listed per source file its lines come from
# (inlined headers), and some files twice (absolute and relative path):
# the same file counts once, different files add up.
stage() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v f="$2" '
        { for (i = 2; i <= NF; i++) if ($i ~ /:/ && $i !~ /%/) break
          n = split($i, part, ":"); fn = part[n]
          file = substr($i, 1, length($i) - length(fn) - 1)
          sub(/^.*\//, "", file) }
        fn == f { v = $1; gsub(/,/, "", v); v += 0
                  if (v > best[file]) best[file] = v }
        END { for (k in best) s += best[k]; print s + 0 }'
}
for f in access_run limits_run limits_end ledger_end job_run; do
    x=$(stage "$OUT/cg.$N" $f); y=$(stage "$OUT/cg.$((3 * N))" $f)
    echo "  $f: $(( (y - x) / (2 * N) ))"
done | awk '{ print } $1 != "job_run:" { s += $2 }
    END { print "access + limits + ledger on the loop: " s \
          " instructions per request" }'
callgrind_annotate --inclusive=yes "$OUT/cg.$((3 * N))" 2>/dev/null |
    grep -E '^ *[0-9,]+ \(' | grep -v -E 'ld-linux|below main|libc_start|PROGRAM' |
    head -40
