#!/usr/bin/env bash
# scripts/device_check.sh OUTDIR — everything the CUDA backend must prove on a GPU, in one run
# that fits a 15-minute GPU slot (target: under 8 minutes on one H100).
#
# Steps (each with its own timeout, all under one deadline; a hang costs its step, not the run):
#   1. nvidia-smi                                      (10 s)   -> OUTDIR/nvidia-smi.log
#   2. build with CUDA: Release, LTX_CUDA_ARCHS=native when a GPU is visible (else 90),
#      all targets, -j nproc                           (<= 270 s) -> build.log
#      (needs the project's packages: pkg-config openblas libcjson fftw3f fftw3 libav*; missing
#      ones are named and the script stops with exit 3)
#   3. no GPU (nvidia-smi -L empty or `ltx2c info --device cuda` failing): say so, exit 2
#   4. ctest -L cuda -E '^verify_' (the op tests on cuda, f32 and bf16) (<= 120 s) -> ctest_cuda.log
#   5. ltx2c verify --device cuda: --precision f32 on every line of tests/golden/goldens.txt
#      (with its flags; "v12/" lines under tests/data/golden_v12 with --root); bf16 on every
#      line of tests/golden/goldens_bf16.txt (with its measured --tolerance-scale),
#      6 processes in parallel, 120 s each, the phase capped (<= 240 s) so that ~170 s remain
#                                                      -> verify/<name>.<prec>.log, verify.tsv
#   6. bench/transformer_block --device cuda (6144 and 24576 tokens, 48-block forward resident
#      and streaming prefetch 2)                       (<= 110 s) -> bench_block.log
#   7. python3 bench/torch_block.py (eager PyTorch bf16, same widths)  (<= 60 s) -> bench_torch.log
#   8. summary table (printed last; also OUTDIR/summary.txt)
# Exit status: 0 all passed, 1 something failed, 2 no GPU, 3 build prerequisites missing or the
# build failed.
# Bundle mode (the GPU image cannot build: no OpenBLAS/cJSON/FFTW/FFmpeg packages there): run
# scripts/device_bundle.sh on the dev machine first (creates devbundle/: the CLI, the op tests,
# the benchmark and their shared libraries); this script uses it by itself when the packages are
# missing and devbundle/ exists, or when LTX_DEVICE_BUNDLE=DIR is set. Step 2 is then skipped
# and step 4 runs every op test binary of the bundle on cuda in f32 and bf16 (77 = skipped).
# Environment: LTX_DEVICE_BUILD (build folder, default build-device), LTX_CUDA_ARCHS (override),
# LTX_DEVICE_DEADLINE_S (total budget, default 470), LTX_VERIFY_JOBS (default 6),
# LTX_DEVICE_BUNDLE (prebuilt bundle folder), LTX_DEVICE_SKIP_BUILD=1 (use LTX_DEVICE_BUILD as is).
set -u
OUT=${1:?usage: scripts/device_check.sh OUTDIR}
mkdir -p "$OUT/verify"
OUT=$(cd "$OUT" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LTX_DEVICE_BUILD:-$ROOT/build-device}
T0=$(date +%s)
DEADLINE=$((T0 + ${LTX_DEVICE_DEADLINE_S:-470}))
JOBS=${LTX_VERIFY_JOBS:-6}
export PATH=/usr/local/cuda/bin:$PATH
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
RC=0

note() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
left() { echo $((DEADLINE - $(date +%s))); }
# run_step NAME MAX_S RESERVE_S CMD...: runs CMD with timeout min(MAX_S, time left - RESERVE_S)
# (at least 5 s), output to OUT/NAME.log; sets STEP_RC and STEP_S.
run_step() {
    local name=$1 max=$2 reserve=$3
    shift 3
    local tmo=$(($(left) - reserve))
    [ "$tmo" -gt "$max" ] && tmo=$max
    [ "$tmo" -lt 5 ] && tmo=5
    local s=$(date +%s)
    timeout --kill-after=5 "$tmo" "$@" >"$OUT/$name.log" 2>&1
    STEP_RC=$?
    STEP_S=$(($(date +%s) - s))
    [ "$STEP_RC" -eq 124 ] && echo "(timed out after ${tmo} s)" >>"$OUT/$name.log"
}

