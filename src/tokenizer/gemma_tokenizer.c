/*
 * gemma_tokenizer.c — loads Gemma 3's Hugging Face tokenizer.json and runs the encode pipeline
 * of the `tokenizers` Rust library for it, plus LTX's padding convention and decode.
 *
 * Mirrors (behaviour, not code):
 *   tokenizers/src/tokenizer/added_vocabulary.rs  added tokens split out of the raw text,
 *                                                  leftmost-longest (aho-corasick LeftmostLongest)
 *   tokenizers/src/normalizers/replace.rs          Replace(String " " -> "▁")
 *   tokenizers/src/pre_tokenizers/split.rs         Split(String, MergedWithPrevious)
 *   tokenizers/src/processors/template.rs          TemplateProcessing "single" (<bos> $A)
 *   tokenizers/src/decoders/{byte_fallback,fuse}.rs decode
 *   ltx_core/text_encoders/gemma/tokenizer.py     LTXVGemmaTokenizer.tokenize_with_weights:
 *                                                  strip, BOS, truncate to 1024, left pad
 * The BPE model itself is in tok_bpe.c. Settings outside Gemma 3's file are rejected at load.
 */
#include "tokenizer/tok_internal.h"

#include "core/error.h"
#include "io/file.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- loading ------------------------------------------------------------------------------ */

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* Reads the whole file (a regular file only: a FIFO is refused, not waited on); *buf is
 * malloc'd and NUL-terminated. */
static ltx_status read_file(const char *path, char **buf, size_t *n)
{
    *buf = ltx_read_file(path, "tokenizer", (size_t)1 << 30, n);
    return *buf ? LTX_OK : ltx_err_failed();
}

/* The string of a {"String": "..."} pattern object, or NULL (Regex patterns are unsupported). */
static const char *pattern_string(const cJSON *pat)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String");
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

static bool json_true(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* True for the decoder that ltx_gemma_tokenizer_decode implements (Gemma 3's):
 * Sequence[Replace(String "▁" -> " "), ByteFallback, Fuse]. */
static bool decoder_supported(const cJSON *dec)
{
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dec, "type"));
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(dec, "decoders");
    if (!type || strcmp(type, "Sequence") || cJSON_GetArraySize(list) != 3) return false;
    const char *want[3] = {"Replace", "ByteFallback", "Fuse"};
    for (int i = 0; i < 3; i++) {
        const cJSON *d = cJSON_GetArrayItem(list, i);
        const char *ty = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "type"));
        if (!ty || strcmp(ty, want[i])) return false;
    }
    const cJSON *rep = cJSON_GetArrayItem(list, 0);
    const char *pat = pattern_string(cJSON_GetObjectItemCaseSensitive(rep, "pattern"));
    const char *con = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rep, "content"));
    return pat && con && !strcmp(pat, "\xE2\x96\x81") && !strcmp(con, " ");
}

/* normalizer / pre_tokenizer / model options: what this port implements, else UNSUPPORTED. */
static ltx_status load_pipeline(ltx_gemma_tokenizer *t, const cJSON *root)
{
    const char *p = t->path;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm)) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(norm, "type"));
        const char *pat = pattern_string(cJSON_GetObjectItemCaseSensitive(norm, "pattern"));
        const char *rep = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(norm, "content"));
        if (!type || strcmp(type, "Replace") || !pat || !*pat || !rep)
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "tokenizer %s: normalizer must be Replace(String -> content)", p);
        if (!(t->norm_pat = dup_str(pat)) || !(t->norm_rep = dup_str(rep)))
            return ltx_err(LTX_ERR_OOM, "tokenizer %s: out of memory", p);
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (pre && !cJSON_IsNull(pre)) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pre, "type"));
        const char *pat = pattern_string(cJSON_GetObjectItemCaseSensitive(pre, "pattern"));
        const char *beh = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pre, "behavior"));
        if (!type || strcmp(type, "Split") || !pat || !*pat || !beh ||
            strcmp(beh, "MergedWithPrevious") || json_true(pre, "invert"))
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "tokenizer %s: pre_tokenizer must be Split(String, MergedWithPrevious)",
                           p);
        if (!(t->split_pat = dup_str(pat)))
            return ltx_err(LTX_ERR_OOM, "tokenizer %s: out of memory", p);
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(model, "type"));
    if (!type || strcmp(type, "BPE"))
        return ltx_err(LTX_ERR_UNSUPPORTED, "tokenizer %s: model.type must be BPE", p);
    const char *const nullish[] = {"dropout", "continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, nullish[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && !*v->valuestring))
            return ltx_err(LTX_ERR_UNSUPPORTED, "tokenizer %s: model.%s is not supported", p,
                           nullish[i]);
    }
    if (json_true(model, "ignore_merges"))
        return ltx_err(LTX_ERR_UNSUPPORTED, "tokenizer %s: model.ignore_merges is not supported",
                       p);
    t->byte_fallback = json_true(model, "byte_fallback");
    t->fuse_unk = json_true(model, "fuse_unk");
    t->decoder_ok = decoder_supported(cJSON_GetObjectItemCaseSensitive(root, "decoder"));
    return LTX_OK;
}

