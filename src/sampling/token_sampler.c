/*
 * token_sampler.c — greedy / temperature + top-k + top-p sampling (see token_sampler.h).
 * ref: transformers generation/logits_process.py, generation/utils.py _sample.
 */
#include "sampling/token_sampler.h"

#include <math.h>
#include <stdlib.h>

struct ltx_token_sampler {
    ltx_token_sampler_params p;
    int n;
    uint64_t state;
    int32_t *ids;
    float *scores, *probs;
};

void ltx_token_sampler_params_init(ltx_token_sampler_params *p)
{
    *p = (ltx_token_sampler_params){
        .greedy = false, .temperature = 0.7f, .top_k = 50, .top_p = 1.0f, .seed = 10};
}

ltx_status ltx_token_sampler_new(const ltx_token_sampler_params *p, int n, ltx_token_sampler **out)
{
    *out = NULL;
    if (n <= 0 || (!p->greedy && !(p->temperature > 0.0f)))
        return ltx_err(LTX_ERR_INVALID_ARG, "sampler: vocabulary %d, temperature %g", n,
                       (double)p->temperature);
    ltx_token_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->ids = malloc(sizeof(int32_t) * (size_t)n);
        s->scores = malloc(sizeof(float) * (size_t)n);
        s->probs = malloc(sizeof(float) * (size_t)n);
    }
    if (!s || !s->ids || !s->scores || !s->probs) {
        ltx_token_sampler_free(s);
        return ltx_err(LTX_ERR_OOM, "sampler: out of memory");
    }
    s->p = *p;
    s->n = n;
    s->state = p->seed;
    *out = s;
    return LTX_OK;
}

void ltx_token_sampler_free(ltx_token_sampler *s)
{
    if (!s) return;
    free(s->ids);
    free(s->scores);
    free(s->probs);
    free(s);
}

/* ---- filtering ---- */

/* min-heap of the k largest values */
static void sift_down(float *h, int k, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && h[l] < h[m]) m = l;
        if (r < k && h[r] < h[m]) m = r;
        if (m == i) return;
        float t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* The k-th largest of v[0..n) (k <= n). */
static float kth_largest(const float *v, int n, int k, float *heap)
{
    for (int i = 0; i < k; i++)
        heap[i] = v[i];
    for (int i = k / 2 - 1; i >= 0; i--)
        sift_down(heap, k, i);
    for (int i = k; i < n; i++)
        if (v[i] > heap[0]) {
            heap[0] = v[i];
            sift_down(heap, k, 0);
        }
    return heap[0];
}

typedef struct kept {
    float score;
    int32_t id;
} kept;

static int by_score_desc(const void *a, const void *b)
{
    const kept *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* softmax over sc[ids[0..m)] into pr[0..m) (max-subtracted f32 exps, double sum). */
static void softmax_kept(const float *sc, const int32_t *ids, int m, float *pr)
{
    float mx = sc[ids[0]];
    double sum = 0.0;
    for (int i = 0; i < m; i++) {
        pr[i] = expf(sc[ids[i]] - mx);
        sum += pr[i];
    }
    for (int i = 0; i < m; i++)
        pr[i] = (float)(pr[i] / sum);
}

int ltx_token_filter(const ltx_token_sampler_params *p, const float *logits, int n, int32_t *ids,
                     float *scores, float *probs)
{
    float *sc = malloc(sizeof(float) * (size_t)n);
    if (!sc) return -1;
    for (int i = 0; i < n; i++) /* ref: TemperatureLogitsWarper: scores / temperature */
        sc[i] = logits[i] / p->temperature;
    float thr = -INFINITY;
    if (p->top_k > 0 && p->top_k < n) { /* ref: TopKLogitsWarper: keep >= k-th largest */
        thr = kth_largest(sc, n, p->top_k, probs);
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (sc[i] >= thr && sc[i] > -INFINITY) ids[m++] = i;
    if (m == 0) ids[m++] = 0;
    kept *kv = malloc(sizeof(kept) * (size_t)m);
    if (!kv) {
        free(sc);
        return -1;
    }
    for (int i = 0; i < m; i++)
        kv[i] = (kept){sc[ids[i]], ids[i]};
    qsort(kv, (size_t)m, sizeof *kv, by_score_desc);
    for (int i = 0; i < m; i++)
        ids[i] = kv[i].id;
    free(kv);
    if (p->top_p < 1.0f) {
        /* ref: TopPLogitsWarper over the descending order: removing ascending cum <= 1 - p is
         * keeping the prefix whose descending tail mass stays above 1 - p; min 1 token */
        softmax_kept(sc, ids, m, probs);
        double below = 0.0;
        int keep = m;
        for (int i = m - 1; i > 0; i--) { /* ascending order from the end */
            below += probs[i];
            if (below <= 1.0 - (double)p->top_p)
                keep = i;
            else
                break;
        }
        m = keep;
    }
    softmax_kept(sc, ids, m, probs);
    for (int i = 0; i < m; i++)
        scores[i] = sc[ids[i]];
    free(sc);
    return m;
}

/* ---- drawing ---- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int32_t ltx_token_sampler_pick(ltx_token_sampler *s, const float *logits)
{
    if (s->p.greedy) { /* torch.argmax: the first maximum */
        int32_t best = 0;
        for (int i = 1; i < s->n; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    int m = ltx_token_filter(&s->p, logits, s->n, s->ids, s->scores, s->probs);
    if (m <= 0) return s->ids[0];
    double u = (double)(splitmix64(&s->state) >> 11) * (1.0 / 9007199254740992.0), c = 0.0;
    for (int i = 0; i < m; i++) {
        c += s->probs[i];
        if (u < c) return s->ids[i];
    }
    return s->ids[m - 1];
}
