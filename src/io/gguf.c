/*
 * gguf.c — GGUF (version 3, little-endian) reader behind the safetensors tensor-source
 * interface: a GGUF file opens through ltx_st_open / ltx_st_open_memory / ltx_st_open_dir like a
 * .safetensors file, and its tensors appear as ltx_st_entry (mapped, zero-copy) with PyTorch
 * dimension order and this library's names.
 *
 * Layout (ref: ggml docs/gguf.md): "GGUF", u32 version, u64 tensor count, u64 KV count; KVs
 * (string key, u32 type, value; strings are u64 length + bytes; arrays u32 type + u64 count +
 * values); tensor infos (string name, u32 n_dims, u64 ne[n_dims] innermost first, u32 ggml type,
 * u64 offset from the data section); padding to general.alignment (default 32); data.
 * Every count, length, dim and offset is checked against the bytes that remain, with checked
 * multiplication; a bad file gives LTX_ERR_FORMAT naming the file (and the tensor or key) and
 * nothing is exposed unless the whole file validated.
 *
 * Conventions applied while reading:
 *   - ne[] is reversed into PyTorch order; `comfy.gguf.orig_shape.<name>` (ComfyUI-GGUF, PyTorch
 *     order) replaces the shape when it has the same element count and whole blocks per row.
 *   - LTX transformer files (ComfyUI-GGUF): names without `model.diffusion_model.` get it when
 *     the file holds transformer blocks and no other component prefix.
 *   - Gemma 3 files in llama.cpp naming (general.architecture = "gemma3") are renamed to the
 *     Hugging Face names (`blk.N.attn_q.weight` -> `model.layers.N.self_attn.q_proj.weight`, ...),
 *     and their RMSNorm weights, stored with the +1 of Gemma's (1 + w) already added, are
 *     converted to f32 with 1 subtracted (kept in memory the file owns).
 *   - KVs become string metadata: strings as they are, numbers as decimal text, arrays of up
 *     to 64 numbers as "[a,b,...]"; longer arrays (tokenizer vocabularies) are skipped.
 * Deliberately not done: big-endian files (version bytes swapped -> refused), GGUF v1/v2, the
 * i-quants and other ggml types (refused by id), reading the tokenizer out of the file.
 */
#include "io/gguf.h"
#include "io/st_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_MAX_DEPTH 4          /* nested arrays */
#define GGUF_MAX_NAME  (1u << 16) /* tensor names / keys: far above any real one */
#define LTX_PREFIX     "model.diffusion_model."

enum { /* GGUF metadata value types */
       GV_U8,
       GV_I8,
       GV_U16,
       GV_I16,
       GV_U32,
       GV_I32,
       GV_F32,
       GV_BOOL,
       GV_STRING,
       GV_ARRAY,
       GV_U64,
       GV_I64,
       GV_F64,
       GV_COUNT
};

/* ggml type id -> dtype (LTX_DTYPE_COUNT = not supported). ref: ggml.h enum ggml_type. */
static ltx_dtype ggml_type(uint32_t id)
{
    switch (id) {
    case 0:
        return LTX_F32;
    case 1:
        return LTX_F16;
    case 2:
        return LTX_Q4_0;
    case 3:
        return LTX_Q4_1;
    case 6:
        return LTX_Q5_0;
    case 7:
        return LTX_Q5_1;
    case 8:
        return LTX_Q8_0;
    case 10:
        return LTX_Q2_K;
    case 11:
        return LTX_Q3_K;
    case 12:
        return LTX_Q4_K;
    case 13:
        return LTX_Q5_K;
    case 14:
        return LTX_Q6_K;
    case 26:
        return LTX_I32;
    case 27:
        return LTX_I64;
    case 28:
        return LTX_F64;
    case 30:
        return LTX_BF16;
    default:
        return LTX_DTYPE_COUNT;
    }
}

/* Bounds-checked reading position in the file's bytes. */
typedef struct cur {
    const uint8_t *p;
    size_t size, pos;
    const char *label;
} cur;

static bool take(cur *c, size_t n, const uint8_t **out)
{
    if (n > c->size - c->pos) return false;
    *out = c->p + c->pos;
    c->pos += n;
    return true;
}

