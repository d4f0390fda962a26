/* dnnl_conv.c — the CPU backend's convolutions through oneDNN's C API (Debian's libdnnl, 2.6):
 * forward, backward-data and backward-weights primitives created once per shape (conv2d_plan, at
 * model init) for channels-last activations, run with a user scratchpad in the model's workspace:
 * the training step allocates nothing here.
 *
 * Per convolution of shape s the plan holds:
 *   - the three primitives (backward-data only for CONV_GRADS_ALL, the backward ones not at all
 *     for CONV_GRADS_NONE), chosen by oneDNN for src/dst in NHWC ("acdb") and weights in the
 *     blocked format it prefers ("any");
 *   - reorders: the user weights (C_out, C_in, KH, KW) into the forward's and the backward-data's
 *     formats (each call: the weights change every step), and the diff-weights from the
 *     backward-weights format back into (C_out, C_in, KH, KW) with a sum post-op, which is the
 *     accumulation dW += ∂L/∂W the layer convention asks for;
 *   - memory objects whose data handles are set at each call (no allocation).
 * din: backward-data writes ∂L/∂x. As the first writer of din (s->din_set) it writes straight into
 * it; otherwise into a workspace buffer that is then added to din (one pass).
 * Precision: fp32, or bf16 (PRECISION_BF16): where the CPU has AMX, oneDNN's bf16 kernels,
 * accumulating in fp32, on bf16 operands. In bf16 runs the model keeps the trunk's
 * activations in bf16 (core/nn/nn.h "bf16 storage"): an input with s->src_bf16 is read as it is
 * and an output with s->dst_bf16 written in bf16 by the primitive itself; an fp32 input (the
 * network's) and the fp32 output gradient are converted by reorders into the workspace. Weights,
 * weight gradients and din stay fp32.
 * Where the CPU has no AMX, bf16 runs use oneDNN's fp32 primitives on bf16-rounded operands
 * instead (Plan.emulate; why in conv2d_plan_dnnl): the input widened from bf16 storage (or an
 * fp32 input rounded), the weights and the output gradient rounded, into fp32 workspace buffers,
 * and a bf16-stored output narrowed from an fp32 one.
 * Workspace (floats): the largest scratchpad of the three primitives, then the reordered weights
 * of each, the diff-weights, the din buffer and, with bf16 primitives, the bf16 copies of an fp32
 * src and of diff_dst (with gradients); emulating, the fp32 src, weights and one buffer for the
 * output (forward) or output gradient (backward).
 */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend/cpu/cpu.h"
#include "core/common.h"

#define DNNL_CHECK(call)                                                                           \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success)                                                                    \
            clft_die("%s:%d: oneDNN: %s failed (status %d)", __FILE__, __LINE__, #call, (int)s_); \
    } while (0)

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static Precision precision = PRECISION_FP32;
static int bf16_native; /* bf16 runs: 1 = oneDNN's bf16 primitives, 0 = its fp32 ones (above) */

ClftStatus dnnl_open(const BackendOptions *opt)
{
    if (opt->precision == PRECISION_TF32) {
        clft_set_error("precision tf32 is a GPU mode; the CPU computes fp32 or bf16");
        return CLFT_ERR_VALUE;
    }
    precision = opt->precision;
    if (!engine) {
        DNNL_CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
        DNNL_CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    }
    /* oneDNN's ISA bits include those of the lower ISAs; ONEDNN_MAX_CPU_ISA counts. Said once. */
    static int told;
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(),
                   amx = (unsigned)dnnl_cpu_isa_avx512_core_amx;
    bf16_native = (isa & amx) == amx;
    if (precision == PRECISION_BF16 && !bf16_native && !told) {
        told = 1;
        fprintf(stderr, "clft: note: --precision bf16 on a CPU without AMX: convolutions run "
                        "oneDNN's fp32 kernels on bf16-rounded operands (the same products, fp32 "
                        "sums; faster here than its bf16 ones), activations stored in bf16\n");
    }
    return CLFT_OK;
}

void dnnl_set_bf16_native(int native)
{
    bf16_native = native;
}

int dnnl_bf16_native(void)
{
    return bf16_native;
}

int dnnl_bf16_storage(void)
{
    return engine && precision == PRECISION_BF16;
}

