/* knn.c — weighted kNN (InstDisc kNN monitor, Wu et al. 2018 §3.5); see knn.h for the definition.
 */
#include "downstream/knn.h"

#include "core/backend/backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bound on the similarity block when block_rows = 0. */
#define KNN_BLOCK_BYTES ((size_t)64 << 20)

void knn_l2_normalize(float *x, int N, int D)
{
    for (int n = 0; n < N; n++) {
        float *row = x + (size_t)n * D;
        double ss = 0.0;
        for (int d = 0; d < D; d++)
            ss += (double)row[d] * row[d];
        if (ss == 0.0) continue;
        float inv = (float)(1.0 / sqrt(ss));
        for (int d = 0; d < D; d++)
            row[d] *= inv;
    }
}

/* The heap keeps the k best neighbours seen so far with the worst at the root, where
 * "a is worse than b" = a.s < b.s, or equal similarity and a later index (knn.h tie rule). */
typedef struct {
    float *s; /* (k) similarities */
    int *i;   /* (k) train indices */
    int size, cap;
} KnnHeap;

static int heap_worse(const KnnHeap *h, int a, int b)
{
    return h->s[a] < h->s[b] || (h->s[a] == h->s[b] && h->i[a] > h->i[b]);
}

static void heap_swap(KnnHeap *h, int a, int b)
{
    float ts = h->s[a];
    int ti = h->i[a];
    h->s[a] = h->s[b], h->i[a] = h->i[b];
    h->s[b] = ts, h->i[b] = ti;
}

static void heap_sift_down(KnnHeap *h, int at)
{
    for (;;) {
        int l = 2 * at + 1, r = l + 1, w = at;
        if (l < h->size && heap_worse(h, l, w)) w = l;
        if (r < h->size && heap_worse(h, r, w)) w = r;
        if (w == at) return;
        heap_swap(h, at, w);
        at = w;
    }
}

static void heap_sift_up(KnnHeap *h, int at)
{
    while (at > 0) {
        int parent = (at - 1) / 2;
        if (!heap_worse(h, at, parent)) return;
        heap_swap(h, at, parent);
        at = parent;
    }
}

/* Selects the k best of sim (Ntr) into h. Indices arrive in increasing order, so a candidate equal
 * to the root is worse than it (later index) and is skipped: only s > root enters a full heap. */
static void heap_select(KnnHeap *h, const float *sim, int n)
{
    h->size = 0;
    for (int j = 0; j < n; j++) {
        if (h->size < h->cap) {
            h->s[h->size] = sim[j], h->i[h->size] = j;
            heap_sift_up(h, h->size++);
        } else if (sim[j] > h->s[0]) {
            h->s[0] = sim[j], h->i[0] = j;
            heap_sift_down(h, 0);
        }
    }
}

static ClftStatus knn_check(const KnnBank *bank, const int *test_labels, int n_test,
                            const KnnOptions *opt)
{
    if (bank->n <= 0 || bank->D <= 0 || bank->n_classes <= 0 || n_test < 0) {
        clft_set_error("knn: bad shape (Ntr=%d, D=%d, C=%d, Nte=%d)", bank->n, bank->D,
                       bank->n_classes, n_test);
        return CLFT_ERR_SHAPE;
    }
    if (opt->k <= 0 || !(opt->T > 0.0f) || opt->block_rows < 0) {
        clft_set_error("knn: bad options (k=%d, T=%g, block_rows=%d): need k > 0, T > 0", opt->k,
                       (double)opt->T, opt->block_rows);
        return CLFT_ERR_VALUE;
    }
    for (int i = 0; i < bank->n; i++)
        if (bank->labels[i] < 0 || bank->labels[i] >= bank->n_classes) {
            clft_set_error("knn: train label %d of sample %d outside [0, %d)", bank->labels[i], i,
                           bank->n_classes);
            return CLFT_ERR_VALUE;
        }
    for (int i = 0; i < n_test; i++)
        if (test_labels[i] < 0 || test_labels[i] >= bank->n_classes) {
            clft_set_error("knn: test label %d of sample %d outside [0, %d)", test_labels[i], i,
                           bank->n_classes);
            return CLFT_ERR_VALUE;
        }
    return CLFT_OK;
}

/* Class scores (C) of one test row from its k-heap: Σ exp(s / T) per class, in double. */
static void knn_vote(const KnnBank *bank, const KnnHeap *h, double inv_T, double *scores)
{
    memset(scores, 0, (size_t)bank->n_classes * sizeof *scores);
    for (int j = 0; j < h->size; j++)
        scores[bank->labels[h->i[j]]] += exp((double)h->s[j] * inv_T);
}

ClftStatus knn_classify(const KnnBank *bank, const float *test, const int *test_labels, int n_test,
                        const KnnOptions *opt, KnnOutputs *out, TopkCounts *counts)
{
    ClftStatus st = knn_check(bank, test_labels, n_test, opt);
    if (st != CLFT_OK) return st;
    const int Ntr = bank->n, D = bank->D, C = bank->n_classes;
    int B = opt->block_rows;
    if (B == 0) {
        size_t fit = KNN_BLOCK_BYTES / ((size_t)Ntr * sizeof(float));
        B = fit < 1 ? 1 : (fit > (size_t)n_test ? n_test : (int)fit);
    }
    if (B < 1) B = 1;
    KnnHeap h = {.cap = opt->k < Ntr ? opt->k : Ntr};
    float *sim = xmalloc((size_t)B * Ntr * sizeof *sim);  /* (B, Ntr) */
    h.s = xmalloc((size_t)h.cap * sizeof *h.s);           /* (k) */
    h.i = xmalloc((size_t)h.cap * sizeof *h.i);           /* (k) */
    double *scores = xmalloc((size_t)C * sizeof *scores); /* (C) */
    const double inv_T = 1.0 / (double)opt->T;
    const Backend *host = backend_host(); /* the features are in host memory */
    *counts = (TopkCounts){0};
    for (int n0 = 0; n0 < n_test; n0 += B) {
        int nb = n_test - n0 < B ? n_test - n0 : B;
        /* sim (nb, Ntr) = test[n0 : n0 + nb] (nb, D) · bank.x^T (D, Ntr) */
        host->gemm(0, 1, nb, Ntr, D, 1.0f, test + (size_t)n0 * D, D, bank->x, D, 0.0f, sim, Ntr);
        for (int r = 0; r < nb; r++) {
            heap_select(&h, sim + (size_t)r * Ntr, Ntr);
            knn_vote(bank, &h, inv_T, scores);
            topk_count(counts, scores, C, test_labels[n0 + r]);
            if (out && out->pred) out->pred[n0 + r] = topk_argmax(scores, C);
            if (out && out->scores)
                for (int c = 0; c < C; c++)
                    out->scores[(size_t)(n0 + r) * C + c] = (float)scores[c];
        }
    }
    free(sim), free(h.s), free(h.i), free(scores);
    return CLFT_OK;
}

ClftStatus knn_evaluate(KnnSet train, KnnSet test, int D, int n_classes, const KnnOptions *opt,
                        TopkCounts *counts)
{
    knn_l2_normalize(train.x, train.n, D);
    knn_l2_normalize(test.x, test.n, D);
    KnnBank bank = {
        .x = train.x, .labels = train.labels, .n = train.n, .D = D, .n_classes = n_classes};
    return knn_classify(&bank, test.x, test.labels, test.n, opt, NULL, counts);
}
