/* memory.c — where a model's activations and activation gradients live: a liveness plan over one
 * step, so that buffers whose lifetimes do not overlap share memory (see model.h "Memory").
 *
 * Time runs over the step: forward op k at time k, then backward op k at time 2·n_ops − 1 − k.
 *   - An activation is produced by op p at time p and read up to its last consumer; one that a
 *     backward op reads (a conv's or linear's input, a BN's input, the output of a fused ReLU, an
 *     add+ReLU, a ReLU or the L2 norm), the model's output and the pooled features stay for the
 *     whole step (they are read after the forward pass). Without gradients (the key encoder, the
 *     evaluators) only the output and the features stay; everything else is transient.
 *   - The gradient of activation j is first written by the backward of its last consumer and last
 *     read by the backward of its producer; the output's gradient is copied in at the start.
 * Intervals are inclusive, so an op's output never shares memory with its input, and its input
 * gradient never with its output gradient. Offsets come from a first-fit over the intervals in
 * order of birth; every offset is 16-float (64-byte) aligned. An activation in bf16 storage takes
 * half the floats of its fp32 size (its gradient is fp32).
 */
#include <stdlib.h>
#include <string.h>

#include "core/model/model.h"

typedef struct {
    int birth, death; /* inclusive */
    size_t size;      /* floats, rounded up to 16 */
    size_t *off;      /* where the result goes */
} Interval;

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* 1 when a backward op reads activation i of a model with gradients. */
static int read_by_backward(const Model *m, int i)
{
    for (int k = 0; k < m->n_ops; k++) {
        const Op *op = &m->ops[k];
        if (op->in == i && (op->kind == OP_CONV || op->kind == OP_LINEAR || op->kind == OP_BN))
            return 1;
        if (op->out == i && (op->kind == OP_RELU || op->kind == OP_ADD_RELU ||
                             op->kind == OP_L2NORM || (op->kind == OP_BN && op->s.bn.relu)))
            return 1;
    }
    return 0;
}

static int cmp_birth(const void *a, const void *b)
{
    const Interval *x = a, *y = b;
    return (x->birth > y->birth) - (x->birth < y->birth);
}

/* First fit: each interval, in order of birth, at the lowest offset where it overlaps no placed
 * interval that is alive at the same time. Returns the total floats. */
static size_t place(Interval *iv, int n)
{
    qsort(iv, (size_t)n, sizeof *iv, cmp_birth);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t at = 0;
        for (int moved = 1; moved;) { /* bump past every conflicting placed interval */
            moved = 0;
            for (int j = 0; j < i; j++) {
                int alive = iv[j].death >= iv[i].birth && iv[j].birth <= iv[i].death;
                size_t lo = *iv[j].off, hi = lo + iv[j].size;
                if (alive && at < hi && at + iv[i].size > lo) {
                    at = hi;
                    moved = 1;
                }
            }
        }
        *iv[i].off = at;
        if (at + iv[i].size > total) total = at + iv[i].size;
    }
    return total;
}

size_t model_plan_memory(const Model *m, size_t *act_off, size_t *dact_off)
{
    const int n_ops = m->n_ops, A = m->n_acts, grads = m->opt.with_grads;
    int *producer = xmalloc((size_t)A * sizeof(int)), *last = xmalloc((size_t)A * sizeof(int));
    for (int i = 0; i < A; i++) producer[i] = last[i] = -1;
    for (int k = 0; k < n_ops; k++) {
        const Op *op = &m->ops[k];
        producer[op->out] = k;
        last[op->in] = k;
        if (op->in2 >= 0) last[op->in2] = k;
    }
    Interval *iv = xcalloc(2 * (size_t)A, sizeof *iv);
    int n = 0;
    const int end = 2 * n_ops; /* after the step */
    for (int i = 1; i < A; i++) {
        const size_t numel = tensor_numel(m->acts[i]), size = round16(numel);
        int keep = i == A - 1 || i == m->feat_act || (grads && read_by_backward(m, i));
        iv[n++] = (Interval){.birth = keep ? 0 : producer[i],
                             .death = keep ? end : last[i],
                             .size = m->act_bf16[i] ? round16((numel + 1) / 2) : size,
                             .off = &act_off[i]};
        if (!grads) continue;
        const int birth = i == A - 1 ? n_ops : 2 * n_ops - 1 - last[i];
        iv[n++] = (Interval){.birth = birth, .death = 2 * n_ops - 1 - producer[i], .size = size,
                             .off = &dact_off[i]};
    }
    size_t total = place(iv, n);
    free(iv), free(producer), free(last);
    return total;
}