/* Fills the id -> string table from model.vocab and added_tokens, and the vocab map. */
static ltx_status load_vocab(ltx_gemma_tokenizer *t, const cJSON *vocab, const cJSON *added)
{
    const char *p = t->path;
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(added))
        return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: model.vocab or added_tokens missing", p);
    int max_id = -1, n_vocab = 0;
    size_t bytes = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e8)
            return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: bad vocab id for \"%s\"", p, e->string);
        max_id = e->valueint > max_id ? e->valueint : max_id;
        bytes += strlen(e->string) + 1;
        n_vocab++;
    }
    t->n_model = max_id + 1;
    for (const cJSON *e = added->child; e; e = e->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "content"));
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e8 || !c || !*c)
            return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: bad added_tokens entry", p);
        max_id = id->valueint > max_id ? id->valueint : max_id;
        bytes += strlen(c) + 1;
    }
    t->n_ids = max_id + 1;
    size_t n = (size_t)t->n_ids;
    t->arena = malloc(bytes + 1);
    t->str_off = calloc(n, sizeof(uint32_t));
    t->str_len = calloc(n, sizeof(uint32_t));
    t->in_model = calloc(n, 1);
    t->special = calloc(n, 1);
    if (!t->arena || !t->str_off || !t->str_len || !t->in_model || !t->special ||
        !ltx_tok_strmap_init(&t->vocab, (size_t)n_vocab))
        return ltx_err(LTX_ERR_OOM, "tokenizer %s: out of memory for the vocab", p);
    t->arena[0] = 0; /* offset 0 = "" for ids nothing defines */
    size_t off = 1;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int id = e->valueint;
        size_t l = strlen(e->string);
        if (t->in_model[id])
            return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: vocab id %d used twice", p, id);
        memcpy(t->arena + off, e->string, l + 1);
        t->str_off[id] = (uint32_t)off;
        t->str_len[id] = (uint32_t)l;
        t->in_model[id] = 1;
        off += l + 1;
        if (ltx_tok_strmap_put(&t->vocab, t, id) >= 0)
            return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: vocab string \"%s\" twice", p, e->string);
    }
    for (const cJSON *e = added->child; e; e = e->next) {
        int id = cJSON_GetObjectItemCaseSensitive(e, "id")->valueint;
        const char *c = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
        size_t l = strlen(c);
        if (t->in_model[id]) {
            /* HF gives an added token that the model knows the model's id: they must agree. */
            if (t->str_len[id] != l || memcmp(tok_str(t, id), c, l))
                return ltx_err(LTX_ERR_UNSUPPORTED,
                               "tokenizer %s: added token \"%s\" has id %d of vocab \"%s\"", p, c,
                               id, tok_str(t, id));
            continue;
        }
        memcpy(t->arena + off, c, l + 1);
        t->str_off[id] = (uint32_t)off;
        t->str_len[id] = (uint32_t)l;
        off += l + 1;
    }
    return LTX_OK;
}

