#!/usr/bin/env bash
# block_vs_torch.sh — one LTX-2 transformer block on the CPU: PyTorch f32 (the perf golden's
# baseline) against bench/transformer_block, measured on this machine in the same run (issue 12:
# goal >= 3x at --precision bf16, with bf16 and with q8_0 weights; 1.5x in f32).
#
# Method:
#   - Baseline: bench/torch_block.py --cpu-perf-block — the block at perf_block.safetensors'
#     configuration (2304 video tokens 1024 = 16 x 64, 126 audio tokens 512 = 16 x 32, 512 text
#     tokens; 109.344 GFLOP of GEMMs + attention products, checked by the script) in f32 on
#     Debian's torch 1.13 + OpenBLAS (the golden's own runtime), 2 threads, math-path attention.
#     Its process alone gets the README's anchor env: OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
#     OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=8589934592
#     (without them torch re-faults its score matrices every call and is ~2x slower; the JSON
#     line's per_rep_minflt / per_rep_sys_s show whether they took effect).
#   - Ours: build/bench/transformer_block <reps> --no-matmuls at (a) --precision bf16 --weights
#     bf16, (b) --precision bf16 --weights q8_0, (c) --precision f32; its last line
#     `median_s X`. Its own env is the caller's (it sets its allocator itself, threads = CPUs).
#   - Both: one warm-up, then `reps` forwards of the block alone (inputs prepared outside the
#     timer); the median per process. Ratio = torch median / our median.
#   - Why alternating: this shared VM's speed drifts by 10-20 % over minutes and other processes
#     come and go, so every round runs the four processes back to back, the ratios are taken
#     within a round, and the summary is the median over rounds of each ratio (not the ratio of
#     medians of far-apart runs). Also printed: the fastest repetition of each configuration over
#     all rounds and its ratio (other processes only ever add time, so the minimum is the least
#     disturbed estimate on a shared machine). The load average is printed before the first run
#     and after each round: a 1-minute load well above 0 before means other work shared the
#     2 cores; the later values include this script's own 2 threads.
# Usage: bench/block_vs_torch.sh [rounds=3] [reps=7]   (env BUILD_DIR, default build)
# Exit: 0; 2 when torch, the bench binary or an argument is missing or wrong; 1 when a run fails.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-3}
REPS=${2:-7}
BUILD_DIR=${BUILD_DIR:-build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BENCH="$BUILD_DIR/bench/transformer_block"
PY=/usr/bin/python3

for v in "$ROUNDS" "$REPS"; do
    case $v in '' | *[!0-9]* | 0)
        echo "block_vs_torch.sh: rounds and reps must be positive integers (got '$v')" >&2
        exit 2
        ;;
    esac
done
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "needs Debian's python3-torch: apt-get install python3-torch" >&2
    exit 2
fi
if [ ! -x "$BENCH" ]; then
    echo "block_vs_torch.sh: $BENCH not found (BUILD_DIR=$BUILD_DIR): run make build first" >&2
    exit 2
fi

load1() { cut -d' ' -f1-3 /proc/loadavg; }

# torch_median: runs the PyTorch baseline with the anchor env; prints "median min" (its JSON
# line goes to stderr)
torch_median() {
    local out
    out=$(env OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE \
        MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=8589934592 \
        "$PY" "$ROOT/bench/torch_block.py" --cpu-perf-block --reps "$REPS") || return 1
    echo "    torch: $out" >&2
    echo "$out" | sed -n 's/.*"s_median": \([0-9.eE+-]*\), "s_min": \([0-9.eE+-]*\).*/\1 \2/p'
}

# ours_median ARGS...: runs bench/transformer_block; prints "median min" (its `median_s` line
# and the min of its `block median` line)
ours_median() {
    local out
    out=$("$BENCH" "$REPS" --no-matmuls "$@" 2>&1) || {
        echo "$out" | tail -5 >&2
        return 1
    }
    local med min
    med=$(echo "$out" | tail -1 | sed -n 's/^median_s \([0-9.eE+-]*\)$/\1/p')
    min=$(echo "$out" | sed -n 's/^block median [0-9.]* s (min \([0-9.]*\),.*/\1/p')
    [ -n "$med" ] && [ -n "$min" ] && echo "$med $min"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
lowest() { printf '%s\n' "$@" | sort -g | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", \
    NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

NAMES=("bf16/bf16" "bf16/q8_0" "f32")
ARGS=("--precision bf16 --weights bf16" "--precision bf16 --weights q8_0" "--precision f32")
R0=() R1=() R2=() TORCH=() TMIN=() M0=() M1=() M2=()
LOAD_BEFORE=$(load1)
echo "block_vs_torch: $ROUNDS rounds x $REPS reps; $(nproc) CPUs; load before: $LOAD_BEFORE"
echo "  $(date -u +%H:%M:%S) torch $("$PY" -c 'import torch; print(torch.__version__)'), $BENCH"
for ((r = 1; r <= ROUNDS; r++)); do
    if ! tm=$(torch_median) || [ -z "$tm" ]; then
        echo "block_vs_torch.sh: PyTorch baseline failed (round $r)" >&2
        exit 1
    fi
    t=$(awk -v a="${tm% *}" 'BEGIN { printf "%.4f", a }')
    TORCH+=("$t") TMIN+=("$(awk -v a="${tm#* }" 'BEGIN { printf "%.4f", a }')")
    line="round $r: torch f32 ${t} s"
    for i in 0 1 2; do
        # shellcheck disable=SC2086 # ARGS[i] is a word list
        if ! om=$(ours_median ${ARGS[i]}) || [ -z "$om" ]; then
            echo "block_vs_torch.sh: transformer_block ${ARGS[i]} failed (round $r)" >&2
            exit 1
        fi
        o=${om% *}
        q=$(ratio "$t" "$o")
        eval "R$i+=(\"$q\") M$i+=(\"${om#* }\")"
        line="$line | ours ${NAMES[i]} ${o} s, torch/ours ${q}x"
    done
    echo "$line  (load $(load1))"
done
echo "median over $ROUNDS rounds: torch f32 $(median "${TORCH[@]}") s;" \
    "torch/ours bf16/bf16 $(median "${R0[@]}")x, bf16/q8_0 $(median "${R1[@]}")x," \
    "f32 $(median "${R2[@]}")x  (goals: 3x bf16, 1.5x f32)"
tb=$(lowest "${TMIN[@]}")
b0=$(lowest "${M0[@]}") b1=$(lowest "${M1[@]}") b2=$(lowest "${M2[@]}")
echo "fastest rep over all rounds: torch f32 ${tb} s;" \
    "ours bf16/bf16 ${b0} s ($(ratio "$tb" "$b0")x), bf16/q8_0 ${b1} s ($(ratio "$tb" "$b1")x)," \
    "f32 ${b2} s ($(ratio "$tb" "$b2")x)"
echo "load average before: $LOAD_BEFORE; after: $(load1) (incl. this script's own threads;" \
    "2 shared cores: noisy when the load before is > ~0.5)"