echo "device_check: output in $OUT"
# ---- 1. GPU identity --------------------------------------------------------------------------
run_step nvidia-smi 10 0 nvidia-smi
GPU_LIST=$(nvidia-smi -L 2>/dev/null | grep -i gpu || true)
note "gpu: ${GPU_LIST:-none visible (nvidia-smi: rc $STEP_RC)}"

# ---- 2. build --------------------------------------------------------------------------------
BUNDLE=${LTX_DEVICE_BUNDLE:-}
missing=""
for m in openblas libcjson fftw3f fftw3 libavformat libavcodec libavutil libswscale libswresample; do
    pkg-config --exists "$m" 2>/dev/null || missing="$missing $m"
done
if [ -z "$BUNDLE" ] && [ -n "$missing" ] && [ "${LTX_DEVICE_SKIP_BUILD:-0}" != 1 ]; then
    if [ ! -x "$ROOT/devbundle/bin/ltx2c" ] && [ -f "$ROOT/devbundle.tar.xz" ]; then
        xz -dc "$ROOT/devbundle.tar.xz" | tar -C "$ROOT" -xf - # the carried archive form
    fi
    if [ -x "$ROOT/devbundle/bin/ltx2c" ]; then
        BUNDLE=$ROOT/devbundle
        note "build: prerequisites missing ($missing ) — using the prebuilt $BUNDLE"
    else
        note "build: FAILED — missing build prerequisites (pkg-config):$missing"
        note "       on the dev machine run scripts/device_bundle.sh (creates devbundle/) and retry"
        exit 3
    fi
fi
if [ -n "$BUNDLE" ]; then
    BUNDLE=$(cd "$BUNDLE" && pwd)
    export LD_LIBRARY_PATH=$BUNDLE/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    LTX2C=$BUNDLE/bin/ltx2c
    BENCH=$BUNDLE/bin/transformer_block
    note "build: skipped, prebuilt bundle $BUNDLE ($(head -2 "$BUNDLE/README" | tr '\n' ' '))"
    missing_libs=$(ldd "$LTX2C" 2>/dev/null | grep "not found" | awk '{print $1}' | tr '\n' ' ')
    [ -n "$missing_libs" ] && note "bundle: libraries not found on this machine: $missing_libs"
elif [ "${LTX_DEVICE_SKIP_BUILD:-0}" != 1 ]; then
    archs=${LTX_CUDA_ARCHS:-}
    [ -z "$archs" ] && { [ -n "$GPU_LIST" ] && archs=native || archs=90; }
    gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    [ -f "$BUILD/CMakeCache.txt" ] && gen=() # keep the generator of an existing build folder
    run_step build 270 150 bash -c "cmake -S '$ROOT' -B '$BUILD' ${gen[*]} \
        -DCMAKE_BUILD_TYPE=Release -DLTX_CUDA_ARCHS='$archs' && \
        cmake --build '$BUILD' -j $(nproc)"
    if [ "$STEP_RC" -ne 0 ]; then
        tail -30 "$OUT/build.log"
        note "build: FAILED (rc $STEP_RC, ${STEP_S} s; archs $archs) — see build.log"
        exit 3
    fi
    grep -q "CUDA backend ON" "$OUT/build.log" || {
        note "build: FAILED — CMake did not enable the CUDA backend (nvcc not found?)"
        exit 3
    }
    note "build: ok (${STEP_S} s, archs $archs)"
fi
if [ -z "$BUNDLE" ]; then
    LTX2C=$BUILD/ltx2c
    BENCH=$BUILD/bench/transformer_block
fi
export LTX_TEST_DATA=$ROOT/tests/data # the benchmark's data folder on this machine