/* Added tokens: flags, the raw-text match map, special marks. */
static ltx_status load_added(ltx_gemma_tokenizer *t, const cJSON *added)
{
    const char *p = t->path;
    if (!ltx_tok_strmap_init(&t->added, (size_t)cJSON_GetArraySize(added)))
        return ltx_err(LTX_ERR_OOM, "tokenizer %s: out of memory", p);
    bool seen_len[1024] = {false};
    for (const cJSON *e = added->child; e; e = e->next) {
        int id = cJSON_GetObjectItemCaseSensitive(e, "id")->valueint;
        const char *flags[] = {"single_word", "lstrip", "rstrip", "normalized"};
        for (int i = 0; i < 4; i++)
            if (json_true(e, flags[i]))
                return ltx_err(LTX_ERR_UNSUPPORTED,
                               "tokenizer %s: added token \"%s\" has %s=true (not supported)", p,
                               tok_str(t, id), flags[i]);
        if (json_true(e, "special")) t->special[id] = 1;
        ltx_tok_strmap_put(&t->added, t, id);
        uint32_t l = t->str_len[id];
        if (l >= 1024)
            return ltx_err(LTX_ERR_UNSUPPORTED, "tokenizer %s: added token of %u bytes", p, l);
        t->added_first[(unsigned char)tok_str(t, id)[0]] = 1;
        seen_len[l] = true;
    }
    for (int l = 1023; l > 0; l--) {
        if (!seen_len[l]) continue;
        if (t->n_added_lens == (int)(sizeof t->added_lens / sizeof t->added_lens[0]))
            return ltx_err(LTX_ERR_UNSUPPORTED, "tokenizer %s: too many added-token lengths", p);
        t->added_lens[t->n_added_lens++] = l;
    }
    return LTX_OK;
}

/* model.merges: [["a","b"], ...] (or legacy "a b" strings); rank = index. */
static ltx_status load_merges(ltx_gemma_tokenizer *t, const cJSON *merges)
{
    const char *p = t->path;
    if (!cJSON_IsArray(merges))
        return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: model.merges missing", p);
    int n = cJSON_GetArraySize(merges);
    if (!ltx_tok_mergemap_init(&t->merges, (size_t)n))
        return ltx_err(LTX_ERR_OOM, "tokenizer %s: out of memory for %d merges", p, n);
    char buf[1024];
    uint32_t rank = 0;
    for (const cJSON *e = merges->child; e; e = e->next, rank++) {
        const char *a = NULL, *b = NULL;
        size_t la = 0, lb = 0;
        if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2) {
            a = cJSON_GetStringValue(e->child);
            b = cJSON_GetStringValue(e->child->next);
            la = a ? strlen(a) : 0;
            lb = b ? strlen(b) : 0;
        } else if (cJSON_IsString(e)) {
            const char *sp = strchr(e->valuestring, ' ');
            if (sp && !strchr(sp + 1, ' ')) {
                a = e->valuestring, la = (size_t)(sp - a);
                b = sp + 1, lb = strlen(b);
            }
        }
        if (!a || !b || la + lb >= sizeof buf)
            return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: bad merge #%u", p, rank);
        int32_t ia = ltx_tok_strmap_get(&t->vocab, t, a, la);
        int32_t ib = ltx_tok_strmap_get(&t->vocab, t, b, lb);
        memcpy(buf, a, la);
        memcpy(buf + la, b, lb);
        int32_t im = ltx_tok_strmap_get(&t->vocab, t, buf, la + lb);
        if (ia < 0 || ib < 0 || im < 0)
            return ltx_err(LTX_ERR_FORMAT,
                           "tokenizer %s: merge #%u (\"%.*s\" \"%.*s\") uses a "
                           "token missing from the vocab",
                           p, rank, (int)la, a, (int)lb, b);
        ltx_tok_mergemap_put(&t->merges, ia, ib, rank, im);
    }
    return LTX_OK;
}