/* One primitive with the memory objects of its arguments (handles set per call). */
typedef struct {
    dnnl_primitive_t prim;
    int n;
    dnnl_exec_arg_t args[5];
} Call;

typedef struct {
    Call fwd, bwd_d, bwd_w;
    Call w_to_fwd, w_to_bwd;     /* user weights → each primitive's format */
    Call dw_to_user;             /* diff weights → (C_out, C_in, KH, KW), += */
    Call src_bf16, ddst_bf16;    /* bf16 only: fp32 input / output gradient → bf16 copies */
    int emulate;                 /* bf16 on fp32 primitives (see conv2d_plan_dnnl) */
    /* workspace offsets (floats; the scratchpad at 0) and size */
    size_t off_wf, off_wb, off_dw, off_din, off_src16, off_ddst16, total;
    size_t off_src32, off_w32, off_out32;    /* emulate: the rounded fp32 operands; out32 holds the
                                              * forward's fp32 output, then backward's rounded dout */
    size_t src_floats, dst_floats, w_floats; /* of in (and din), out (and dout), the weights */
} Plan;

static size_t floats_of(const dnnl_memory_desc_t *md)
{
    return (dnnl_memory_desc_get_size(md) + sizeof(float) - 1) / sizeof(float);
}

static dnnl_memory_t memory(const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    DNNL_CHECK(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_NONE));
    return m;
}

static const dnnl_memory_desc_t *query(const_dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

static void make_call(Call *c, const_dnnl_primitive_desc_t pd)
{
    DNNL_CHECK(dnnl_primitive_create(&c->prim, pd));
}

static void arg(Call *c, int what, const dnnl_memory_desc_t *md)
{
    c->args[c->n].arg = what;
    c->args[c->n].memory = memory(md);
    c->n++;
}

/* A reorder from md `from` to md `to`, optionally accumulating (dst = reorder(src) + dst). */
static void make_reorder(Call *c, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                         int accumulate)
{
    dnnl_primitive_attr_t attr;
    DNNL_CHECK(dnnl_primitive_attr_create(&attr));
    if (accumulate) {
        dnnl_post_ops_t po;
        DNNL_CHECK(dnnl_post_ops_create(&po));
        DNNL_CHECK(dnnl_post_ops_append_sum(po, 1.0f));
        DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, attr));
    make_call(c, pd);
    arg(c, DNNL_ARG_FROM, from);
    arg(c, DNNL_ARG_TO, to);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
}

static void run(Call *c, void *const *handles)
{
    for (int i = 0; i < c->n; i++)
        DNNL_CHECK(dnnl_memory_set_data_handle_v2(c->args[i].memory, handles[i], stream));
    DNNL_CHECK(dnnl_primitive_execute(c->prim, stream, c->n, c->args));
    DNNL_CHECK(dnnl_stream_wait(stream));
}

static size_t max_z(size_t a, size_t b) { return a > b ? a : b; }

/* The descriptors of shape s in its data type: src, dst (NHWC), user weights (OIHW), and `any`
 * weights for the primitives to choose; the fp32 src and dst (an fp32 input, din, the output
 * gradient) and what the forward writes (out: bf16 with s->dst_bf16, else fp32). */
typedef struct {
    dnnl_memory_desc_t src, dst, w_user, w_any, src_f32, dst_f32, out;
    dnnl_dims_t strides, pad;
} Descs;

static void make_descs(Descs *d, const ConvShape *s, dnnl_data_type_t dt)
{
    dnnl_dims_t src = {s->N, s->C_in, s->H, s->W}, dst = {s->N, s->C_out, s->H_out, s->W_out},
                w = {s->C_out, s->C_in, s->KH, s->KW};
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&d->src, 4, src, dt, dnnl_nhwc));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&d->dst, 4, dst, dt, dnnl_nhwc));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&d->src_f32, 4, src, dnnl_f32, dnnl_nhwc));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&d->dst_f32, 4, dst, dnnl_f32, dnnl_nhwc));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&d->w_user, 4, w, dnnl_f32, dnnl_oihw));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&d->w_any, 4, w, dt, dnnl_format_tag_any));
    d->out = s->dst_bf16 ? d->dst : d->dst_f32;
    d->strides[0] = d->strides[1] = s->stride;
    d->pad[0] = d->pad[1] = s->pad;
}

