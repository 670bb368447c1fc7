/*
 * harness.h — the test harness: CHECK / CHECK_CLOSE, a registry of test functions, and a main
 * that runs them all and exits non-zero on any failure. Independent of assert()/NDEBUG.
 *
 * Usage in a test file:
 *   #include "harness.h"
 *   TEST(conversions_bf16) { CHECK(ltx_f32_to_bf16(1.0f) == 0x3f80); }
 *   ...
 *   TEST_MAIN()
 */
#ifndef LTX_TEST_HARNESS_H
#define LTX_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
typedef struct { const char *name; test_fn fn; } test_entry;

#define TEST_MAX 512
extern test_entry g_tests[TEST_MAX];
extern int g_ntests, g_failures, g_checks;

#define TEST(name)                                                                              \
    static void test_##name(void);                                                              \
    __attribute__((constructor)) static void reg_##name(void)                                  \
    {                                                                                           \
        if (g_ntests < TEST_MAX) g_tests[g_ntests++] = (test_entry){#name, test_##name};        \
    }                                                                                           \
    static void test_##name(void)

#define CHECK(cond)                                                                             \
    do {                                                                                        \
        g_checks++;                                                                             \
        if (!(cond)) {                                                                          \
            g_failures++;                                                                       \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                   \
        }                                                                                       \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                    \
    do {                                                                                        \
        g_checks++;                                                                             \
        if (!(cond)) {                                                                          \
            g_failures++;                                                                       \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                   \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fprintf(stderr, "\n");                                                              \
        }                                                                                       \
    } while (0)

#define CHECK_CLOSE(a, b, atol, rtol)                                                           \
    do {                                                                                        \
        double ca_ = (double)(a), cb_ = (double)(b);                                            \
        g_checks++;                                                                             \
        if (!(fabs(ca_ - cb_) <= (atol) + (rtol)*fabs(cb_))) {                                  \
            g_failures++;                                                                       \
            fprintf(stderr, "  FAIL %s:%d: %s = %.9g vs %s = %.9g\n", __FILE__, __LINE__, #a,   \
                    ca_, #b, cb_);                                                              \
        }                                                                                       \
    } while (0)

#define TEST_MAIN()                                                                             \
    test_entry g_tests[TEST_MAX];                                                               \
    int g_ntests, g_failures, g_checks;                                                         \
    int main(int argc, char **argv)                                                             \
    {                                                                                           \
        int ran = 0;                                                                            \
        for (int i = 0; i < g_ntests; i++) {                                                    \
            if (argc > 1 && !strstr(g_tests[i].name, argv[1])) continue;                        \
            int before = g_failures;                                                            \
            g_tests[i].fn();                                                                    \
            ran++;                                                                              \
            printf("%s %s\n", g_failures == before ? "ok  " : "FAIL", g_tests[i].name);         \
        }                                                                                       \
        printf("%d tests, %d checks, %d failures\n", ran, g_checks, g_failures);                \
        return (g_failures || ran == 0) ? 1 : 0;                                                \
    }

/* Path of the repository's golden data folder (set by CMake). */
#ifndef LTX_TEST_DATA
#define LTX_TEST_DATA "tests/data"
#endif

#endif
