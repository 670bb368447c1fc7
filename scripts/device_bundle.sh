#!/usr/bin/env bash
# scripts/device_bundle.sh [DIR] — prebuilt CUDA binaries for a GPU machine that cannot build
# the project (its image lacks the Debian packages scripts/setup.sh installs: OpenBLAS, cJSON,
# FFTW, FFmpeg). Builds here (CUDA for sm_90 by default, LTX_NATIVE=OFF so no host-CPU-specific
# instructions) the CLI, the CUDA op tests and the block benchmark, and copies them with every
# shared library they load except the C runtime and the CUDA libraries the GPU image has
# (libcuda, libcudart, libcublasLt) into DIR (default devbundle/, untracked — it travels with
# the working tree to the device machine). Then, there:
#     LTX_DEVICE_BUNDLE=devbundle scripts/device_check.sh OUTDIR
# With LTX_BUNDLE_TAR=1 also DIR.tar.xz (~57 MB for ~217 MB; xz takes minutes on 2 cores):
# small enough for `run`'s carry when the untracked folder should not travel.
# Environment: LTX_CUDA_ARCHS (default 90), LTX_BUNDLE_BUILD (default build-bundle), JOBS,
# LTX_BUNDLE_TAR.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-$ROOT/devbundle}
BUILD=${LTX_BUNDLE_BUILD:-$ROOT/build-bundle}
export PATH=/usr/local/cuda/bin:$PATH
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLTX_NATIVE=OFF \
    -DLTX_CUDA_ARCHS="${LTX_CUDA_ARCHS:-90}" >/dev/null
grep -q "LTX_HAVE_CUDA" "$BUILD/CMakeCache.txt" 2>/dev/null || true
targets="ltx2c bench_transformer_block"
for f in "$ROOT"/tests/ops/test_*.c; do targets="$targets $(basename "$f" .c)"; done
cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" --target $targets
rm -rf "$DIR"
mkdir -p "$DIR/bin" "$DIR/lib"
cp "$BUILD/ltx2c" "$BUILD/bench/transformer_block" "$DIR/bin/"
for f in "$ROOT"/tests/ops/test_*.c; do cp "$BUILD/tests/$(basename "$f" .c)" "$DIR/bin/"; done
strip "$DIR"/bin/* 2>/dev/null || true
# shared libraries: everything ldd resolves, minus the C runtime and the CUDA libraries
for b in "$DIR"/bin/*; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+|ld-linux[^/]*|libcuda|libcudart|libcublas|libcublasLt)\.so' |
    while read -r l; do cp -L "$l" "$DIR/lib/"; done
cat >"$DIR/README" <<EOF
Prebuilt by scripts/device_bundle.sh on $(hostname) at $(date -u +%FT%TZ) from
$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) (CUDA archs ${LTX_CUDA_ARCHS:-90}).
Use: LTX_DEVICE_BUNDLE=$(basename "$DIR") scripts/device_check.sh OUTDIR
EOF
echo "bundle: $DIR ($(du -sh "$DIR" | cut -f1): $(ls "$DIR/bin" | wc -l) programs, $(ls "$DIR/lib" | wc -l) libraries)"
if [ "${LTX_BUNDLE_TAR:-0}" = 1 ]; then
    tar -C "$(dirname "$DIR")" -cf - "$(basename "$DIR")" | xz -T0 -6 >"$DIR.tar.xz"
    echo "bundle archive: $DIR.tar.xz ($(du -sh "$DIR.tar.xz" | cut -f1))"
fi
