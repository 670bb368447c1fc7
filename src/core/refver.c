/*
 * refver.c — names of the reference versions (ltx.h ltx_reference_version_parse / _name) and
 * the golden reference_commit mapping. See refver.h.
 */
#include "core/refver.h"

#include <string.h>

static bool starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

int ltx_reference_version_parse(const char *text, ltx_reference_version *out)
{
    if (!text || !out) return -1;
    if (!strcmp(text, "1.2") || !strcmp(text, "400fd31")) {
        *out = LTX_REFERENCE_1_2;
        return 0;
    }
    if (!strcmp(text, "2026-04") || !strcmp(text, "a2c3f24")) {
        *out = LTX_REFERENCE_2026_04;
        return 0;
    }
    return -1;
}

const char *ltx_reference_version_name(ltx_reference_version v)
{
    switch (v) {
    case LTX_REFERENCE_1_2:
        return "1.2";
    case LTX_REFERENCE_2026_04:
        return "2026-04";
    default:
        return "default";
    }
}

ltx_reference_version ltx_refver_from_commit(const char *commit)
{
    if (!commit || strlen(commit) < 7) return LTX_REFERENCE_DEFAULT;
    if (starts_with(commit, "400fd31")) return LTX_REFERENCE_1_2;
    if (starts_with(commit, "a2c3f24")) return LTX_REFERENCE_2026_04;
    return LTX_REFERENCE_DEFAULT;
}
