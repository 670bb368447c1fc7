/*
 * tok_bpe.c — the Gemma tokenizer's building blocks: string->id and pair->merge hash maps,
 * UTF-8 sanitizing, and the BPE merge of one word with byte fallback.
 *
 * Mirrors Hugging Face `tokenizers` (Rust) src/models/bpe/model.rs (BPE::merge_word) and
 * src/models/bpe/word.rs (Word::merge_all) — behaviour, not code: the merge queue orders by
 * (rank, position), and a queued merge is skipped as stale only when the pair now at its
 * position maps to a *different* merged id. Gemma 3 has 160k merge results reachable from more
 * than one pair, so this exact staleness rule matters and is kept.
 * No dropout and no continuing-subword prefix / end-of-word suffix (rejected at load).
 */
#include "tokenizer/tok_internal.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- hashing and maps ----------------------------------------------------------------------- */

/* 64-bit hash of s[0..n) (FNV-1a with a splitmix64 finalizer); s need not be NUL-terminated. */
static uint64_t tok_hash_bytes(const char *s, size_t n)
{
    /* FNV-1a 64 with a final avalanche (splitmix64's finalizer) so low bits are well mixed. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint32_t pow2_cap(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    return (uint32_t)cap;
}

bool ltx_tok_strmap_init(tok_strmap *m, size_t n)
{
    uint32_t cap = pow2_cap(n);
    m->slots = malloc(sizeof(tok_strslot) * cap);
    m->mask = cap - 1;
    if (!m->slots) return false;
    for (uint32_t i = 0; i < cap; i++)
        m->slots[i].id = -1;
    return true;
}

void ltx_tok_strmap_free(tok_strmap *m)
{
    free(m->slots);
    m->slots = NULL;
}

int32_t ltx_tok_strmap_put(tok_strmap *m, const ltx_gemma_tokenizer *t, int32_t id)
{
    const char *s = tok_str(t, id);
    uint32_t n = t->str_len[id];
    uint64_t h = tok_hash_bytes(s, n);
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        tok_strslot *e = &m->slots[i];
        if (e->id < 0) {
            *e = (tok_strslot){(uint32_t)(h >> 32), n, t->str_off[id], id};
            return -1;
        }
        if (e->hash == (uint32_t)(h >> 32) && e->len == n && !memcmp(t->arena + e->off, s, n))
            return e->id;
    }
}

int32_t ltx_tok_strmap_get(const tok_strmap *m, const ltx_gemma_tokenizer *t, const char *s,
                           size_t n)
{
    uint64_t h = tok_hash_bytes(s, n);
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        const tok_strslot *e = &m->slots[i];
        if (e->id < 0) return -1;
        if (e->hash == (uint32_t)(h >> 32) && e->len == n && !memcmp(t->arena + e->off, s, n))
            return e->id;
    }
}

bool ltx_tok_mergemap_init(tok_mergemap *m, size_t n)
{
    uint32_t cap = pow2_cap(n);
    m->slots = malloc(sizeof(tok_mergeslot) * cap);
    m->mask = cap - 1;
    if (!m->slots) return false;
    for (uint32_t i = 0; i < cap; i++)
        m->slots[i].key = TOK_EMPTY_PAIR;
    return true;
}

void ltx_tok_mergemap_free(tok_mergemap *m)
{
    free(m->slots);
    m->slots = NULL;
}

void ltx_tok_mergemap_put(tok_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id)
{
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint32_t i = (uint32_t)hash_u64(key) & m->mask;
    while (m->slots[i].key != TOK_EMPTY_PAIR && m->slots[i].key != key)
        i = (i + 1) & m->mask;
    m->slots[i] = (tok_mergeslot){key, rank, new_id};
}

/* Finds the pair; returns false when absent. */
static bool tok_mergemap_get(const tok_mergemap *m, int32_t a, int32_t b, uint32_t *rank,
                             int32_t *new_id)
{
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (uint32_t i = (uint32_t)hash_u64(key) & m->mask;; i = (i + 1) & m->mask) {
        const tok_mergeslot *e = &m->slots[i];
        if (e->key == key) {
            *rank = e->rank;
            *new_id = e->new_id;
            return true;
        }
        if (e->key == TOK_EMPTY_PAIR) return false;
    }
}

bool ltx_tok_ids_push(tok_ids *v, int32_t id)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = realloc(v->v, sizeof(int32_t) * (size_t)cap);
        if (!p) return false;
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = id;
    return true;
}

/* ---- UTF-8 ------------------------------------------------------------------------------------
 */

/* Length of the well-formed sequence at s[0..n), or -k when its first k >= 1 bytes are a
 * maximal ill-formed subpart (Unicode 15 §3.9, Table 3-7 "well-formed byte sequences"). */
static int utf8_check(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    int need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0; /* no overlongs */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90; /* no overlongs */
        if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
    } else
        return -1;
    int k = 1;
    for (; k <= need; k++) {
        if ((size_t)k >= n) return -k;
        unsigned char b = s[k];
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) return -k;
    }
    return need + 1;
}

bool ltx_tok_utf8_sanitize(const char *s, size_t n, char **out, size_t *out_n)
{
    /* Worst case: every byte becomes the 3-byte U+FFFD. */
    char *o = malloc(n * 3 + 1);
    if (!o) return false;
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        int k = utf8_check((const unsigned char *)s + i, n - i);
        if (k > 0) {
            memcpy(o + j, s + i, (size_t)k);
            j += (size_t)k;
            i += (size_t)k;
        } else {
            memcpy(o + j, "\xEF\xBF\xBD", 3);
            j += 3;
            i += (size_t)-k;
        }
    }
    o[j] = 0;
    *out = o;
    *out_n = j;
    return true;
}

