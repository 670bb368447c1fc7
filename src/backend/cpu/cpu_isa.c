/*
 * cpu_isa.c — detection of the CPU kernel level and the LTX_CPU_ISA override (cpu_isa.h).
 * No reference counterpart.
 */
#include "backend/cpu/cpu_isa.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cpu_isa detected = CPU_ISA_SCALAR;
static atomic_int active = CPU_ISA_SCALAR;
static char env_note[96] = "LTX_CPU_ISA unset";

static const char *NAMES[CPU_ISA_COUNT] = {"scalar", "avx2", "avx512"};

static cpu_isa probe(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                __builtin_cpu_supports("f16c");
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni");
    return avx512 ? CPU_ISA_AVX512 : avx2 ? CPU_ISA_AVX2 : CPU_ISA_SCALAR;
#else
    return CPU_ISA_SCALAR;
#endif
}

static void init(void)
{
    detected = probe();
    cpu_isa use = detected;
    const char *env = getenv("LTX_CPU_ISA");
    if (env && *env) {
        int want = -1;
        for (int i = 0; i < CPU_ISA_COUNT; i++)
            if (!strcmp(env, NAMES[i])) want = i;
        if (want < 0)
            fprintf(stderr, "ltx: LTX_CPU_ISA='%s' is not one of scalar|avx2|avx512; using %s\n",
                    env, NAMES[detected]);
        else if (want > (int)detected)
            fprintf(stderr, "ltx: LTX_CPU_ISA='%s' is not supported by this CPU; using %s\n", env,
                    NAMES[detected]);
        else
            use = (cpu_isa)want;
        snprintf(env_note, sizeof env_note, "LTX_CPU_ISA=%s", env);
    }
    atomic_store(&active, (int)use);
}

cpu_isa ltx_cpu_isa_detected(void)
{
    pthread_once(&once, init);
    return detected;
}

cpu_isa ltx_cpu_isa_active(void)
{
    pthread_once(&once, init);
    return (cpu_isa)atomic_load_explicit(&active, memory_order_relaxed);
}

bool ltx_cpu_isa_set(cpu_isa isa)
{
    pthread_once(&once, init);
    if ((int)isa < 0 || isa >= CPU_ISA_COUNT || isa > detected) return false;
    atomic_store(&active, (int)isa);
    return true;
}

const char *ltx_cpu_isa_name(cpu_isa isa)
{
    return (int)isa >= 0 && isa < CPU_ISA_COUNT ? NAMES[isa] : "?";
}

const char *ltx_cpu_isa_describe(char *buf, size_t cap)
{
    static const char *FEAT[CPU_ISA_COUNT] = {"portable C", "avx2/fma/f16c",
                                              "avx512f/bw/vl/dq/bf16/vnni"};
    cpu_isa a = ltx_cpu_isa_active(), d = ltx_cpu_isa_detected();
    snprintf(buf, cap, "%s (detected %s: %s; %s)", NAMES[a], NAMES[d], FEAT[d], env_note);
    return buf;
}
