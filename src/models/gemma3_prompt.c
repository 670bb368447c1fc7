/*
 * gemma3_prompt.c — chat template, processor ids, alignment padding, image preprocessing and
 * clean_response for prompt enhancement (see gemma3_prompt.h for the reference files).
 * Not here: generation (gemma3_generate.c), the system prompts (data/prompts/, enhance.c).
 */
#include "models/gemma3_prompt.h"

#include "io/media.h"

#include <stdlib.h>
#include <string.h>

/* ---- chat template ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

ltx_status ltx_gemma3_chat_render(const char *system, size_t sys_len, const char *user,
                                  size_t user_len, bool with_image, char **out, size_t *out_len)
{
    *out = NULL;
    sbuf b = {0};
    /* ref: chat_template: {{ bos_token }}, then the system content + '\n\n' as the first user
     * turn's prefix (untrimmed), the user content `| trim`, image items as <start_of_image> */
    puts_(&b, "<bos><start_of_turn>user\n");
    put(&b, system, sys_len);
    puts_(&b, "\n\n");
    if (with_image) puts_(&b, "<start_of_image>");
    size_t s0, sn;
    ltx_gemma_py_strip(user, user_len, &s0, &sn);
    put(&b, user + s0, sn);
    puts_(&b, "<end_of_turn>\n<start_of_turn>model\n"); /* add_generation_prompt */
    if (b.oom) {
        free(b.p);
        return ltx_err(LTX_ERR_OOM, "chat template: out of memory");
    }
    *out = b.p;
    if (out_len) *out_len = b.n;
    return LTX_OK;
}

/* ---- processor ---- */

void ltx_gemma3_inputs_free(ltx_gemma3_inputs *in)
{
    if (!in) return;
    free(in->ids);
    free(in->mask);
    free(in->types);
    memset(in, 0, sizeof *in);
}

/* text with every <start_of_image> expanded (ref: Gemma3Processor full_image_sequence). */
static char *expand_images(const char *text, size_t len, int image_tokens, size_t *out_len)
{
    static const char boi[] = "<start_of_image>";
    sbuf b = {0};
    size_t i = 0, bl = sizeof boi - 1;
    while (i < len) {
        if (i + bl <= len && !memcmp(text + i, boi, bl)) {
            puts_(&b, "\n\n<start_of_image>");
            for (int k = 0; k < image_tokens; k++)
                puts_(&b, "<image_soft_token>");
            puts_(&b, "<end_of_image>\n\n");
            i += bl;
        } else {
            put(&b, text + i, 1);
            i++;
        }
    }
    if (!b.p) put(&b, "", 0);
    if (b.oom) {
        free(b.p);
        ltx_err(LTX_ERR_OOM, "prompt text: out of memory");
        return NULL;
    }
    *out_len = b.n;
    return b.p;
}

ltx_status ltx_gemma3_processor_ids(const ltx_gemma_tokenizer *tok, const char *text, size_t len,
                                    int image_tokens, int image_token_id, ltx_gemma3_inputs *out)
{
    memset(out, 0, sizeof *out);
    char *exp = NULL;
    size_t elen = len;
    if (image_tokens > 0) {
        exp = expand_images(text, len, image_tokens, &elen);
        if (!exp) return ltx_err(LTX_ERR_OOM, "processor: out of memory");
    }
    int32_t *ids = NULL;
    int n = 0;
    ltx_status s = ltx_gemma_tokenizer_encode(tok, exp ? exp : text, elen, 1, &ids, &n);
    free(exp);
    if (s != LTX_OK) return s;
    out->ids = ids;
    out->n = n;
    out->mask = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    out->types = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!out->mask || !out->types) {
        ltx_gemma3_inputs_free(out);
        return ltx_err(LTX_ERR_OOM, "processor: out of memory");
    }
    for (int i = 0; i < n; i++) {
        out->mask[i] = 1;
        out->types[i] = ids[i] == image_token_id;
    }
    return LTX_OK;
}

/* ref: _cat_with_padding: torch.cat([x, full(pad)]) (a2c3f24) / cat([full(pad), x]) (400fd31) */
static int32_t *pad_array(const int32_t *a, int64_t n, int64_t pad, int32_t value, bool left)
{
    int32_t *r = malloc(sizeof(int32_t) * (size_t)(n + pad));
    if (!r) {
        ltx_err(LTX_ERR_OOM, "gemma3 prompt ids: out of memory");
        return NULL;
    }
    int64_t off = left ? pad : 0, p0 = left ? 0 : n;
    memcpy(r + off, a, sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < pad; i++)
        r[p0 + i] = value;
    return r;
}

ltx_status ltx_gemma3_pad_alignment(ltx_gemma3_inputs *in, int alignment, int32_t pad_id,
                                    bool pad_left, int *n_pad)
{
    int64_t L = in->n, padded = (L + alignment - 1) / alignment * alignment, pad = padded - L;
    if (n_pad) *n_pad = (int)pad;
    if (pad <= 0) return LTX_OK;
    int32_t *ids = pad_array(in->ids, L, pad, pad_id, pad_left);
    int32_t *mask = pad_array(in->mask, L, pad, 0, pad_left);
    int32_t *types = pad_array(in->types, L, pad, 0, pad_left);
    if (!ids || !mask || !types) {
        free(ids), free(mask), free(types);
        return ltx_err(LTX_ERR_OOM, "alignment padding: out of memory");
    }
    free(in->ids), free(in->mask), free(in->types);
    in->ids = ids, in->mask = mask, in->types = types, in->n = padded;
    return LTX_OK;
}