/* ---- BPE ------------------------------------------------------------------------------------- */

typedef struct symbol {
    int32_t c;          /* token id */
    int32_t prev, next; /* neighbours in the live list, -1 at the ends */
    uint32_t len;       /* bytes covered; 0 = merged away */
} symbol;

typedef struct merge_item {
    uint32_t rank, pos;
    int32_t new_id;
} merge_item;

/* Min-heap on (rank, pos): the order of HF's BinaryHeap<Merge> (its Ord is reversed). */
static bool item_less(const merge_item *a, const merge_item *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(merge_item *h, int *n, merge_item it)
{
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!item_less(&it, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static merge_item heap_pop(merge_item *h, int *n)
{
    merge_item top = h[0], last = h[--(*n)];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        const merge_item *best = &last;
        if (l < *n && item_less(&h[l], best)) m = l, best = &h[l];
        if (r < *n && item_less(&h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n > 0) h[i] = last;
    return top;
}

static bool sym_add(symbol **s, int *n, int *cap, int32_t c, uint32_t len)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        symbol *p = realloc(*s, sizeof(symbol) * (size_t)nc);
        if (!p) return false;
        *s = p;
        *cap = nc;
    }
    (*s)[*n] = (symbol){c, *n - 1, -1, len};
    if (*n > 0) (*s)[*n - 1].next = *n;
    (*n)++;
    return true;
}

/* Splits the word into initial symbols: one per character in the vocab, else one per byte
 * ("<0xXX>", byte_fallback), else <unk> (consecutive ones fused when fuse_unk).
 * ref: BPE::merge_word — including its quirk that a pending <unk> is flushed only before the
 * next in-vocab character (byte-fallback bytes do not flush it). */
static bool initial_symbols(const ltx_gemma_tokenizer *t, const char *w, size_t n, symbol **sym,
                            int *ns, int *cap)
{
    int32_t unk = -1;
    uint32_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        size_t cl = (size_t)tok_utf8_len((unsigned char)w[i]);
        if (cl > n - i) cl = n - i;
        int32_t id = ltx_tok_strmap_get(&t->vocab, t, w + i, cl);
        if (id >= 0) {
            if (unk >= 0 && !sym_add(sym, ns, cap, unk, unk_len)) return false;
            unk = -1;
            if (!sym_add(sym, ns, cap, id, (uint32_t)cl)) return false;
        } else {
            bool done = false;
            if (t->byte_fallback) {
                done = true;
                for (size_t k = 0; k < cl; k++)
                    if (t->byte_id[(unsigned char)w[i + k]] < 0) done = false;
                for (size_t k = 0; done && k < cl; k++)
                    if (!sym_add(sym, ns, cap, t->byte_id[(unsigned char)w[i + k]], 1))
                        return false;
            }
            if (!done && t->unk_id >= 0) {
                if (unk >= 0 && t->fuse_unk)
                    unk_len += (uint32_t)cl;
                else {
                    if (unk >= 0 && !sym_add(sym, ns, cap, unk, unk_len)) return false;
                    unk = t->unk_id;
                    unk_len = (uint32_t)cl;
                }
            }
        }
        i += cl;
    }
    if (unk >= 0 && !sym_add(sym, ns, cap, unk, unk_len)) return false;
    return true;
}

ltx_status ltx_tok_bpe_word(const ltx_gemma_tokenizer *t, const char *w, size_t n, tok_ids *out)
{
    symbol *s = NULL;
    merge_item *heap = NULL;
    int ns = 0, cap = 0, nh = 0;
    ltx_status st = LTX_OK;
    if (!initial_symbols(t, w, n, &s, &ns, &cap)) goto oom;
    /* Each merge pushes at most 2 items and removes a symbol: ns initial + 2 * ns pushes. */
    heap = malloc(sizeof(merge_item) * (size_t)(3 * ns + 1));
    if (!heap) goto oom;
    for (int i = 0; i + 1 < ns; i++) {
        uint32_t rank;
        int32_t nid;
        if (tok_mergemap_get(&t->merges, s[i].c, s[i + 1].c, &rank, &nid))
            heap_push(heap, &nh, (merge_item){rank, (uint32_t)i, nid});
    }
    while (nh > 0) {
        merge_item top = heap_pop(heap, &nh);
        symbol *cur = &s[top.pos];
        if (cur->len == 0 || cur->next < 0) continue;
        int next = cur->next;
        uint32_t rank;
        int32_t nid;
        /* Stale entry: the pair here now merges to something else (or not at all). */
        if (!tok_mergemap_get(&t->merges, cur->c, s[next].c, &rank, &nid) || nid != top.new_id)
            continue;
        cur->c = top.new_id;
        cur->len += s[next].len;
        cur->next = s[next].next;
        s[next].len = 0;
        if (cur->next >= 0) s[cur->next].prev = (int32_t)top.pos;
        if (cur->prev >= 0 && tok_mergemap_get(&t->merges, s[cur->prev].c, cur->c, &rank, &nid))
            heap_push(heap, &nh, (merge_item){rank, (uint32_t)cur->prev, nid});
        if (cur->next >= 0 && tok_mergemap_get(&t->merges, cur->c, s[cur->next].c, &rank, &nid))
            heap_push(heap, &nh, (merge_item){rank, top.pos, nid});
    }
    for (int i = 0; i < ns; i++)
        if (s[i].len != 0 && !ltx_tok_ids_push(out, s[i].c)) goto oom;
    goto done;
oom:
    st = ltx_err(LTX_ERR_OOM, "tokenizer: out of memory encoding a %zu-byte word", n);
done:
    free(s);
    free(heap);
    return st;
}