/* The three primitive descriptors (bwd ones NULL when not needed); outputs fp32 whatever dt. */
static void make_pds(dnnl_primitive_desc_t pd[3], const Descs *d, const ConvShape *s)
{
    dnnl_primitive_attr_t attr;
    DNNL_CHECK(dnnl_primitive_attr_create(&attr));
    DNNL_CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    dnnl_convolution_desc_t cd;
    const dnnl_memory_desc_t *src = &d->src, *ddst = &d->dst;
    DNNL_CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training,
                                                  dnnl_convolution_direct, src, &d->w_any, NULL,
                                                  &d->out, d->strides, d->pad, d->pad));
    DNNL_CHECK(dnnl_primitive_desc_create(&pd[0], &cd, attr, engine, NULL));
    pd[1] = pd[2] = NULL;
    if (s->grads == CONV_GRADS_ALL) {
        DNNL_CHECK(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct,
                                                            &d->src_f32, &d->w_any, ddst,
                                                            d->strides, d->pad, d->pad));
        DNNL_CHECK(dnnl_primitive_desc_create(&pd[1], &cd, attr, engine, pd[0]));
    }
    if (s->grads != CONV_GRADS_NONE) {
        dnnl_memory_desc_t dw_any;
        dnnl_dims_t w = {s->C_out, s->C_in, s->KH, s->KW};
        DNNL_CHECK(dnnl_memory_desc_init_by_tag(&dw_any, 4, w, dnnl_f32, dnnl_format_tag_any));
        DNNL_CHECK(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, src,
                                                               &dw_any, NULL, ddst, d->strides,
                                                               d->pad, d->pad));
        DNNL_CHECK(dnnl_primitive_desc_create(&pd[2], &cd, attr, engine, pd[0]));
    }
    dnnl_primitive_attr_destroy(attr);
}

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Lays the workspace out: the largest scratchpad at 0, then each buffer the plan needs. */
static void layout_workspace(Plan *p, const_dnnl_primitive_desc_t pd[3], const Descs *d,
                             const ConvShape *s, int bf16)
{
    size_t at = 0;
    for (int i = 0; i < 3; i++)
        if (pd[i]) at = max_z(at, round16(floats_of(query(pd[i], dnnl_query_scratchpad_md))));
#define TAKE(field, n) (p->field = at, at += round16(n))
    TAKE(off_wf, floats_of(query(pd[0], dnnl_query_weights_md)));
    if (pd[1]) TAKE(off_wb, floats_of(query(pd[1], dnnl_query_weights_md)));
    if (pd[2]) TAKE(off_dw, floats_of(query(pd[2], dnnl_query_diff_weights_md)));
    p->src_floats = (size_t)s->N * s->C_in * s->H * s->W;
    p->dst_floats = (size_t)s->N * s->C_out * s->H_out * s->W_out;
    p->w_floats = (size_t)s->C_out * s->C_in * s->KH * s->KW;
    if (pd[1] && !s->din_set) TAKE(off_din, p->src_floats);
    if (bf16 && !s->src_bf16) TAKE(off_src16, floats_of(&d->src));
    if (bf16 && pd[2]) TAKE(off_ddst16, floats_of(&d->dst));
    if (p->emulate) {
        TAKE(off_src32, p->src_floats);
        TAKE(off_w32, p->w_floats);
        if (s->dst_bf16 || pd[2]) TAKE(off_out32, p->dst_floats);
    }
#undef TAKE
    p->total = at;
}

