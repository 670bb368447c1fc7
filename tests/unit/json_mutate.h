/*
 * json_mutate.h — deterministic JSON mutants for the config and golden-extra fuzz tests: a
 * fixed-seed generator (splitmix64) picks a node of a seed document and replaces it with an
 * edge value (1e30, 2^31, 2^53 + 1, -1, 1.5, a string, null, an empty or deep container...),
 * deletes or duplicates it, or mutates the printed text bytewise (flips, truncation, splices).
 * Header-only (static inline): each fuzz test is its own executable. No reference counterpart.
 */
#ifndef LTX_TEST_JSON_MUTATE_H
#define LTX_TEST_JSON_MUTATE_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t jm_state = 0x15c0ffee2026ull;

static inline uint64_t jm_rnd(void)
{
    uint64_t z = (jm_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline size_t jm_n(size_t n)
{
    return n ? (size_t)(jm_rnd() % n) : 0;
}

static const char *const JM_EDGES[] = {"0",
                                       "-1",
                                       "1",
                                       "2",
                                       "1.5",
                                       "-0.0",
                                       "1e30",
                                       "-1e30",
                                       "1e308",
                                       "-1e308",
                                       "1e-320",
                                       "2147483647",
                                       "2147483648",
                                       "-2147483649",
                                       "4294967297",
                                       "9007199254740993",
                                       "9223372036854775807",
                                       "18446744073709551616",
                                       "65536",
                                       "4096",
                                       "4097",
                                       "1048577",
                                       "\"\"",
                                       "\"x\"",
                                       "\"1\"",
                                       "\"float64\"",
                                       "\"split\"",
                                       "null",
                                       "true",
                                       "false",
                                       "[]",
                                       "{}",
                                       "[1e30]",
                                       "[0]",
                                       "[-1, 2]",
                                       "[[1, 3, 5], [1e30, 2, 3]]",
                                       "[\"a\", 1]",
                                       "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]",
                                       "{\"kind\": \"rel_to\"}",
                                       "{\"atol\": -1}",
                                       "{\"kind\": \"uint8_frac\", \"min_frac\": 2}"};

/* Every node of the tree in pre-order (the root first); returns the count (<= cap). */
static inline int jm_nodes(cJSON *n, cJSON **out, int cap, int k)
{
    if (k < cap) out[k++] = n;
    for (cJSON *c = n->child; c && k < cap; c = c->next)
        k = jm_nodes(c, out, cap, k);
    return k;
}

/* A mutant of `seed` (JSON text): malloc'd, NUL-terminated; never NULL. */
static inline char *jm_mutant(const char *seed)
{
    int op = (int)jm_n(10);
    if (op < 7) { /* structural */
        cJSON *root = cJSON_Parse(seed);
        static cJSON *nodes[1 << 16];
        int n = root ? jm_nodes(root, nodes, 1 << 16, 0) : 0;
        for (int rounds = 1 + (int)jm_n(3); root && rounds > 0; rounds--) {
            n = jm_nodes(root, nodes, 1 << 16, 0);
            if (n < 2) break;
            cJSON *t = nodes[1 + jm_n((size_t)(n - 1))];
            cJSON *rep = cJSON_Parse(JM_EDGES[jm_n(sizeof JM_EDGES / sizeof *JM_EDGES)]);
            cJSON *parent = NULL;
            for (int i = 0; i < n && !parent; i++)
                for (cJSON *c = nodes[i]->child; c; c = c->next)
                    if (c == t) parent = nodes[i];
            if (!parent || !rep) {
                cJSON_Delete(rep);
                continue;
            }
            if (op == 6) { /* delete */
                cJSON_Delete(rep);
                cJSON_Delete(cJSON_DetachItemViaPointer(parent, t));
            } else {
                if (t->string && cJSON_IsObject(parent)) {
                    char *k = malloc(strlen(t->string) + 1);
                    strcpy(k, t->string);
                    rep->string = k;
                }
                cJSON_ReplaceItemViaPointer(parent, t, rep);
            }
        }
        char *s = root ? cJSON_PrintUnformatted(root) : NULL;
        cJSON_Delete(root);
        if (s) return s;
    }
    /* bytewise on the text */
    size_t len = strlen(seed);
    char *s = malloc(len + 64);
    memcpy(s, seed, len + 1);
    if (op == 7 && len) { /* flips */
        static const char bytes[] = "{}[]\":,0-.e+\\ \x01\x7f\xff\x80"
                                    "Ee9";
        for (int k = 0; k < 1 + (int)jm_n(4); k++)
            s[jm_n(len)] = bytes[jm_n(sizeof bytes - 1)];
    } else if (op == 8) { /* truncation */
        s[jm_n(len + 1)] = 0;
    } else { /* splice: a chunk of the seed copied over another place */
        size_t a = jm_n(len), b = jm_n(len), n = jm_n(48);
        if (a + n > len) n = len - a;
        if (b + n > len) n = len - b;
        memmove(s + b, seed + a, n);
    }
    return s;
}

#endif
