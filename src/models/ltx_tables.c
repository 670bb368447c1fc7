/*
 * ltx_tables.c — the transformer's per-stage cache of input-derived tables: RoPE cos/sin of a
 * positions tensor and the additive attention biases of its masks are computed once and reused
 * by every denoising step of a stage (they depend only on the positions / masks, which a stage
 * keeps), so a forward does not rebuild them on the host and upload them again.
 *
 * Key: the input tensor's identity — buffer, offset, dtype, shape and strides — plus, for RoPE,
 * the table parameters. The entry keeps a view of the input, which retains its buffer, so the
 * address cannot be reused by another tensor while cached. Inputs must not be modified in place
 * while cached; stages clear the cache when they start and end (ltx_transformer_clear_tables).
 * An entry whose input only the cache still references (its owner freed it) is dropped at the
 * next lookup. No reference counterpart (the reference recomputes them per forward).
 */
#include "models/ltx_transformer_internal.h"

#include <stdlib.h>
#include <string.h>

#define TF_TABLE_SLOTS 16

typedef struct tf_table {
    int kind;           /* TF_TABLE_* */
    ltx_tensor *key;    /* view of the input */
    ltx_rope_params rp; /* rope only; axes copied into axes[] */
    int axes[LTX_ROPE_MAX_AXES];
    ltx_tensor *a, *b; /* results (rope: cos, sin; masks: bias, NULL) */
} tf_table;

struct tf_tables {
    tf_table e[TF_TABLE_SLOTS];
    int n;
    int64_t hits, misses;
};

static void entry_free(tf_table *t)
{
    ltx_tensor_free(t->key);
    ltx_tensor_free(t->a);
    ltx_tensor_free(t->b);
    memset(t, 0, sizeof *t);
}

void ltx_transformer_clear_tables(ltx_transformer *m)
{
    if (!m || !m->tables) return;
    for (int i = 0; i < m->tables->n; i++)
        entry_free(&m->tables->e[i]);
    free(m->tables);
    m->tables = NULL;
}

static bool same_input(const ltx_tensor *k, const ltx_tensor *t)
{
    if (k->buf != t->buf || k->offset != t->offset || k->dtype != t->dtype || k->ndim != t->ndim)
        return false;
    for (int d = 0; d < t->ndim; d++)
        if (k->shape[d] != t->shape[d] || k->stride[d] != t->stride[d]) return false;
    return true;
}

static bool same_rope(const tf_table *e, const ltx_rope_params *p)
{
    const ltx_rope_params *q = &e->rp;
    if (q->dim != p->dim || q->heads != p->heads || q->n_axes != p->n_axes ||
        q->theta != p->theta || q->use_middle != p->use_middle || q->mode != p->mode ||
        q->f64_grid != p->f64_grid || (p->axes == NULL) != (q->axes == NULL))
        return false;
    for (int i = 0; i < p->n_axes; i++) {
        if (q->max_pos[i] != p->max_pos[i]) return false;
        if (p->axes && e->axes[i] != p->axes[i]) return false;
    }
    return true;
}

/* The matching entry, or NULL; drops entries whose input was freed by its owner. */
static tf_table *lookup(ltx_transformer *m, int kind, const ltx_tensor *in,
                        const ltx_rope_params *rp)
{
    struct tf_tables *c = m->tables;
    if (!c) return NULL;
    for (int i = 0; i < c->n;) {
        tf_table *e = &c->e[i];
        if (e->key->buf->refs == 1) { /* only this view is left: stale */
            entry_free(e);
            c->e[i] = c->e[--c->n];
            continue;
        }
        if (e->kind == kind && same_input(e->key, in) && (!rp || same_rope(e, rp))) return e;
        i++;
    }
    return NULL;
}

/* A new entry (the oldest is replaced when full); NULL when out of memory. */
static tf_table *insert(ltx_transformer *m, int kind, const ltx_tensor *in)
{
    if (!m->tables && !(m->tables = calloc(1, sizeof *m->tables))) {
        ltx_err(LTX_ERR_OOM, "rope table cache: out of memory");
        return NULL;
    }
    struct tf_tables *c = m->tables;
    if (c->n == TF_TABLE_SLOTS) {
        entry_free(&c->e[0]);
        memmove(c->e, c->e + 1, sizeof c->e[0] * (TF_TABLE_SLOTS - 1));
        c->n--;
        memset(&c->e[c->n], 0, sizeof c->e[0]);
    }
    tf_table *e = &c->e[c->n];
    e->key = ltx_tensor_view(in);
    if (!e->key) return NULL;
    e->kind = kind;
    c->n++;
    return e;
}

ltx_status ltx_tf_table_rope(ltx_transformer *m, const ltx_rope_params *rp,
                             const ltx_tensor *positions, ltx_tensor **cos, ltx_tensor **sin)
{
    *cos = *sin = NULL;
    tf_table *e = lookup(m, TF_TABLE_ROPE, positions, rp);
    if (!e) {
        ltx_tensor *c = NULL, *s = NULL;
        LTX_TRY(ltx_rope_tables(m->be, rp, positions, &c, &s));
        e = insert(m, TF_TABLE_ROPE, positions);
        if (!e) {
            ltx_tensor_free(c), ltx_tensor_free(s);
            return ltx_err(LTX_ERR_OOM, "rope table cache: out of memory");
        }
        e->rp = *rp;
        if (rp->axes) memcpy(e->axes, rp->axes, sizeof(int) * (size_t)rp->n_axes);
        e->a = c;
        e->b = s;
        m->tables->misses++;
    } else {
        m->tables->hits++;
    }
    *cos = ltx_tensor_view(e->a);
    *sin = ltx_tensor_view(e->b);
    if (!*cos || !*sin) {
        ltx_tensor_free(*cos), ltx_tensor_free(*sin);
        *cos = *sin = NULL;
        return ltx_err(LTX_ERR_OOM, "rope table cache: out of memory");
    }
    return LTX_OK;
}

ltx_tensor *ltx_tf_table_mask(ltx_transformer *m, int kind, const ltx_tensor *mask,
                              ltx_tensor *(*build)(ltx_backend *be, const ltx_tensor *mask))
{
    tf_table *e = lookup(m, kind, mask, NULL);
    if (!e) {
        ltx_tensor *t = build(m->be, mask);
        if (!t) return NULL;
        e = insert(m, kind, mask);
        if (!e) {
            ltx_tensor_free(t);
            ltx_err(LTX_ERR_OOM, "mask cache: out of memory");
            return NULL;
        }
        e->a = t;
        m->tables->misses++;
    } else {
        m->tables->hits++;
    }
    return ltx_tensor_view(e->a);
}

void ltx_transformer_table_stats(const ltx_transformer *m, int64_t *hits, int64_t *misses)
{
    *hits = m && m->tables ? m->tables->hits : 0;
    *misses = m && m->tables ? m->tables->misses : 0;
}