# ---- 3. is there a usable GPU? ------------------------------------------------------------------
DEV=${LTX_DEVICE_CHECK_DEVICE:-cuda} # another device only for dry runs of this script
if ! "$LTX2C" info --device "$DEV" >"$OUT/info_cuda.log" 2>&1; then
    note "device_check: no usable CUDA GPU — $(grep -m1 -i 'cuda' "$OUT/info_cuda.log")"
    note "device_check: stopping after the build (nothing else can run without a GPU)"
    exit 2
fi
note "device: $(grep -m1 '^device:' "$OUT/info_cuda.log"); $(grep -m1 '^precision' "$OUT/info_cuda.log")"

# ---- 4. ctest -L cuda (bundle: the op test binaries on cuda in both precisions) ---------------
if [ -z "$BUNDLE" ]; then
    # the op tests (and any other non-replay cuda test); the replays are step 5's
    run_step ctest_cuda 120 330 ctest --test-dir "$BUILD" -L cuda -E '^verify_' \
        --output-on-failure --timeout 100 -j 4
    CT_LINE=$(grep -E "tests passed|No tests were found" "$OUT/ctest_cuda.log" | tail -1)
    note "ctest -L cuda: ${CT_LINE:-no summary} (rc $STEP_RC, ${STEP_S} s)"
    [ "$STEP_RC" -ne 0 ] && RC=1
else
    ops_run() {
        for t in "$BUNDLE"/bin/test_ops_*; do
            for p in f32 bf16; do
                LTX_TEST_DEVICE=cuda LTX_TEST_PRECISION=$p timeout 100 "$t" >"$OUT/$(basename "$t").$p.log" 2>&1
                echo "$(basename "$t") $p rc $?"
            done
        done
    }
    export -f ops_run
    export BUNDLE OUT
    run_step ctest_cuda 120 330 bash -c ops_run
    npass=$(grep -c " rc 0$" "$OUT/ctest_cuda.log")
    nall=$(wc -l <"$OUT/ctest_cuda.log")
    note "op tests on cuda (bundle): $npass/$nall passed (rc 77 = skipped)"
    grep -v " rc 0$" "$OUT/ctest_cuda.log" | sed 's/^/    FAIL /' | tee -a "$SUMMARY"
    [ "$npass" -ne "$nall" ] && RC=1
fi