/* ---- image processor ---- */

ltx_status ltx_gemma3_image_preprocess(const uint8_t *rgb, int h, int w,
                                       const ltx_gemma3_image_proc *ip, uint8_t *resized,
                                       float *pixels)
{
    int H = ip->height, W = ip->width;
    uint8_t *r = resized ? resized : malloc((size_t)H * W * 3);
    if (!r) return ltx_err(LTX_ERR_OOM, "image processor: out of memory");
    ltx_status s = ltx_pil_resize_bilinear(rgb, h, w, r, H, W);
    for (int c = 0; c < 3 && s == LTX_OK; c++) {
        float mean = (float)ip->mean[c], std = (float)ip->std[c];
        for (int64_t i = 0; i < (int64_t)H * W; i++) {
            /* ref: rescale: image.astype(float64) * scale -> float32; normalize in float32 */
            float v = (float)((double)r[i * 3 + c] * ip->rescale);
            pixels[(int64_t)c * H * W + i] = (v - mean) / std;
        }
    }
    if (!resized) free(r);
    return s;
}

/* ---- clean_response ---- */

/* One UTF-8 sequence at s[0..n): code point, length (ill-formed bytes: U+FFFD, 1). */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    int k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!k || (size_t)k > n) {
        *len = 1;
        return 0xFFFD;
    }
    uint32_t cp = k == 1 ? c : c & (0x7F >> k);
    for (int i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *len = 1;
            return 0xFFFD;
        }
        cp = cp << 6 | (s[i] & 0x3F);
    }
    *len = (size_t)k;
    return cp;
}

/* Python str.isalpha for one code point: exact below U+0100; above, the blocks that hold no
 * letters (combining marks, general punctuation .. misc symbols, CJK symbols, fullwidth ASCII
 * punctuation/digits, specials, private use, emoji/pictographs) are non-letters and the rest
 * letters — a documented approximation of the Unicode L* categories. */
static bool py_isalpha(uint32_t cp)
{
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    if (cp < 0x100)
        return cp == 0xAA || cp == 0xB5 || cp == 0xBA || (cp >= 0xC0 && cp != 0xD7 && cp != 0xF7);
    static const uint32_t no[][2] = {
        {0x02C2, 0x02C5},   {0x0300, 0x036F},    {0x0482, 0x0489}, {0x0660, 0x0669},
        {0x06F0, 0x06F9},   {0x0966, 0x096F},    {0x2000, 0x2BFF}, {0x2E00, 0x2E7F},
        {0x3000, 0x3004},   {0x3007, 0x3030},    {0xD800, 0xF8FF}, {0xFE00, 0xFE6F},
        {0xFF00, 0xFF20},   {0xFF3B, 0xFF40},    {0xFF5B, 0xFF65}, {0xFFF0, 0xFFFF},
        {0x1F000, 0x1FBFF}, {0xE0000, 0x10FFFF},
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (cp >= no[i][0] && cp <= no[i][1]) return false;
    return true;
}

/* ref: _UNICODE_REPLACEMENTS: ‘ ’ “ ” — – NBSP ′ − -> ' ' " " - - space ' - (NULL: keep). */
static const char *translate(uint32_t cp)
{
    switch (cp) {
    case 0x2018:
    case 0x2019:
    case 0x2032:
        return "'";
    case 0x201C:
    case 0x201D:
        return "\"";
    case 0x2014:
    case 0x2013:
    case 0x2212:
        return "-";
    case 0x00A0:
        return " ";
    default:
        return NULL;
    }
}

/* The translated text from its first letter on (from the start when letters_only is false). */
static void clean_into(sbuf *b, const char *text, size_t len, bool letters_only)
{
    const unsigned char *s = (const unsigned char *)text;
    bool started = !letters_only;
    for (size_t i = 0; i < len;) {
        size_t k;
        uint32_t cp = utf8_next(s + i, len - i, &k);
        const char *rep = translate(cp);
        if (!started && !rep && py_isalpha(cp)) started = true;
        if (started) {
            if (rep)
                puts_(b, rep);
            else
                put(b, text + i, k);
        }
        i += k;
    }
}

char *ltx_gemma3_clean_response(const char *text, size_t len, size_t *out_len)
{
    sbuf b = {0};
    put(&b, "", 0);
    /* ref: return text[i:] from the first character with isalpha(), else the whole text */
    clean_into(&b, text, len, true);
    if (b.n == 0) clean_into(&b, text, len, false);
    if (b.oom) {
        free(b.p);
        ltx_err(LTX_ERR_OOM, "prompt text: out of memory");
        return NULL;
    }
    if (out_len) *out_len = b.n;
    return b.p;
}
