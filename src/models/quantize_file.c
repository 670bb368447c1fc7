/*
 * quantize_file.c — `ltx2c quantize`: LTX checkpoints and Gemma 3 folders to GGUF (see
 * quantize_file.h for what is written). Tensor bytes are produced chunk by chunk from the
 * mapped input: rows -> f32 (dtype traits; scaled-fp8 times its weight_scale; Gemma norms + 1)
 * -> target type, straight into the streaming writer.
 * ref: ComfyUI-GGUF's convert/quantize flow (which tensors stay high precision), llama.cpp's
 * convert_hf_to_gguf.py Gemma3Model (names, norm + 1).
 */
#include "models/quantize_file.h"

#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/quant_policy.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LTX_PREFIX  "model.diffusion_model."
#define CHUNK_ELEMS ((int64_t)4 << 20) /* f32 elements converted at a time (16 MiB) */

/* What one output tensor is made of. */
typedef struct plan {
    const ltx_st_entry *e;
    char name[1024];
    ltx_dtype target;
    float scale; /* multiplies the f32 values (fp8 weight_scale); 1 otherwise */
    float add;   /* added to the f32 values (Gemma norms: + 1) */
} plan;

static int64_t numel_of(const ltx_st_entry *e)
{
    int64_t n = 1;
    for (int d = 0; d < e->ndim; d++)
        n *= e->shape[d];
    return n;
}

/* Streams p's tensor into w: a raw copy when nothing changes, else row chunks through f32. */
static ltx_status write_tensor(ltx_gguf_writer *w, const plan *p, const char *path)
{
    const ltx_st_entry *e = p->e;
    if (p->target == e->dtype && p->scale == 1.0f && p->add == 0.0f)
        return ltx_gguf_writer_data(w, e->data, e->nbytes);
    int64_t n = numel_of(e), row = e->ndim ? e->shape[e->ndim - 1] : 1;
    if (row < 1) return LTX_OK;
    int64_t rows_per = CHUNK_ELEMS / row > 0 ? CHUNK_ELEMS / row : 1;
    size_t in_max = ltx_dtype_bytes(e->dtype, rows_per * row);
    size_t out_max = ltx_dtype_bytes(p->target, rows_per * row);
    float *f = malloc(sizeof(float) * (size_t)(rows_per * row));
    void *in = malloc(in_max + 1), *out = malloc(out_max + 1);
    ltx_status s = f && in && out ? LTX_OK : ltx_err(LTX_ERR_OOM, "%s: out of memory", path);
    for (int64_t r0 = 0; s == LTX_OK && r0 * row < n; r0 += rows_per) {
        int64_t m = (n / row - r0 < rows_per ? n / row - r0 : rows_per) * row;
        size_t ib = ltx_dtype_bytes(e->dtype, m);
        /* aligned copy: safetensors offsets need not be aligned for the element type */
        memcpy(in, (const char *)e->data + ltx_dtype_bytes(e->dtype, r0 * row), ib);
        ltx_convert(f, LTX_F32, in, e->dtype, (size_t)m);
        if (p->scale != 1.0f || p->add != 0.0f)
            for (int64_t i = 0; i < m; i++)
                f[i] = f[i] * p->scale + p->add;
        ltx_convert(out, p->target, f, LTX_F32, (size_t)m);
        s = ltx_gguf_writer_data(w, out, ltx_dtype_bytes(p->target, m));
    }
    free(f);
    free(in);
    free(out);
    return s;
}

/* Refuses an output that is the input file itself (same device and inode). */
static ltx_status not_input(const char *in, const char *out)
{
    struct stat a, b;
    if (stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return ltx_err(LTX_ERR_INVALID_ARG, "quantize: output %s is the input %s", out, in);
    return LTX_OK;
}

/* Declares every planned tensor, writes the file, streams the data. */
static ltx_status write_all(ltx_gguf_writer *w, const plan *pl, int n, const char *out,
                            const ltx_log *log)
{
    for (int i = 0; i < n; i++)
        LTX_TRY(ltx_gguf_writer_tensor(w, pl[i].name, pl[i].target,
                                       pl[i].e->ndim ? pl[i].e->ndim : 1,
                                       pl[i].e->ndim ? pl[i].e->shape : (const int64_t[]){1}));
    LTX_TRY(ltx_gguf_writer_open(w, out));
    for (int i = 0; i < n; i++) {
        ltx_status s = write_tensor(w, &pl[i], out);
        if (s != LTX_OK) return ltx_err_context(s, "tensor %s: ", pl[i].name);
    }
    LTX_TRY(ltx_gguf_writer_close(w));
    LTX_INFO(log, "quantize: wrote %s (%d tensors)", out, n);
    return LTX_OK;
}

/* GGUF has no fp8/bool/u8: such tensors become F32 (fp8) or are refused. */
static ltx_status storable(const ltx_st_entry *e, ltx_dtype *t)
{
    if (*t == LTX_F8E4M3 || *t == LTX_F8E5M2) *t = LTX_F32;
    if (ltx_gguf_type_id(*t) < 0)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "quantize: tensor %s has dtype %s, which GGUF cannot "
                       "hold",
                       e->name, ltx_dtype_name(e->dtype));
    return LTX_OK;
}