/* unk and byte-fallback ids, and the post-processor's single-sequence template. */
static ltx_status load_specials(ltx_gemma_tokenizer *t, const cJSON *root)
{
    const char *p = t->path;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *unk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(model, "unk_token"));
    t->unk_id = unk ? ltx_tok_strmap_get(&t->vocab, t, unk, strlen(unk)) : -1;
    if (unk && t->unk_id < 0)
        return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: unk_token \"%s\" not in vocab", p, unk);
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b); /* ref: format!("<{b:#04X}>") */
        t->byte_id[b] = ltx_tok_strmap_get(&t->vocab, t, s, 6);
    }
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    if (!pp || cJSON_IsNull(pp)) return LTX_OK;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pp, "type"));
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
    if (!type || strcmp(type, "TemplateProcessing") || !cJSON_IsArray(single))
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "tokenizer %s: post_processor must be TemplateProcessing", p);
    bool after = false;
    for (const cJSON *e = single->child; e; e = e->next) {
        if (cJSON_GetObjectItemCaseSensitive(e, "Sequence")) {
            after = true;
            continue;
        }
        const cJSON *stok = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(stok, "id"));
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(sp, name ? name : ""), "ids");
        if (!name || !cJSON_IsArray(ids))
            return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: bad post_processor template", p);
        for (const cJSON *i = ids->child; i; i = i->next) {
            int *cnt = after ? &t->n_post : &t->n_pre;
            int32_t *dst = after ? t->post_ids : t->pre_ids;
            if (*cnt == 8 || !cJSON_IsNumber(i) || i->valueint < 0 || i->valueint >= t->n_ids)
                return ltx_err(LTX_ERR_FORMAT, "tokenizer %s: bad post_processor id", p);
            dst[(*cnt)++] = i->valueint;
        }
    }
    return LTX_OK;
}

ltx_status ltx_gemma_tokenizer_load(const char *path, ltx_gemma_tokenizer **out)
{
    *out = NULL;
    if (!path || !*path) return ltx_err(LTX_ERR_INVALID_ARG, "tokenizer: no path given");
    ltx_gemma_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return ltx_err(LTX_ERR_OOM, "tokenizer: out of memory");
    struct stat sb;
    size_t pl = strlen(path);
    t->path = malloc(pl + sizeof "/tokenizer.json");
    if (!t->path) {
        free(t);
        return ltx_err(LTX_ERR_OOM, "tokenizer: out of memory");
    }
    memcpy(t->path, path, pl + 1);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) /* a Gemma root folder */
        memcpy(t->path + pl, "/tokenizer.json", sizeof "/tokenizer.json");

    char *buf = NULL;
    size_t n = 0;
    cJSON *root = NULL;
    ltx_status st;
    LTX_CHECK_GOTO(st, read_file(t->path, &buf, &n), fail);
    root = cJSON_ParseWithLength(buf, n);
    free(buf);
    if (!root) {
        st = ltx_err(LTX_ERR_FORMAT, "tokenizer %s: not valid JSON", t->path);
        goto fail;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    LTX_CHECK_GOTO(st, load_pipeline(t, root), fail);
    LTX_CHECK_GOTO(st, load_vocab(t, cJSON_GetObjectItemCaseSensitive(model, "vocab"), added),
                   fail);
    LTX_CHECK_GOTO(st, load_added(t, added), fail);
    LTX_CHECK_GOTO(st, load_merges(t, cJSON_GetObjectItemCaseSensitive(model, "merges")), fail);
    LTX_CHECK_GOTO(st, load_specials(t, root), fail);
    cJSON_Delete(root);
    *out = t;
    return LTX_OK;
fail:
    cJSON_Delete(root);
    ltx_gemma_tokenizer_free(t);
    return st;
}

void ltx_gemma_tokenizer_free(ltx_gemma_tokenizer *t)
{
    if (!t) return;
    ltx_tok_strmap_free(&t->vocab);
    ltx_tok_strmap_free(&t->added);
    ltx_tok_mergemap_free(&t->merges);
    free(t->path);
    free(t->arena);
    free(t->str_off);
    free(t->str_len);
    free(t->in_model);
    free(t->special);
    free(t->norm_pat);
    free(t->norm_rep);
    free(t->split_pat);
    free(t);
}