# ---- 5. goldens in both precisions ------------------------------------------------------------
# f32: the lines of tests/golden/goldens.txt (file tolerances; "v12/..." = under
# tests/data/golden_v12, replayed with --root tests/data/golden); bf16: the lines of
# tests/golden/goldens_bf16.txt (each with its measured --tolerance-scale, docs/NUMERICS.md)
golden_lines() { # FILE -> "path|flag,flag" lines
    grep -v '^\s*#' "$1" | sed '/^\s*$/d' |
        while read -r f rest; do
            local p=$ROOT/tests/data/golden/$f extra=""
            case $f in v12/*) p=$ROOT/tests/data/golden_v12/${f#v12/}
                extra="--root $ROOT/tests/data/golden " ;; esac
            echo "$p|$(echo $extra$rest | tr ' ' ',')"
        done
}
LIST=$OUT/verify_list.txt
: >"$LIST"
golden_lines "$ROOT/tests/golden/goldens.txt" | sed 's/$/ f32/' >>"$LIST"
if [ -f "$ROOT/tests/golden/goldens_bf16.txt" ]; then
    golden_lines "$ROOT/tests/golden/goldens_bf16.txt" | sed 's/$/ bf16/' >>"$LIST"
else
    golden_lines "$ROOT/tests/golden/goldens.txt" | sed 's/$/ bf16/' >>"$LIST"
fi
verify_one() { # FILE|FLAG,FLAG PREC -> one line of verify.tsv
    local prec=$2 f=${1%%|*} flags=${1#*|}
    flags=${flags//,/ }
    local tag
    tag=$(echo "${f#$ROOT/tests/data/}${flags:+_$flags}" | tr '/ ' '__' | tr -cd 'A-Za-z0-9_.-')
    local s=$(date +%s)
    # shellcheck disable=SC2086
    timeout --kill-after=5 120 "$LTX2C" verify --device "$DEV" --precision "$prec" $flags "$f" \
        >"$OUT/verify/$tag.$prec.log" 2>&1
    local rc=$?
    printf '%s\t%s\t%s\t%s\n' "$tag" "$prec" "$rc" "$(($(date +%s) - s))"
}
export -f verify_one
export LTX2C OUT ROOT LD_LIBRARY_PATH DEV
VT=$(($(left) - 170)) # keep ~170 s for the benchmarks and the summary
[ "$VT" -gt 240 ] && VT=240
[ "$VT" -lt 30 ] && VT=30
: >"$OUT/verify.tsv"
timeout --kill-after=5 "$VT" xargs -P "$JOBS" -L 1 bash -c 'verify_one "$0" "$1"' <"$LIST" \
    >>"$OUT/verify.tsv" 2>"$OUT/verify_xargs.log"
for prec in f32 bf16; do
    total=$(grep -c " $prec\$" "$LIST")
    pass=$(awk -F'\t' -v p=$prec '$2==p && $3==0' "$OUT/verify.tsv" | wc -l)
    ran=$(awk -F'\t' -v p=$prec '$2==p' "$OUT/verify.tsv" | wc -l)
    note "verify --precision $prec: $pass/$total passed ($ran ran within the ${VT} s phase)"
    [ "$pass" -ne "$total" ] && RC=1
    awk -F'\t' -v p=$prec '$2==p && $3!=0 {printf "    FAIL %s (rc %s, %s s)\n", $1, $3, $4}' \
        "$OUT/verify.tsv" | head -40 | tee -a "$SUMMARY"
done

# ---- 6/7. benchmarks --------------------------------------------------------------------------
run_step bench_block 110 45 "$BENCH" --device cuda --reps 5
B_RC=$STEP_RC
grep -E "^(GPU|block|forward|peak|RESULT)" "$OUT/bench_block.log" >"$OUT/bench_block.short"
[ "$B_RC" -ne 0 ] && RC=1
run_step bench_torch 60 5 python3 "$ROOT/bench/torch_block.py" --tokens 6144,24576 --reps 10
T_RC=$STEP_RC

# ---- 8. summary -------------------------------------------------------------------------------
note ""
note "benchmarks (bench_block rc $B_RC, torch rc $T_RC; details bench_block.log / bench_torch.log):"
for tv in 6144 24576; do
    ours=$(awk -v t="tokens=$tv" '$1=="RESULT" && $2=="block" && $3==t' "$OUT/bench_block.log" |
        sed -n 's/.* ms=\([0-9.]*\).* tflops=\([0-9.]*\) mfu=\([0-9.]*\) syncs=\([0-9]*\) gemm_ms=\([0-9.]*\) attn_ms=\([0-9.]*\) other_ms=\([0-9.]*\).*/\1 \2 \3 \4 \5 \6 \7/p')
    torch=$(python3 -c "import json,sys
for l in open('$OUT/bench_torch.log'):
    try: d=json.loads(l)
    except Exception: continue
    if d.get('tokens')==$tv: print(d['ms_median'])" 2>/dev/null)
    if [ -n "$ours" ]; then
        set -- $ours
        ratio=$( [ -n "$torch" ] && python3 -c "print(f'{$torch/$1:.2f}')" || echo "n/a")
        note "  block $tv tok: ltx2c $1 ms, $2 TFLOP/s, MFU $(python3 -c "print(f'{100*$3:.1f}')")%, syncs/call $4, GEMM $5 / attn $6 / other $7 ms; torch ${torch:-n/a} ms; torch/ltx2c ${ratio}x (goal >= 1.3)"
    else
        note "  block $tv tok: no result (see bench_block.log)"
    fi
done
grep -E "^RESULT forward|^forward .*ratio" "$OUT/bench_block.log" | sed 's/^/  /' | tee -a "$SUMMARY"
note "total $(($(date +%s) - T0)) s; exit $RC"
echo
echo "==== device_check summary ($OUT) ===="
cat "$SUMMARY"
exit $RC