/* Plan for one LTX checkpoint entry; false when the entry is dropped (fp8 scale siblings). */
static ltx_status plan_ltx(const ltx_st_file *f, const ltx_st_entry *e, const ltx_quant_policy *pol,
                           plan *p, bool *keep)
{
    size_t len = strlen(e->name);
    *keep = !(len > 13 && !strcmp(e->name + len - 13, ".weight_scale")) &&
            !(len > 12 && !strcmp(e->name + len - 12, ".input_scale"));
    if (!*keep) return LTX_OK;
    memset(p, 0, sizeof *p);
    p->e = e;
    p->scale = 1.0f;
    snprintf(p->name, sizeof p->name, "%s", e->name);
    p->target = e->dtype;
    if (!strncmp(e->name, LTX_PREFIX, strlen(LTX_PREFIX)))
        p->target = ltx_quant_target(pol, e->name + strlen(LTX_PREFIX), e->ndim, e->shape,
                                     e->dtype == LTX_F8E4M3 ? LTX_BF16 : e->dtype);
    if (e->dtype == LTX_F8E4M3 || e->dtype == LTX_F8E5M2) {
        char sn[1100];
        snprintf(sn, sizeof sn, "%.*s_scale", (int)len, e->name); /* X.weight -> X.weight_scale */
        if (ltx_st_find(f, sn)) {
            int64_t k = 0;
            float *v = ltx_st_read_f32(f, sn, &k);
            if (!v || k != 1) {
                free(v);
                return ltx_err(LTX_ERR_FORMAT, "quantize: %s must be one value", sn);
            }
            p->scale = v[0];
            free(v);
        }
        if (p->target == LTX_BF16) p->target = LTX_F32; /* kept: exact scaled values */
    }
    return storable(e, &p->target);
}

ltx_status ltx_quantize_checkpoint(const char *in, const char *out, ltx_dtype type,
                                   const ltx_log *log)
{
    ltx_quant_policy pol = {LTX_QPOL_BLOCK, type};
    if (!ltx_dtype_is_quant(type))
        return ltx_err(LTX_ERR_INVALID_ARG, "quantize: --type %s is not a block type",
                       ltx_dtype_name(type));
    LTX_TRY(not_input(in, out));
    ltx_st_file *f = NULL;
    LTX_TRY(ltx_st_open(in, &f));
    ltx_status s = LTX_OK;
    ltx_gguf_writer *w = ltx_gguf_writer_new();
    plan *pl = calloc((size_t)ltx_st_count(f) + 1, sizeof *pl);
    int n = 0;
    if (!w || !pl) s = ltx_err(LTX_ERR_OOM, "quantize: out of memory");
    if (s == LTX_OK && !ltx_st_find(f, LTX_PREFIX "proj_out.weight") &&
        !ltx_st_find(f, LTX_PREFIX "audio_proj_out.weight"))
        s = ltx_err(LTX_ERR_INVALID_ARG, "quantize: %s holds no LTX transformer (%sproj_out)", in,
                    LTX_PREFIX);
    for (int i = 0; s == LTX_OK && i < ltx_st_count(f); i++) {
        bool keep;
        s = plan_ltx(f, ltx_st_at(f, i), &pol, &pl[n], &keep);
        if (keep) n++;
    }
    if (s == LTX_OK) s = ltx_gguf_writer_kv_str(w, "general.architecture", "ltxv");
    if (s == LTX_OK) s = ltx_gguf_writer_kv_str(w, "ltx2c.quantization", ltx_dtype_name(type));
    for (int i = 0; s == LTX_OK && i < ltx_st_metadata_count(f); i++) {
        const char *k, *v;
        ltx_st_metadata_at(f, i, &k, &v);
        if (strcmp(k, "general.architecture") && strcmp(k, "ltx2c.quantization"))
            s = ltx_gguf_writer_kv_str(w, k, v);
    }
    if (s == LTX_OK) s = write_all(w, pl, n, out, log);
    ltx_gguf_writer_free(w);
    free(pl);
    ltx_st_close(f);
    return s == LTX_OK ? LTX_OK : ltx_err_context(s, "quantize %s: ", in);
}

/* ---- Gemma -------------------------------------------------------------------------------- */

/* Copies src to dst (small files) through dst.tmp + rename. */
static ltx_status copy_file(const char *src, const char *dst)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    FILE *a = fopen(src, "rb"), *b = a ? fopen(tmp, "wb") : NULL;
    ltx_status s = a && b ? LTX_OK
                          : ltx_err(LTX_ERR_IO, "quantize: cannot copy %s to %s: %s", src, dst,
                                    strerror(errno));
    char buf[65536];
    size_t k;
    while (s == LTX_OK && (k = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, k, b) != k) s = ltx_err(LTX_ERR_IO, "quantize: write %s failed", tmp);
    if (a) fclose(a);
    if (b && fclose(b) != 0 && s == LTX_OK)
        s = ltx_err(LTX_ERR_IO, "quantize: write %s failed", tmp);
    if (s == LTX_OK && rename(tmp, dst) != 0)
        s = ltx_err(LTX_ERR_IO, "quantize: cannot rename %s: %s", tmp, strerror(errno));
    if (s != LTX_OK && b) remove(tmp);
    return s;
}