int ltx_gemma_tokenizer_vocab_size(const ltx_gemma_tokenizer *t)
{
    return t->n_ids;
}

const char *ltx_gemma_tokenizer_token(const ltx_gemma_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_ids ? tok_str(t, id) : NULL;
}

/* ---- encoding ------------------------------------------------------------------------------ */

/* A piece of text between added tokens: normalize, pre-tokenize, BPE each word. */
static ltx_status encode_piece(const ltx_gemma_tokenizer *t, const char *s, size_t n, tok_ids *out)
{
    char *norm = NULL;
    const char *w = s;
    size_t wn = n;
    if (t->norm_pat) {
        size_t pl = strlen(t->norm_pat), rl = strlen(t->norm_rep);
        size_t cap = n + 1 + (rl > pl ? (n / pl) * (rl - pl) : 0);
        if (!(norm = malloc(cap))) return ltx_err(LTX_ERR_OOM, "tokenizer: out of memory");
        size_t j = 0;
        for (size_t i = 0; i < n;) {
            if (n - i >= pl && memcmp(s + i, t->norm_pat, pl) == 0) {
                memcpy(norm + j, t->norm_rep, rl);
                j += rl;
                i += pl;
            } else
                norm[j++] = s[i++];
        }
        w = norm;
        wn = j;
    }
    /* Split(pattern, MergedWithPrevious): each word ends right after an occurrence. */
    ltx_status st = LTX_OK;
    size_t pl = t->split_pat ? strlen(t->split_pat) : 0, start = 0;
    for (size_t i = 0; st == LTX_OK && i < wn;) {
        if (pl && wn - i >= pl && memcmp(w + i, t->split_pat, pl) == 0) {
            i += pl;
            st = ltx_tok_bpe_word(t, w + start, i - start, out);
            start = i;
        } else
            i++;
    }
    if (st == LTX_OK && start < wn) st = ltx_tok_bpe_word(t, w + start, wn - start, out);
    free(norm);
    return st;
}

/* The id of the longest added token at s[0..n), or -1. */
static int32_t added_at(const ltx_gemma_tokenizer *t, const char *s, size_t n, size_t *len)
{
    if (!t->added_first[(unsigned char)s[0]]) return -1;
    for (int k = 0; k < t->n_added_lens; k++) {
        size_t l = (size_t)t->added_lens[k];
        if (l > n) continue;
        int32_t id = ltx_tok_strmap_get(&t->added, t, s, l);
        if (id >= 0) {
            *len = l;
            return id;
        }
    }
    return -1;
}

/* Encodes valid UTF-8 s[0..n) without special tokens, appending to out. */
static ltx_status encode_valid(const ltx_gemma_tokenizer *t, const char *s, size_t n, tok_ids *out)
{
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        size_t l = 0;
        int32_t id = added_at(t, s + i, n - i, &l);
        if (id < 0) {
            i++;
            continue;
        }
        if (start < i) LTX_TRY(encode_piece(t, s + start, i - start, out));
        if (!ltx_tok_ids_push(out, id)) return ltx_err(LTX_ERR_OOM, "tokenizer: out of memory");
        i += l;
        start = i;
    }
    if (start < n) LTX_TRY(encode_piece(t, s + start, n - start, out));
    return LTX_OK;
}

/* Sanitizes, then encodes s[0..n) (content ids only). */
static ltx_status encode_content(const ltx_gemma_tokenizer *t, const char *s, size_t n,
                                 tok_ids *out)
{
    char *clean = NULL;
    size_t cn = 0;
    if (!ltx_tok_utf8_sanitize(s, n, &clean, &cn))
        return ltx_err(LTX_ERR_OOM, "tokenizer: out of memory");
    ltx_status st = encode_valid(t, clean, cn, out);
    free(clean);
    return st;
}