static bool rd_u32(cur *c, uint32_t *v)
{
    const uint8_t *b;
    if (!take(c, 4, &b)) return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

static bool rd_u64(cur *c, uint64_t *v)
{
    uint32_t lo, hi;
    if (!rd_u32(c, &lo) || !rd_u32(c, &hi)) return false;
    *v = (uint64_t)hi << 32 | lo;
    return true;
}

/* A string: pointer into the file + length (not NUL-terminated). */
static bool rd_str(cur *c, const char **s, size_t *n)
{
    uint64_t len;
    const uint8_t *b;
    if (!rd_u64(c, &len) || len > GGUF_MAX_NAME * 256ull || !take(c, (size_t)len, &b)) return false;
    *s = (const char *)b;
    *n = (size_t)len;
    return true;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static size_t scalar_size(uint32_t t)
{
    static const unsigned char sz[GV_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GV_COUNT ? sz[t] : 0;
}

/* Scalar value of type t at b as text into buf. */
static void scalar_text(uint32_t t, const uint8_t *b, char *buf, size_t cap)
{
    uint64_t u = 0;
    for (size_t i = scalar_size(t); i-- > 0;)
        u = u << 8 | b[i];
    switch (t) {
    case GV_I8:
        snprintf(buf, cap, "%d", (int)(int8_t)u);
        break;
    case GV_I16:
        snprintf(buf, cap, "%d", (int)(int16_t)u);
        break;
    case GV_I32:
        snprintf(buf, cap, "%d", (int)(int32_t)u);
        break;
    case GV_I64:
        snprintf(buf, cap, "%lld", (long long)(int64_t)u);
        break;
    case GV_BOOL:
        snprintf(buf, cap, "%s", u ? "true" : "false");
        break;
    case GV_F32: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        snprintf(buf, cap, "%.9g", (double)f);
        break;
    }
    case GV_F64: {
        double d;
        memcpy(&d, &u, 8);
        snprintf(buf, cap, "%.17g", d);
        break;
    }
    default:
        snprintf(buf, cap, "%llu", (unsigned long long)u);
        break;
    }
}

/* Skips (or, when text != NULL and the array is short and numeric, renders) one value. */
static bool rd_value(cur *c, uint32_t t, int depth, char *text, size_t cap)
{
    if (t == GV_STRING) {
        const char *s;
        size_t n;
        if (!rd_str(c, &s, &n)) return false;
        if (text) snprintf(text, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
        return true;
    }
    if (t == GV_ARRAY) {
        uint32_t et;
        uint64_t cnt;
        if (depth >= GGUF_MAX_DEPTH || !rd_u32(c, &et) || !rd_u64(c, &cnt)) return false;
        size_t es = scalar_size(et);
        if (et >= GV_COUNT) return false;
        if (es) { /* fixed-size elements: one bounds check for the whole array */
            const uint8_t *b;
            if (cnt > (c->size - c->pos) / es || !take(c, (size_t)(cnt * es), &b)) return false;
            if (text && cnt <= 64) {
                size_t o = (size_t)snprintf(text, cap, "[");
                for (uint64_t i = 0; i < cnt && o < cap; i++) {
                    char v[40];
                    scalar_text(et, b + i * es, v, sizeof v);
                    o += (size_t)snprintf(text + o, cap - o, "%s%s", i ? "," : "", v);
                }
                if (o < cap) snprintf(text + o, cap - o, "]");
            }
            return true;
        }
        if (cnt > c->size - c->pos) return false; /* every element takes at least 8 bytes */
        for (uint64_t i = 0; i < cnt; i++)
            if (!rd_value(c, et, depth + 1, NULL, 0)) return false;
        return true;
    }
    const uint8_t *b;
    size_t es = scalar_size(t);
    if (!es || !take(c, es, &b)) return false;
    if (text) scalar_text(t, b, text, cap);
    return true;
}

/* One parsed tensor info before it becomes an entry. */
typedef struct tinfo {
    char *name;
    uint32_t type;
    int ndim;
    int64_t shape[LTX_MAX_DIMS]; /* PyTorch order */
    uint64_t offset;
} tinfo;

typedef struct gguf_meta {
    uint32_t alignment;
    char arch[64];
    char **okeys, **ovals; /* comfy.gguf.orig_shape.* (name, "[...]") */
    int norig;
} gguf_meta;

static ltx_status kv_section(ltx_st_file *f, cur *c, uint64_t nkv, gguf_meta *m)
{
    const char *L = c->label;
    char *text = malloc(4096);
    if (!text) return ltx_err(LTX_ERR_OOM, "%s: out of memory", L);
    ltx_status st = LTX_OK;
    for (uint64_t i = 0; i < nkv && st == LTX_OK; i++) {
        const char *k;
        size_t kn;
        uint32_t t;
        if (!rd_str(c, &k, &kn) || kn > GGUF_MAX_NAME || !rd_u32(c, &t)) {
            st = ltx_err(LTX_ERR_FORMAT, "%s: metadata entry %llu is truncated", L,
                         (unsigned long long)i);
            break;
        }
        char *key = dupn(k, kn);
        text[0] = 0;
        if (key && t == GV_STRING) { /* whole string (a config JSON can be long) */
            const char *s;
            size_t n;
            char *v = rd_str(c, &s, &n) ? dupn(s, n) : NULL;
            st = v ? ltx_st_push_meta(f, key, v)
                   : ltx_err(LTX_ERR_FORMAT, "%s: metadata '%.200s': truncated string", L, key);
            if (st == LTX_OK && !strcmp(key, "general.architecture"))
                snprintf(m->arch, sizeof m->arch, "%s", v);
            free(v);
            free(key);
            continue;
        }
        if (!key) {
            st = ltx_err(LTX_ERR_OOM, "%s: out of memory", L);
        } else if (t >= GV_COUNT || !rd_value(c, t, 0, text, 4096)) {
            st = ltx_err(LTX_ERR_FORMAT, "%s: metadata '%.200s': bad type %u or truncated value", L,
                         key, t);
        } else if (!strcmp(key, "general.alignment")) {
            unsigned long a = strtoul(text, NULL, 10);
            if (t != GV_U32 || a == 0 || (a & (a - 1)) || a > 65536)
                st = ltx_err(LTX_ERR_FORMAT, "%s: general.alignment %s is not a power of two", L,
                             text);
            m->alignment = (uint32_t)a;
        }
        if (st == LTX_OK && key && !strncmp(key, "comfy.gguf.orig_shape.", 22) && text[0] == '[') {
            char **nk = realloc(m->okeys, sizeof *nk * (size_t)(m->norig + 1));
            char **nv = nk ? realloc(m->ovals, sizeof *nv * (size_t)(m->norig + 1)) : NULL;
            if (nk) m->okeys = nk;
            if (nv) m->ovals = nv;
            char *v = nv ? dupn(text, strlen(text)) : NULL;
            char *kk = v ? dupn(key + 22, strlen(key + 22)) : NULL;
            if (!kk) {
                free(v);
                st = ltx_err(LTX_ERR_OOM, "%s: out of memory", L);
            } else {
                m->okeys[m->norig] = kk;
                m->ovals[m->norig++] = v;
            }
        }
        if (st == LTX_OK && key && text[0]) st = ltx_st_push_meta(f, key, text);
        free(key);
    }
    free(text);
    return st;
}

/* Tensor info i: name, dims (reversed to PyTorch order, overflow-checked), type, offset. */
static ltx_status tensor_info(cur *c, uint64_t i, uint32_t align, tinfo *ti)
{
    const char *L = c->label, *s;
    size_t n;
    uint32_t nd;
    if (!rd_str(c, &s, &n) || n > GGUF_MAX_NAME || !rd_u32(c, &nd))
        return ltx_err(LTX_ERR_FORMAT, "%s: tensor info %llu is truncated", L,
                       (unsigned long long)i);
    ti->name = dupn(s, n);
    if (!ti->name) return ltx_err(LTX_ERR_OOM, "%s: out of memory", L);
    if (nd > LTX_MAX_DIMS)
        return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': %u dims (at most %d)", L, ti->name, nd,
                       LTX_MAX_DIMS);
    ti->ndim = (int)nd;
    int64_t numel = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t v;
        if (!rd_u64(c, &v))
            return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': dims truncated", L, ti->name);
        if (v > (uint64_t)INT64_MAX || __builtin_mul_overflow(numel, (int64_t)v, &numel))
            return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': element count overflows", L,
                           ti->name);
        ti->shape[nd - 1 - d] = (int64_t)v;
    }
    if (!rd_u32(c, &ti->type) || !rd_u64(c, &ti->offset))
        return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': info truncated", L, ti->name);
    if (ggml_type(ti->type) == LTX_DTYPE_COUNT)
        return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': ggml type %u is not supported", L,
                       ti->name, ti->type);
    if (ti->offset % align)
        return ltx_err(LTX_ERR_FORMAT,
                       "%s: tensor '%.200s': offset %llu is not a multiple of the alignment %u", L,
                       ti->name, (unsigned long long)ti->offset, align);
    return LTX_OK;
}

