#!/bin/sh
# check_symbols.sh NM ARCHIVE... — every global symbol that libltx (and the project's other
# internal static libraries, e.g. libltx_golden.a) defines carries the library's prefix `ltx_` (or
# `LTX_`), so an embedder linking libltx.a next to FFmpeg, OpenBLAS, cJSON or their own code meets
# no name clash (issue 13, "Exports"). Runs `nm -g --defined-only` over each archive (CUDA objects
# included when the backend is built) and fails listing every offender with its object file. A
# function used in one file only should be `static` instead; a CUDA `__global__` kernel launched
# from its own .cu file should be `static __global__`.
#
# Allowed exceptions (exact names, with the reason):
#   DW.ref.__gxx_personality_v0  weak hidden pointer to the C++ exception personality routine,
#                                emitted by the host compiler in every nvcc-compiled .cu object
#                                (not a name our code defines; it never clashes: weak, COMDAT).
nm_bin=${1:-nm}
[ $# -ge 2 ] || { echo "check_symbols: usage: check_symbols.sh NM ARCHIVE..."; exit 1; }
shift
status=0
for lib in "$@"; do
    if [ ! -f "$lib" ]; then
        echo "check_symbols: '$lib' is not a file"
        status=1
        continue
    fi
    list=$("$nm_bin" -g --defined-only -A "$lib") || { echo "check_symbols: $nm_bin failed on $lib"; exit 1; }
    bad=$(printf '%s\n' "$list" | awk 'NF >= 3 {
            name = $NF; obj = $1; sub(/:[0-9a-fA-F]*$/, "", obj); sub(/^.*:/, "", obj)
            if (name ~ /^(ltx_|LTX_)/) next
            if (name == "DW.ref.__gxx_personality_v0") next
            printf "  %-40s %s %s\n", name, $(NF-1), obj
        }' | sort -u)
    total=$(printf '%s\n' "$list" | awk 'NF >= 3' | wc -l)
    if [ -n "$bad" ]; then
        n=$(printf '%s\n' "$bad" | wc -l)
        echo "FAIL: $n global symbol(s) in $lib without the ltx_ prefix (of $total global definitions):"
        printf '%s\n' "$bad"
        echo "prefix them ltx_, or make them static when only their own file uses them"
        status=1
    else
        echo "ok: all $total global definitions in $lib start with ltx_/LTX_ (allowed: DW.ref.__gxx_personality_v0)"
    fi
done
exit $status