ltx_status ltx_gemma_tokenizer_encode(const ltx_gemma_tokenizer *t, const char *text, size_t len,
                                      int add_bos, int32_t **ids, int *n)
{
    *ids = NULL;
    *n = 0;
    if (!t || (!text && len)) return ltx_err(LTX_ERR_INVALID_ARG, "tokenizer: NULL argument");
    tok_ids v = {0};
    ltx_status st = LTX_OK;
    if (add_bos)
        for (int i = 0; i < t->n_pre; i++)
            if (!ltx_tok_ids_push(&v, t->pre_ids[i])) goto oom;
    LTX_CHECK_GOTO(st, encode_content(t, text ? text : "", len, &v), fail);
    if (add_bos)
        for (int i = 0; i < t->n_post; i++)
            if (!ltx_tok_ids_push(&v, t->post_ids[i])) goto oom;
    if (!v.v && !(v.v = malloc(sizeof(int32_t)))) goto oom;
    *ids = v.v;
    *n = v.n;
    return LTX_OK;
oom:
    st = ltx_err(LTX_ERR_OOM, "tokenizer: out of memory");
fail:
    free(v.v);
    return st;
}

/* ---- LTX convention ------------------------------------------------------------------------ */

/* Decodes one valid-or-not code point at s[i..n); *cl = bytes consumed (>= 1), -1 = ill-formed. */
static int32_t code_point(const unsigned char *s, size_t n, size_t *cl)
{
    unsigned char c = s[0];
    size_t l = (size_t)tok_utf8_len(c);
    *cl = 1;
    if (c < 0x80) return c;
    if (c < 0xC2 || c > 0xF4 || l > n) return -1;
    int32_t cp = c & (l == 2 ? 0x1F : l == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < l; k++) {
        if ((s[k] & 0xC0) != 0x80) return -1;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    *cl = l;
    return cp;
}

/* ref: Python str.isspace() as used by str.strip() (Unicode White_Space + bidi B/S/WS). */
static bool py_space(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

void ltx_gemma_py_strip(const char *text, size_t len, size_t *start, size_t *n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t a = 0, b = len;
    while (a < len) {
        size_t cl;
        if (!py_space(code_point(s + a, len - a, &cl))) break;
        a += cl;
    }
    while (b > a) {
        /* Step back to the start of the last code point (at most 3 continuation bytes). */
        size_t k = b - 1;
        while (k > a && b - k < 4 && (s[k] & 0xC0) == 0x80)
            k--;
        size_t cl;
        int32_t cp = code_point(s + k, b - k, &cl);
        if (k + cl != b || !py_space(cp)) break;
        b = k;
    }
    *start = a;
    *n = b - a;
}

/* The LTX text path up to truncation: sanitize, Python strip, encode (no special tokens). */
static ltx_status encode_stripped(const ltx_gemma_tokenizer *t, const char *text, size_t len,
                                  tok_ids *v)
{
    /* Strip after sanitizing: Python strips the decoded str, where bad bytes are U+FFFD. */
    char *clean = NULL;
    size_t cn = 0;
    if (!ltx_tok_utf8_sanitize(text ? text : "", len, &clean, &cn))
        return ltx_err(LTX_ERR_OOM, "tokenizer: out of memory");
    size_t a, sn;
    ltx_gemma_py_strip(clean, cn, &a, &sn);
    ltx_status st = encode_valid(t, clean + a, sn, v);
    free(clean);
    return st;
}

ltx_status ltx_gemma_count_ltx(const ltx_gemma_tokenizer *t, const char *text, size_t len, int *n)
{
    *n = 0;
    if (!t || (!text && len)) return ltx_err(LTX_ERR_INVALID_ARG, "tokenizer: NULL argument");
    tok_ids v = {0};
    ltx_status st = encode_stripped(t, text, len, &v);
    if (st == LTX_OK) *n = v.n + t->n_pre + t->n_post;
    free(v.v);
    return st;
}

ltx_status ltx_gemma_tokenize_ltx(const ltx_gemma_tokenizer *t, const char *text, size_t len,
                                  int max_len, int32_t *ids_out, int32_t *mask_out)
{
    if (!t || (!text && len) || !ids_out || !mask_out)
        return ltx_err(LTX_ERR_INVALID_ARG, "tokenizer: NULL argument");
    int n_special = t->n_pre + t->n_post;
    if (max_len < n_special || max_len < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "tokenizer: max_len %d < %d special tokens", max_len,
                       n_special);
    tok_ids v = {0};
    ltx_status st = encode_stripped(t, text, len, &v);
    if (st != LTX_OK) {
        free(v.v);
        return st;
    }
    /* ref: HF truncation keeps room for the template's special tokens, then post-processes. */
    int keep = v.n < max_len - n_special ? v.n : max_len - n_special;
    int real = keep + n_special, pad = max_len - real, j = 0;
    for (; j < pad; j++)
        ids_out[j] = LTX_GEMMA_PAD_ID, mask_out[j] = 0;
    for (int i = 0; i < t->n_pre; i++)
        ids_out[j++] = t->pre_ids[i];
    for (int i = 0; i < keep; i++)
        ids_out[j++] = v.v[i];
    for (int i = 0; i < t->n_post; i++)
        ids_out[j++] = t->post_ids[i];
    for (j = pad; j < max_len; j++)
        mask_out[j] = 1;
    free(v.v);
    return LTX_OK;
}

/* ---- decoding ------------------------------------------------------------------------------ */

/* The byte of a "<0xXX>" token, or -1. ref: decoders/byte_fallback.rs */
static int byte_token(const char *s, uint32_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

ltx_status ltx_gemma_tokenizer_decode(const ltx_gemma_tokenizer *t, const int32_t *ids, int n,
                                      int skip_special, char **text, size_t *len)
{
    *text = NULL;
    if (len) *len = 0;
    if (!t->decoder_ok)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "tokenizer %s: decoder is not Sequence[Replace(\"\xE2\x96\x81\" -> \" \"), "
                       "ByteFallback, Fuse]; decode not supported",
                       t->path);
    size_t cap = 1;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_ids)
            return ltx_err(LTX_ERR_INVALID_ARG, "tokenizer: decode id %d out of range [0, %d)",
                           ids[i], t->n_ids);
        cap += (size_t)t->str_len[ids[i]] * 3 + 3; /* "▁"->" " shrinks; U+FFFD per byte grows */
    }
    char *o = malloc(cap), *bytes = malloc((size_t)n + 1);
    if (!o || !bytes) {
        free(o);
        free(bytes);
        return ltx_err(LTX_ERR_OOM, "tokenizer: out of memory");
    }
    size_t j = 0, nb = 0;
    for (int i = 0; i <= n; i++) {
        int b = -1;
        if (i < n) {
            if (skip_special && t->special[ids[i]]) continue;
            b = byte_token(tok_str(t, ids[i]), t->str_len[ids[i]]);
        }
        if (b >= 0) {
            bytes[nb++] = (char)b;
            continue;
        }
        if (nb) { /* flush a byte run: valid UTF-8 as is, else one U+FFFD per byte */
            char *chk = NULL;
            size_t cn = 0;
            bool ok = ltx_tok_utf8_sanitize(bytes, nb, &chk, &cn);
            bool valid = ok && cn == nb && memcmp(chk, bytes, nb) == 0;
            free(chk);
            for (size_t k = 0; k < nb; k++, j += valid ? 1 : 3)
                memcpy(o + j, valid ? bytes + k : "\xEF\xBF\xBD", valid ? 1 : 3);
            nb = 0;
        }
        if (i == n) break;
        const char *s = tok_str(t, ids[i]);
        uint32_t sl = t->str_len[ids[i]];
        for (uint32_t k = 0; k < sl;) { /* Replace("▁" -> " ") */
            if (sl - k >= 3 && memcmp(s + k, "\xE2\x96\x81", 3) == 0) {
                o[j++] = ' ';
                k += 3;
            } else
                o[j++] = s[k++];
        }
    }
    o[j] = 0;
    free(bytes);
    *text = o;
    if (len) *len = j;
    return LTX_OK;
}