/* ---- naming --------------------------------------------------------------------------------- */

/* llama.cpp Gemma 3 names -> Hugging Face names ("model."-prefixed). ref: llama.cpp
 * gguf-py/gguf/tensor_mapping.py (the gemma3 rows). */
static const char *const GEMMA_MAP[][2] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_q_norm.weight", "self_attn.q_norm.weight"},
    {"attn_k_norm.weight", "self_attn.k_norm.weight"},
    {"post_attention_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_norm.weight", "pre_feedforward_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
    {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
};

/* HF name for a llama.cpp gemma3 name into out; *is_norm for the (+1)-stored norm weights.
 * Names it does not know (vision tower, ...) stay as they are. */
static void gemma_name(const char *in, char *out, size_t cap, bool *is_norm)
{
    size_t n = strlen(in);
    *is_norm = n >= 11 && !strcmp(in + n - 11, "norm.weight");
    if (!strcmp(in, "token_embd.weight")) {
        snprintf(out, cap, "model.embed_tokens.weight");
        return;
    }
    if (!strcmp(in, "output_norm.weight")) {
        snprintf(out, cap, "model.norm.weight");
        return;
    }
    int layer, used = 0;
    if (sscanf(in, "blk.%d.%n", &layer, &used) == 1 && used > 0) {
        for (size_t k = 0; k < sizeof GEMMA_MAP / sizeof *GEMMA_MAP; k++)
            if (!strcmp(in + used, GEMMA_MAP[k][0])) {
                snprintf(out, cap, "model.layers.%d.%s", layer, GEMMA_MAP[k][1]);
                return;
            }
    }
    *is_norm = false;
    snprintf(out, cap, "%s", in);
}

bool ltx_gguf_gemma_llama_name(const char *hf, char *out, size_t cap, bool *is_norm)
{
    if (!strncmp(hf, "language_model.", 15)) hf += 15;
    size_t n = strlen(hf);
    *is_norm = n >= 11 && !strcmp(hf + n - 11, "norm.weight");
    if (!strcmp(hf, "model.embed_tokens.weight")) {
        snprintf(out, cap, "token_embd.weight");
        return true;
    }
    if (!strcmp(hf, "model.norm.weight")) {
        snprintf(out, cap, "output_norm.weight");
        return true;
    }
    int layer, used = 0;
    if (sscanf(hf, "model.layers.%d.%n", &layer, &used) == 1 && used > 0)
        for (size_t k = 0; k < sizeof GEMMA_MAP / sizeof *GEMMA_MAP; k++)
            if (!strcmp(hf + used, GEMMA_MAP[k][1])) {
                snprintf(out, cap, "blk.%d.%s", layer, GEMMA_MAP[k][0]);
                return true;
            }
    *is_norm = false;
    return false;
}

int ltx_gguf_type_id(ltx_dtype dt)
{
    for (uint32_t id = 0; id < 40; id++)
        if (ggml_type(id) == dt) return (int)id;
    return -1;
}

static bool starts(const char *s, const char *p)
{
    return !strncmp(s, p, strlen(p));
}

/* ComfyUI-GGUF transformer files drop the component prefix: add it back when the file has
 * transformer blocks and no name of another component. */
static bool needs_ltx_prefix(const tinfo *ti, uint64_t n)
{
    bool blocks = false;
    static const char *other[] = {
        LTX_PREFIX,      "vae.", "audio_vae.", "vocoder.", "text_embedding_projection.",
        "model.layers.", "blk."};
    for (uint64_t i = 0; i < n; i++) {
        if (starts(ti[i].name, "transformer_blocks.")) blocks = true;
        for (size_t k = 0; k < sizeof other / sizeof *other; k++)
            if (starts(ti[i].name, other[k])) return false;
    }
    return blocks;
}

/* comfy.gguf.orig_shape for `name` (PyTorch order) when valid for this tensor. */
static void orig_shape(const gguf_meta *m, tinfo *ti)
{
    for (int i = 0; i < m->norig; i++) {
        if (strcmp(m->okeys[i], ti->name)) continue;
        int64_t sh[LTX_MAX_DIMS], numel = 1, want = 1;
        int nd = 0;
        const char *p = m->ovals[i] + 1;
        while (*p && *p != ']' && nd < LTX_MAX_DIMS) {
            char *e;
            long long v = strtoll(p, &e, 10);
            if (e == p || v < 0 || __builtin_mul_overflow(numel, (int64_t)v, &numel)) return;
            sh[nd++] = v;
            p = *e == ',' ? e + 1 : e;
        }
        if (*p != ']' || nd == 0) return;
        for (int d = 0; d < ti->ndim; d++)
            want *= ti->shape[d];
        int64_t blck = ltx_dtype_block_size(ggml_type(ti->type));
        if (numel != want || sh[nd - 1] % blck) return;
        ti->ndim = nd;
        memcpy(ti->shape, sh, sizeof(int64_t) * (size_t)nd);
        return;
    }
}

/* ---- entries ----------------------------------------------------------------------------------
 */

/* Gemma norm stored as (1 + w): an owned f32 copy of w. */
static ltx_status unplus_norm(ltx_st_file *f, ltx_st_entry *e, const char *L)
{
    int64_t n = e->ndim ? e->shape[0] : 1;
    for (int d = 1; d < e->ndim; d++)
        n *= e->shape[d];
    float *w = malloc(sizeof(float) * (size_t)(n ? n : 1));
    void **no = realloc(f->owned, sizeof *no * (size_t)(f->nowned + 1));
    if (!w || !no) {
        free(w);
        if (no) f->owned = no;
        return ltx_err(LTX_ERR_OOM, "%s: out of memory", L);
    }
    f->owned = no;
    f->owned[f->nowned++] = w;
    void *src = malloc(e->nbytes ? e->nbytes : 1); /* aligned copy for the typed conversion */
    if (!src) return ltx_err(LTX_ERR_OOM, "%s: out of memory", L);
    memcpy(src, e->data, e->nbytes);
    ltx_convert(w, LTX_F32, src, e->dtype, (size_t)n);
    free(src);
    for (int64_t i = 0; i < n; i++)
        w[i] -= 1.0f;
    e->data = w;
    e->dtype = LTX_F32;
    e->nbytes = sizeof(float) * (size_t)n;
    return LTX_OK;
}

/* Turns the validated infos into entries: names, shapes, bounds of each tensor's bytes. */
static ltx_status add_entries(ltx_st_file *f, const gguf_meta *m, tinfo *ti, uint64_t nt,
                              const uint8_t *data, uint64_t dsize, const char *L, int shard)
{
    bool gemma = !strcmp(m->arch, "gemma3"), prefix = !gemma && needs_ltx_prefix(ti, nt);
    int first = f->n;
    for (uint64_t i = 0; i < nt; i++) {
        ltx_st_entry e = {0};
        e.dtype = ggml_type(ti[i].type);
        orig_shape(m, &ti[i]);
        e.ndim = ti[i].ndim;
        memcpy(e.shape, ti[i].shape, sizeof e.shape);
        int64_t numel = 1, row = e.ndim ? e.shape[e.ndim - 1] : 1;
        for (int d = 0; d < e.ndim; d++) /* again: a zero dim hid overflow in file order */
            if (__builtin_mul_overflow(numel, e.shape[d], &numel))
                return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': element count overflows", L,
                               ti[i].name);
        int64_t blck = ltx_dtype_block_size(e.dtype);
        if (row % blck)
            return ltx_err(LTX_ERR_FORMAT,
                           "%s: tensor '%.200s': rows of %lld elements are not whole %s blocks "
                           "of %lld",
                           L, ti[i].name, (long long)row, ltx_dtype_name(e.dtype), (long long)blck);
        size_t nb;
        if (!ltx_dtype_bytes_checked(e.dtype, numel, &nb) || ti[i].offset > dsize ||
            nb > dsize - ti[i].offset)
            return ltx_err(LTX_ERR_FORMAT,
                           "%s: tensor '%.200s': %lld elements of %s at offset %llu run past the "
                           "end of the file",
                           L, ti[i].name, (long long)numel, ltx_dtype_name(e.dtype),
                           (unsigned long long)ti[i].offset);
        e.data = data + ti[i].offset;
        e.nbytes = nb;
        e.shard = shard;
        char nm[1024];
        bool norm = false;
        if (gemma)
            gemma_name(ti[i].name, nm, sizeof nm, &norm);
        else
            snprintf(nm, sizeof nm, "%s%s", prefix ? LTX_PREFIX : "", ti[i].name);
        if (strlen(ti[i].name) + sizeof LTX_PREFIX >= sizeof nm)
            return ltx_err(LTX_ERR_FORMAT, "%s: tensor name of %zu bytes is too long", L,
                           strlen(ti[i].name));
        if (norm) LTX_TRY(unplus_norm(f, &e, L));
        e.name = dupn(nm, strlen(nm));
        if (!e.name) return ltx_err(LTX_ERR_OOM, "%s: out of memory", L);
        ltx_status st = ltx_st_push_entry(f, &e);
        if (st != LTX_OK) {
            free((char *)e.name);
            return st;
        }
    }
    return ltx_st_check_overlap(f, first, L);
}

