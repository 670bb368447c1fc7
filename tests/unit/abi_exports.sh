#!/bin/sh
# abi_exports.sh CC HEADER LIBRARY — the shared library's export set is exactly the public
# header's functions (ctest abi_exports, label unit):
#   - every function declared in HEADER carries LTX_API;
#   - every LTX_API function is a defined dynamic symbol of LIBRARY (nm -D --defined-only);
#   - LIBRARY defines no other dynamic symbol (functions or data): internals stay hidden
#     (-fvisibility=hidden) and static archives linked into it too (--exclude-libs).
# The header is read through the C preprocessor (comments gone, LTX_API kept as a marker,
# only the lines of HEADER itself, not of the system headers it includes). Then the check runs
# once more on a copy of HEADER with one extra LTX_API declaration the library cannot have, and
# must fail there: the comparison is shown to catch a missing export.
cc=$1 hdr=$2 lib=$3
tmp=$(mktemp -d /tmp/ltx_abi.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

# check HEADER: prints what differs; exit 0 when the sets agree
check() {
    "$cc" -E -DLTX_API=__ltx_api__ "$1" >"$tmp/pp" || { echo "FAIL: cannot preprocess $1"; return 1; }
    base=$(basename "$1")
    # keep the header's own lines (linemarkers name the file), one declaration per line
    awk -v b="\"$base\"" '/^# [0-9]+ "/ { keep = (index($0, "/" substr(b, 2)) > 0 || index($0, b) > 0); next }
                          keep' "$tmp/pp" | tr '\n' ' ' | tr ';' '\n' | sed 's/^[ }]*//' >"$tmp/stmts"
    # function declarations: a '(' and not a typedef; the name is the identifier before '('
    grep '(' "$tmp/stmts" | grep -v '^typedef' >"$tmp/funcs" || true
    sed -E 's/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*) *\(.*/\2/' "$tmp/funcs" | sort -u >"$tmp/declared"
    grep '__ltx_api__' "$tmp/funcs" |
        sed -E 's/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*) *\(.*/\2/' | sort -u >"$tmp/marked"
    nm -D --defined-only "$lib" | awk '{ print $NF }' | sort -u >"$tmp/exported"
    bad=0
    n=$(wc -l <"$tmp/declared")
    [ "$n" -gt 0 ] || { echo "FAIL: no function declarations found in $1"; bad=1; }
    for f in $(comm -23 "$tmp/declared" "$tmp/marked"); do
        echo "declared in $base without LTX_API: $f"; bad=1
    done
    for f in $(comm -23 "$tmp/marked" "$tmp/exported"); do
        echo "in $base but not exported by $(basename "$lib"): $f"; bad=1
    done
    for f in $(comm -13 "$tmp/marked" "$tmp/exported"); do
        echo "exported by $(basename "$lib") but not in $base: $f"; bad=1
    done
    echo "$base: $n function(s), $(wc -l <"$tmp/marked") marked LTX_API;" \
        "$(basename "$lib"): $(wc -l <"$tmp/exported") dynamic symbol(s)"
    return $bad
}

rc=0
check "$hdr" || { echo "FAIL: export set differs from $hdr"; rc=1; }
# negative control: a header declaring one function the library does not define must fail
mkdir "$tmp/neg"
sed 's|^#ifdef __cplusplus$|LTX_API int ltx_abi_check_absent(void);\n#ifdef __cplusplus|' "$hdr" \
    >"$tmp/neg/ltx.h"
grep -q ltx_abi_check_absent "$tmp/neg/ltx.h" || { echo "FAIL: could not build the control"; rc=1; }
if check "$tmp/neg/ltx.h" >"$tmp/neg.log"; then
    cat "$tmp/neg.log"
    echo "FAIL: the check passed a header with an unexported function"
    rc=1
else
    grep -q "not exported by .*: ltx_abi_check_absent" "$tmp/neg.log" ||
        { cat "$tmp/neg.log"; echo "FAIL: control failed for another reason"; rc=1; }
fi
[ $rc -eq 0 ] && echo "ok: the export set of $(basename "$lib") is exactly $(basename "$hdr")'s functions"
exit $rc
