/* backend.c — the list of built backends, lookup by name, the checks of backend_select() and the
 * staging helpers of the host↔backend boundaries; see backend.h. */
#include "core/backend/backend.h"

#include <stdlib.h>
#include <string.h>

extern const Backend backend_cpu, backend_cpu_im2col, backend_cpu_ref;
#ifdef CLFT_HAVE_CUDA
extern const Backend backend_cuda;
#endif

static const Backend *const backend_list[] = {
    &backend_cpu,
    &backend_cpu_im2col,
    &backend_cpu_ref,
#ifdef CLFT_HAVE_CUDA
    &backend_cuda,
#endif
    NULL,
};

const Backend *const *backend_all(void) { return backend_list; }

const Backend *backend_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; backend_list[i]; i++)
        if (strcmp(backend_list[i]->name, name) == 0) return backend_list[i];
    return NULL;
}

const char *backend_names(void)
{
    static char buf[128];
    if (buf[0]) return buf;
    for (int i = 0; backend_list[i]; i++) {
        if (i) strncat(buf, " ", sizeof buf - strlen(buf) - 1);
        strncat(buf, backend_list[i]->name, sizeof buf - strlen(buf) - 1);
    }
    return buf;
}

const Backend *backend_host(void) { return &backend_cpu; }

/* The ops of each need group, by name and offset into the table. */
typedef struct {
    const char *name;
    size_t offset;
} OpEntry;
#define OP(f) {#f, offsetof(Backend, f)}
static const OpEntry memory_ops[] = {OP(alloc), OP(free), OP(memset_zero), OP(upload), OP(download),
                                     OP(copy), OP(synchronize), {NULL, 0}};
static const OpEntry train_ops[] = {
    OP(conv2d_workspace_floats), OP(conv2d_forward), OP(conv2d_backward), OP(batchnorm_forward),
    OP(batchnorm_backward), OP(relu_forward), OP(relu_backward), OP(maxpool_forward),
    OP(maxpool_backward), OP(avgpool_forward), OP(avgpool_backward), OP(linear_forward),
    OP(linear_backward), OP(l2norm_forward), OP(l2norm_backward), OP(add_relu_forward),
    OP(add_relu_backward), OP(add_inplace), OP(zero), OP(gather_rows), OP(scatter_rows),
    OP(infonce_forward), OP(infonce_backward), OP(scores_pre), OP(sgd_step), OP(ema_update), OP(nonfinite), {NULL, 0}};
static const OpEntry mix_ops[] = {OP(pair_mix_forward), OP(pair_mix_backward), OP(row_mix),
                                  OP(topk_rows), OP(mix_picked), {NULL, 0}};
static const OpEntry eval_ops[] = {OP(conv2d_workspace_floats), OP(conv2d_forward),
                                   OP(batchnorm_forward), OP(maxpool_forward),
                                   OP(avgpool_forward), OP(linear_forward), OP(linear_backward),
                                   OP(softmax_xent), OP(sgd_step), {NULL, 0}};
#undef OP

static const char *missing_op(const Backend *be, const OpEntry *ops)
{
    for (int i = 0; ops[i].name; i++) {
        void *const *slot = (void *const *)((const char *)be + ops[i].offset);
        if (!*slot) return ops[i].name;
    }
    return NULL;
}

static BackendOptions selected_options;

const BackendOptions *backend_options(void) { return &selected_options; }

static const char *const precision_names[] = {"fp32", "tf32", "bf16"};

const Backend *backend_select(const char *name, int needs, const BackendOptions *opt)
{
    const BackendOptions defaults = {.precision = PRECISION_FP32};
    if (!opt) opt = &defaults;
    const Backend *be = backend_find(name);
    if (!be) {
        clft_set_error("device '%s' is not built into this clft (built: %s)", name ? name : "",
                       backend_names());
        return NULL;
    }
    if (!be->open && opt->precision != PRECISION_FP32) {
        clft_set_error("device '%s' computes in fp32 only (precision %s asked for)", be->name,
                       precision_names[opt->precision]);
        return NULL;
    }
    if (be->open && be->open(opt) != CLFT_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", clft_last_error());
        clft_set_error("device '%s' is not usable here: %s", be->name, why);
        return NULL;
    }
    const char *op = missing_op(be, memory_ops);
    if (!op && (needs & BACKEND_NEEDS_TRAIN)) op = missing_op(be, train_ops);
    if (!op && (needs & BACKEND_NEEDS_MIX)) op = missing_op(be, mix_ops);
    if (!op && (needs & BACKEND_NEEDS_EVAL)) op = missing_op(be, eval_ops);
    if (op) {
        clft_set_error("device '%s' does not implement the op '%s' this run needs", be->name, op);
        return NULL;
    }
    selected_options = *opt;
    return be;
}

void *backend_alloc_impl(const Backend *be, size_t bytes, const char *file, int line)
{
    void *p = be->alloc(bytes);
    if (!p)
        clft_die("%s:%d: out of %s memory allocating %zu bytes", file, line, be->name, bytes);
    return p;
}

void backend_free(const Backend *be, void *p)
{
    if (p) be->free(p);
}

void *backend_stage_begin(const Backend *be, void *dev, size_t bytes)
{
    return be->host_memory ? dev : xaligned_alloc(bytes);
}

void backend_stage_end(const Backend *be, void *dev, void *staged, size_t bytes)
{
    if (staged == dev) return;
    be->upload(dev, staged, bytes);
    free(staged);
}

const void *backend_read(const Backend *be, void *host, const void *dev, size_t bytes)
{
    if (be->host_memory) return dev;
    be->download(host, dev, bytes);
    return host;
}

const void *backend_write(const Backend *be, void *dev, const void *host, size_t bytes)
{
    if (be->host_memory) return host;
    be->upload(dev, host, bytes);
    return dev;
}