static void make_calls(Plan *p, const_dnnl_primitive_desc_t pd[3], const Descs *d,
                       const ConvShape *s, int bf16)
{
    const dnnl_memory_desc_t *sp;
    make_call(&p->fwd, pd[0]);
    sp = query(pd[0], dnnl_query_scratchpad_md);
    arg(&p->fwd, DNNL_ARG_SRC, &d->src);
    arg(&p->fwd, DNNL_ARG_WEIGHTS, query(pd[0], dnnl_query_weights_md));
    arg(&p->fwd, DNNL_ARG_DST, &d->out);
    arg(&p->fwd, DNNL_ARG_SCRATCHPAD, sp);
    make_reorder(&p->w_to_fwd, &d->w_user, query(pd[0], dnnl_query_weights_md), 0);
    if (pd[1]) {
        make_call(&p->bwd_d, pd[1]);
        arg(&p->bwd_d, DNNL_ARG_DIFF_DST, &d->dst);
        arg(&p->bwd_d, DNNL_ARG_WEIGHTS, query(pd[1], dnnl_query_weights_md));
        arg(&p->bwd_d, DNNL_ARG_DIFF_SRC, &d->src_f32);
        arg(&p->bwd_d, DNNL_ARG_SCRATCHPAD, query(pd[1], dnnl_query_scratchpad_md));
        make_reorder(&p->w_to_bwd, &d->w_user, query(pd[1], dnnl_query_weights_md), 0);
    }
    if (pd[2]) {
        make_call(&p->bwd_w, pd[2]);
        arg(&p->bwd_w, DNNL_ARG_SRC, &d->src);
        arg(&p->bwd_w, DNNL_ARG_DIFF_DST, &d->dst);
        arg(&p->bwd_w, DNNL_ARG_DIFF_WEIGHTS, query(pd[2], dnnl_query_diff_weights_md));
        arg(&p->bwd_w, DNNL_ARG_SCRATCHPAD, query(pd[2], dnnl_query_scratchpad_md));
        make_reorder(&p->dw_to_user, query(pd[2], dnnl_query_diff_weights_md), &d->w_user, 1);
    }
    if (bf16 && !s->src_bf16) make_reorder(&p->src_bf16, &d->src_f32, &d->src, 0);
    if (bf16 && pd[2]) make_reorder(&p->ddst_bf16, &d->dst_f32, &d->dst, 0);
}

ClftStatus conv2d_plan_dnnl(ConvShape *s)
{
    if (!engine) {
        BackendOptions fp32 = {.precision = PRECISION_FP32};
        if (dnnl_open(&fp32) != CLFT_OK) return CLFT_ERR_VALUE;
    }
    if (precision != PRECISION_BF16 && (s->src_bf16 || s->dst_bf16))
        clft_die("internal error: a bf16-stored convolution in an fp32 run");
    /* bf16: oneDNN's bf16 primitives where the CPU has AMX; elsewhere its fp32 primitives on the
     * operands rounded to bf16 (input, weights, output gradient), the output rounded to bf16 when
     * stored so. A product of two bf16 values is exact in fp32, so both compute the same products
     * with fp32 sums (in another order); on AVX512-BF16 without AMX oneDNN 2.6's bf16 kernels run
     * at 55-65% of its fp32 ones on every shape of bench_conv (175 against 300 GFLOP/s). */
    const int emulate = precision == PRECISION_BF16 && !bf16_native;
    const int bf16 = precision == PRECISION_BF16 && !emulate; /* bf16 primitives */
    const dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    Plan *p = xcalloc(1, sizeof *p);
    p->emulate = emulate;
    Descs d;
    make_descs(&d, s, dt);
    dnnl_primitive_desc_t pd[3];
    make_pds(pd, &d, s);
    layout_workspace(p, (const_dnnl_primitive_desc_t *)pd, &d, s, bf16);
    make_calls(p, (const_dnnl_primitive_desc_t *)pd, &d, s, bf16);
    for (int i = 0; i < 3; i++)
        if (pd[i]) dnnl_primitive_desc_destroy(pd[i]);
    s->plan = p;
    return CLFT_OK;
}

static void destroy_call(Call *c)
{
    if (!c->prim) return;
    dnnl_primitive_destroy(c->prim);
    for (int i = 0; i < c->n; i++) dnnl_memory_destroy(c->args[i].memory);
}

void conv2d_unplan_dnnl(ConvShape *s)
{
    Plan *p = s->plan;
    Call *calls[] = {&p->fwd, &p->bwd_d, &p->bwd_w, &p->w_to_fwd, &p->w_to_bwd, &p->dw_to_user,
                     &p->src_bf16, &p->ddst_bf16};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) destroy_call(calls[i]);
    free(p);
    s->plan = NULL;
}

size_t conv2d_workspace_floats_dnnl(const ConvShape *s)
{
    const Plan *p = s->plan;
    ASSERT(p);
    return p->total;
}