/* The folder's other files (config, tokenizer) next to the GGUF. */
static ltx_status copy_side_files(const char *in_dir, const char *out_dir)
{
    DIR *d = opendir(in_dir);
    if (!d) return ltx_err(LTX_ERR_IO, "quantize: cannot list %s: %s", in_dir, strerror(errno));
    ltx_status s = LTX_OK;
    for (struct dirent *de; s == LTX_OK && (de = readdir(d));) {
        const char *nm = de->d_name;
        size_t l = strlen(nm);
        if (nm[0] == '.' || (l > 12 && !strcmp(nm + l - 12, ".safetensors")) ||
            (l > 5 && !strcmp(nm + l - 5, ".gguf")) || !strcmp(nm, "model.safetensors.index.json"))
            continue;
        char src[4096], dst[4096];
        snprintf(src, sizeof src, "%s/%s", in_dir, nm);
        snprintf(dst, sizeof dst, "%s/%s", out_dir, nm);
        struct stat sb;
        if (stat(src, &sb) == 0 && S_ISREG(sb.st_mode)) s = copy_file(src, dst);
    }
    closedir(d);
    return s;
}

static ltx_status plan_gemma(const ltx_st_entry *e, ltx_dtype type, plan *p, int *layers)
{
    memset(p, 0, sizeof *p);
    p->e = e;
    p->scale = 1.0f;
    p->target = e->dtype;
    bool norm = false;
    if (ltx_gguf_gemma_llama_name(e->name, p->name, sizeof p->name, &norm)) {
        int l;
        if (sscanf(p->name, "blk.%d.", &l) == 1 && l + 1 > *layers) *layers = l + 1;
        if (norm) {
            p->target = LTX_F32;
            p->add = 1.0f; /* llama.cpp stores Gemma's (1 + w) */
        } else if (e->ndim == 2 && ltx_dtype_is_float(e->dtype)) {
            ltx_dtype t = ltx_quant_row_type(type, e->shape[1]);
            if (t != LTX_DTYPE_COUNT) p->target = t;
        }
    } else {
        snprintf(p->name, sizeof p->name, "%s", e->name); /* vision tower etc.: as stored */
    }
    return storable(e, &p->target);
}

ltx_status ltx_quantize_gemma(const char *in_dir, const char *out_dir, ltx_dtype type,
                              const ltx_log *log)
{
    if (!ltx_dtype_is_quant(type))
        return ltx_err(LTX_ERR_INVALID_ARG, "quantize: --type %s is not a block type",
                       ltx_dtype_name(type));
    LTX_TRY(not_input(in_dir, out_dir));
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        return ltx_err(LTX_ERR_IO, "quantize: cannot create %s: %s", out_dir, strerror(errno));
    ltx_st_file *f = NULL;
    LTX_TRY(ltx_st_open_dir(in_dir, &f));
    ltx_status s = LTX_OK;
    ltx_gguf_writer *w = ltx_gguf_writer_new();
    plan *pl = calloc((size_t)ltx_st_count(f) + 1, sizeof *pl);
    int n = 0, layers = 0;
    if (!w || !pl) s = ltx_err(LTX_ERR_OOM, "quantize: out of memory");
    for (int i = 0; s == LTX_OK && i < ltx_st_count(f); i++)
        s = plan_gemma(ltx_st_at(f, i), type, &pl[n++], &layers);
    if (s == LTX_OK && layers == 0)
        s = ltx_err(LTX_ERR_INVALID_ARG, "quantize: %s holds no Gemma 3 layers", in_dir);
    if (s == LTX_OK) s = ltx_gguf_writer_kv_str(w, "general.architecture", "gemma3");
    if (s == LTX_OK) s = ltx_gguf_writer_kv_u32(w, "gemma3.block_count", (uint32_t)layers);
    if (s == LTX_OK) s = ltx_gguf_writer_kv_str(w, "ltx2c.quantization", ltx_dtype_name(type));
    char out[4096], lower[16];
    snprintf(lower, sizeof lower, "%s", ltx_dtype_name(type));
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    snprintf(out, sizeof out, "%s/model-%s.gguf", out_dir, lower);
    if (s == LTX_OK) s = write_all(w, pl, n, out, log);
    if (s == LTX_OK) s = copy_side_files(in_dir, out_dir);
    ltx_gguf_writer_free(w);
    free(pl);
    ltx_st_close(f);
    return s == LTX_OK ? LTX_OK : ltx_err_context(s, "quantize %s: ", in_dir);
}
