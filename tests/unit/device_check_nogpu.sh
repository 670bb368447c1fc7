#!/bin/sh
# device_check_nogpu.sh BUILD_DIR SOURCE_DIR — scripts/device_check.sh on a machine without a
# GPU must stop right after the build step with exit 2 and say why (ctest: label unit). On a
# machine with a GPU this check does not apply and reports "skipped" (exit 77, ctest's
# SKIP_RETURN_CODE), never "passed". The build step is skipped (LTX_DEVICE_SKIP_BUILD=1): ctest
# runs inside the build folder that step would rebuild.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then
    echo "a GPU is present: the no-GPU path of device_check.sh does not apply"
    exit 77
fi
out=$(mktemp -d /tmp/ltx_devcheck.XXXXXX) || exit 1
LTX_DEVICE_BUILD="$1" LTX_DEVICE_SKIP_BUILD=1 "$2/scripts/device_check.sh" "$out/o" >"$out/log" 2>&1
rc=$?
cat "$out/log"
ok=0
[ "$rc" -eq 2 ] || { echo "FAIL: exit $rc, want 2"; ok=1; }
grep -q "no usable CUDA GPU" "$out/log" || { echo "FAIL: no 'no usable CUDA GPU' message"; ok=1; }
grep -q "stopping after the build" "$out/log" || { echo "FAIL: did not stop after the build"; ok=1; }
[ -f "$out/o/summary.txt" ] || { echo "FAIL: no summary.txt in OUTDIR"; ok=1; }
rm -rf "$out"
exit $ok