ltx_status ltx_gguf_parse_shard(ltx_st_file *f, const void *base, size_t size, const char *label,
                                int shard)
{
    cur c = {base, size, 4, label};
    uint32_t ver;
    uint64_t nt, nkv;
    if (!rd_u32(&c, &ver) || !rd_u64(&c, &nt) || !rd_u64(&c, &nkv))
        return ltx_err(LTX_ERR_FORMAT, "%s: GGUF header truncated (%zu bytes)", label, size);
    if (ver != 3)
        return ltx_err(LTX_ERR_FORMAT, "%s: GGUF version %u (only version 3, little-endian)", label,
                       ver);
    /* a tensor info takes at least 24 bytes, a KV at least 12: counts beyond the file lie */
    if (nt > size / 24 || nkv > size / 12)
        return ltx_err(LTX_ERR_FORMAT, "%s: GGUF counts (%llu tensors, %llu keys) exceed the file",
                       label, (unsigned long long)nt, (unsigned long long)nkv);
    gguf_meta m = {.alignment = 32};
    tinfo *ti = calloc((size_t)(nt ? nt : 1), sizeof *ti);
    ltx_status st = ti ? LTX_OK : ltx_err(LTX_ERR_OOM, "%s: out of memory", label);
    if (st == LTX_OK) st = kv_section(f, &c, nkv, &m);
    for (uint64_t i = 0; st == LTX_OK && i < nt; i++)
        st = tensor_info(&c, i, m.alignment, &ti[i]);
    if (st == LTX_OK) {
        size_t start = (c.pos + m.alignment - 1) / m.alignment * m.alignment;
        if (start > size)
            st = ltx_err(LTX_ERR_FORMAT, "%s: GGUF data section starts past the end", label);
        else
            st = add_entries(f, &m, ti, nt, (const uint8_t *)base + start, size - start, label,
                             shard);
    }
    for (uint64_t i = 0; ti && i < nt; i++)
        free(ti[i].name);
    free(ti);
    for (int i = 0; i < m.norig; i++) {
        free(m.okeys[i]);
        free(m.ovals[i]);
    }
    free(m.okeys);
    free(m.ovals);
    return st;
}