/* x rounded to bf16, in fp32: widened from bf16 storage, else rounded. */
static void rounded(float *dst, const float *x, int stored_bf16, size_t n)
{
    if (stored_bf16)
        bf16_widen_cpu(dst, (const uint16_t *)x, n);
    else
        bf16_round_cpu(dst, x, n);
}

/* The forward on fp32 primitives (Plan.emulate). */
static void forward_emulated(Plan *p, float *out, const float *in, const float *weight,
                             const ConvShape *s, float *ws)
{
    float *src = ws + p->off_src32, *w = ws + p->off_w32, *wf = ws + p->off_wf;
    rounded(src, in, s->src_bf16, p->src_floats);
    bf16_round_cpu(w, weight, p->w_floats);
    run(&p->w_to_fwd, (void *const[]){w, wf});
    float *dst = s->dst_bf16 ? ws + p->off_out32 : out;
    run(&p->fwd, (void *const[]){src, wf, dst, ws});
    if (s->dst_bf16) bf16_narrow_cpu((uint16_t *)out, dst, p->dst_floats);
}

static void backward_emulated(Plan *p, float *din, float *dweight, const float *dout,
                              const float *in, const float *weight, const ConvShape *s, float *ws)
{
    float *src = ws + p->off_src32, *dd = ws + p->off_out32, *dw = ws + p->off_dw;
    rounded(src, in, s->src_bf16, p->src_floats);
    bf16_round_cpu(dd, dout, p->dst_floats);
    run(&p->bwd_w, (void *const[]){src, dd, dw, ws});
    run(&p->dw_to_user, (void *const[]){dw, dweight}); /* dweight += ∂L/∂W */
    if (!din) return;
    ASSERT(p->bwd_d.prim);
    float *w = ws + p->off_w32, *wb = ws + p->off_wb;
    bf16_round_cpu(w, weight, p->w_floats);
    run(&p->w_to_bwd, (void *const[]){w, wb});
    float *dx = s->din_set ? din : ws + p->off_din;
    run(&p->bwd_d, (void *const[]){dd, wb, dx, ws});
    if (!s->din_set) add_inplace_cpu(din, dx, p->src_floats);
}

void conv2d_forward_dnnl(float *out, const float *in, const float *weight, const ConvShape *s,
                         float *ws)
{
    Plan *p = s->plan;
    if (p->emulate) {
        forward_emulated(p, out, in, weight, s, ws);
        return;
    }
    float *wf = ws + p->off_wf, *sp = ws; /* the scratchpad is at the start */
    run(&p->w_to_fwd, (void *const[]){(void *)weight, wf});
    const void *src = in;
    if (p->src_bf16.prim) {
        run(&p->src_bf16, (void *const[]){(void *)in, ws + p->off_src16});
        src = ws + p->off_src16;
    }
    run(&p->fwd, (void *const[]){(void *)src, wf, out, sp});
}

void conv2d_backward_dnnl(float *din, float *dweight, const float *dout, const float *in,
                          const float *weight, const ConvShape *s, float *ws)
{
    Plan *p = s->plan;
    if (p->emulate) {
        backward_emulated(p, din, dweight, dout, in, weight, s, ws);
        return;
    }
    float *sp = ws;
    const void *src = in, *ddst = dout;
    if (p->src_bf16.prim) { /* a bf16 copy of an fp32 input */
        run(&p->src_bf16, (void *const[]){(void *)in, ws + p->off_src16});
        src = ws + p->off_src16;
    }
    if (p->ddst_bf16.prim) { /* and of the output gradient */
        run(&p->ddst_bf16, (void *const[]){(void *)dout, ws + p->off_ddst16});
        ddst = ws + p->off_ddst16;
    }
    float *dw = ws + p->off_dw;
    run(&p->bwd_w, (void *const[]){(void *)src, (void *)ddst, dw, sp});
    run(&p->dw_to_user, (void *const[]){dw, dweight}); /* dweight += ∂L/∂W */
    if (!din) return;
    ASSERT(p->bwd_d.prim);
    float *wb = ws + p->off_wb;
    run(&p->w_to_bwd, (void *const[]){(void *)weight, wb});
    float *dx = s->din_set ? din : ws + p->off_din;
    run(&p->bwd_d, (void *const[]){(void *)ddst, wb, dx, sp});
    if (!s->din_set) add_inplace_cpu(din, dx, p->src_floats);
}
