/*
 * cpu_isa.h — run-time choice of the CPU kernel set: AVX-512 (F/BW/VL + BF16 + VNNI), AVX2+FMA
 * (+F16C), or portable C ("scalar").
 *
 * The best level this CPU supports is detected once (cpuid through __builtin_cpu_supports); the
 * environment variable LTX_CPU_ISA=avx512|avx2|scalar lowers it (a level the CPU lacks is
 * refused with a warning on stderr and the detected one is kept). Kernels for each level are
 * compiled with function-level target attributes, so a binary built without -march=native still
 * carries the AVX-512 kernels and runs them only where cpuid says they exist.
 * Tests may switch the active level at run time (ltx_cpu_isa_set) to run every path this CPU has
 * and compare it against the scalar reference; the engine never does. No reference counterpart (cf.
 * ggml's cpu feature probing in ggml-cpu.c).
 */
#ifndef LTX_CPU_ISA_H
#define LTX_CPU_ISA_H

#include <stdbool.h>
#include <stddef.h>

typedef enum cpu_isa {
    CPU_ISA_SCALAR = 0, /* portable C (the reference each SIMD path is tested against) */
    CPU_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
    CPU_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ + BF16 (vdpbf16ps) + VNNI (vpdpbusd/vpdpwssd) */
    CPU_ISA_COUNT
} cpu_isa;

/* Best level this CPU supports (cpuid; computed once, thread-safe). */
cpu_isa ltx_cpu_isa_detected(void);
/* Level the kernels use now: detected, lowered by LTX_CPU_ISA (read once), or set by tests. */
cpu_isa ltx_cpu_isa_active(void);
/* Tests only: use `isa` from now on. Returns false (and changes nothing) if the CPU lacks it.
 * Not synchronised with running kernels: call between operations. */
bool ltx_cpu_isa_set(cpu_isa isa);
/* "scalar", "avx2", "avx512". */
const char *ltx_cpu_isa_name(cpu_isa isa);
/* One line for `ltx2c info`, e.g. "avx512 (detected avx512: avx512f/bw/vl/dq/bf16/vnni;
 * LTX_CPU_ISA unset)"; writes into buf (cap bytes) and returns buf. */
const char *ltx_cpu_isa_describe(char *buf, size_t cap);

#endif
