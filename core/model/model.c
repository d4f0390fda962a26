/* model.c — building, running and differentiating ResNet encoders; see model.h.
 *
 * The builder below is run twice: once with the arenas in planning mode (counting floats), once
 * after they are committed (taking real pointers). Everything is therefore allocated in model_init;
 * model_forward/model_backward allocate nothing. Every op is a call of the model's backend.
 */
#include "core/model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A layer's output activation: none, or a ReLU (fused into the BN before it). */
typedef enum { ACT_NONE, ACT_RELU } Activation;

/* ---- planning helpers: each appends one op / activation / named tensor ---- */

static int add_act(Model *m, int n, int c, int h, int w)
{
    if (m->n_acts == m->cap_acts) {
        m->cap_acts = m->cap_acts ? 2 * m->cap_acts : 64;
        m->acts = xrealloc(m->acts, (size_t)m->cap_acts * sizeof(Tensor));
        m->dacts = xrealloc(m->dacts, (size_t)m->cap_acts * sizeof(float *));
    }
    int i = m->n_acts++;
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        clft_die("internal error: impossible activation shape (%d, %d, %d, %d)", n, c, h, w);
    m->acts[i] = (Tensor){.n = n, .c = c, .h = h, .w = w};
    m->dacts[i] = NULL;
    if (m->tensors && i > 0) { /* the real pass: where model_plan_memory put it */
        m->acts[i].data = m->tensors + m->act_off[i];
        if (m->opt.with_grads) m->dacts[i] = m->tensors + m->dact_off[i];
    }
    return i;
}

/* acts[0], the input: it points at the caller's batch in model_forward (no copy). */
static int add_input(Model *m)
{
    int i = add_act(m, m->N, m->C, m->H, m->W);
    ASSERT(i == 0);
    return i;
}

static Op *add_op(Model *m, OpKind kind, int in)
{
    if (m->n_ops == m->cap_ops) {
        m->cap_ops = m->cap_ops ? 2 * m->cap_ops : 64;
        m->ops = xrealloc(m->ops, (size_t)m->cap_ops * sizeof(Op));
    }
    Op *op = &m->ops[m->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->in = in;
    op->in2 = -1;
    op->w = op->b = op->rm = op->rv = -1;
    return op;
}

static long add_named(Model *m, NamedTensor **list, int *count, Arena *arena, const char *name,
                      TensorKind kind, int ndim, const int *shape)
{
    *list = xrealloc(*list, (size_t)(*count + 1) * sizeof(NamedTensor));
    NamedTensor *t = &(*list)[(*count)++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->numel *= (size_t)shape[d];
    }
    t->offset = arena->used;
    arena_take(arena, t->numel);
    if (m->opt.with_grads && arena == &m->param_arena) arena_take(&m->grad_arena, t->numel);
    return (long)t->offset;
}

/* name = a + b; names longer than NamedTensor.name are an internal error. */
static void join_name(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s%s", a, b);
    ASSERT(n >= 0 && (size_t)n < cap);
}

static long add_param(Model *m, const char *prefix, const char *suffix, TensorKind kind, int ndim,
                      const int *shape)
{
    char name[64];
    join_name(name, sizeof name, prefix, suffix);
    return add_named(m, &m->params, &m->n_params, &m->param_arena, name, kind, ndim, shape);
}

static long add_buffer(Model *m, const char *prefix, const char *suffix, TensorKind kind, int C)
{
    char name[64];
    join_name(name, sizeof name, prefix, suffix);
    return add_named(m, &m->buffers, &m->n_buffers, &m->buffer_arena, name, kind, 1, &C);
}

/* An impossible layer shape: remembered (model_init returns it), the layer built with a 1x1
 * output so planning can go on. */
static void shape_error(Model *m, const char *layer)
{
    if (m->build_status != CLFT_OK) return;
    char why[512];
    snprintf(why, sizeof why, "%s", clft_last_error());
    clft_set_error("model: %s: %s", layer, why);
    m->build_status = CLFT_ERR_SHAPE;
}

/* ---- layers: each returns the index of its output activation ---- */

static int conv(Model *m, int x, const char *name, int c_out, int k, int stride, int pad)
{
    const Tensor in = m->acts[x];
    Op *op = add_op(m, OP_CONV, x);
    ConvShape *s = &op->s.conv;
    *s = (ConvShape){.N = in.n, .C_in = in.c, .H = in.h, .W = in.w, .C_out = c_out, .KH = k,
                     .KW = k, .stride = stride, .pad = pad};
    if (conv2d_shape(s) != 0) {
        shape_error(m, name);
        s->H_out = s->W_out = 1;
    }
    int shape[4] = {c_out, in.c, k, k};
    op->w = add_param(m, name, ".weight", TENSOR_CONV_WEIGHT, 4, shape);
    op->out = add_act(m, in.n, c_out, s->H_out, s->W_out);
    op->n = tensor_numel(m->acts[op->out]);
    return op->out;
}

/* BN, with a fused ReLU after it for ACT_RELU (one op, one activation: see batchnorm_forward). */
static int batchnorm(Model *m, int x, const char *name, Activation act)
{
    const Tensor in = m->acts[x];
    Op *op = add_op(m, OP_BN, x);
    op->s.bn = (BnShape){.N = in.n, .C = in.c, .HW = in.h * in.w, .groups = m->opt.bn_groups,
                         .eps = 1e-5f, .momentum = 0.1f, .relu = act == ACT_RELU};
    op->w = add_param(m, name, ".weight", TENSOR_BN_WEIGHT, 1, &in.c);
    op->b = add_param(m, name, ".bias", TENSOR_BN_BIAS, 1, &in.c);
    op->rm = add_buffer(m, name, ".running_mean", TENSOR_BN_RUNNING_MEAN, in.c);
    op->rv = add_buffer(m, name, ".running_var", TENSOR_BN_RUNNING_VAR, in.c);
    op->save_mean = arena_take(&m->act_arena, (size_t)m->opt.bn_groups * in.c);
    op->save_rstd = arena_take(&m->act_arena, (size_t)m->opt.bn_groups * in.c);
    op->out = add_act(m, in.n, in.c, in.h, in.w);
    op->n = tensor_numel(in);
    return op->out;
}

static int relu(Model *m, int x)
{
    const Tensor in = m->acts[x];
    Op *op = add_op(m, OP_RELU, x);
    op->out = add_act(m, in.n, in.c, in.h, in.w);
    op->n = tensor_numel(in);
    return op->out;
}

/* relu(a + b), the residual join of every ResNet block, as one op (add_relu_forward). */
static int add_relu(Model *m, int a, int b)
{
    const Tensor in = m->acts[a];
    ASSERT(tensor_numel(in) == tensor_numel(m->acts[b]));
    Op *op = add_op(m, OP_ADD_RELU, a);
    op->in2 = b;
    op->out = add_act(m, in.n, in.c, in.h, in.w);
    op->n = tensor_numel(in);
    return op->out;
}

static int maxpool(Model *m, int x)
{
    const Tensor in = m->acts[x];
    Op *op = add_op(m, OP_MAXPOOL, x);
    PoolShape *s = &op->s.pool;
    *s = (PoolShape){.N = in.n, .C = in.c, .H = in.h, .W = in.w, .k = 3, .stride = 2, .pad = 1};
    if (maxpool_shape(s) != 0) {
        shape_error(m, "maxpool");
        s->H_out = s->W_out = 1;
    }
    op->out = add_act(m, in.n, in.c, s->H_out, s->W_out);
    op->n = tensor_numel(m->acts[op->out]);
    op->argmax = (int *)arena_take(&m->act_arena, op->n); /* int and float are both 4 bytes */
    return op->out;
}

static int avgpool(Model *m, int x)
{
    const Tensor in = m->acts[x];
    Op *op = add_op(m, OP_AVGPOOL, x);
    op->s.avg.N = in.n;
    op->s.avg.C = in.c;
    op->s.avg.HW = in.h * in.w;
    op->out = add_act(m, in.n, in.c, 1, 1);
    op->n = (size_t)in.n * in.c;
    return op->out;
}

static int linear(Model *m, int x, const char *name, int o)
{
    const Tensor in = m->acts[x];
    Op *op = add_op(m, OP_LINEAR, x);
    int i = in.c * in.h * in.w;
    op->s.lin.N = in.n;
    op->s.lin.I = i;
    op->s.lin.O = o;
    int wshape[2] = {o, i};
    op->w = add_param(m, name, ".weight", TENSOR_LINEAR_WEIGHT, 2, wshape);
    op->b = add_param(m, name, ".bias", TENSOR_LINEAR_BIAS, 1, &o);
    op->out = add_act(m, in.n, o, 1, 1);
    op->n = (size_t)in.n * o;
    return op->out;
}

static int l2norm(Model *m, int x)
{
    const Tensor in = m->acts[x];
    Op *op = add_op(m, OP_L2NORM, x);
    op->save_mean = arena_take(&m->act_arena, (size_t)in.n); /* the row norms */
    op->out = add_act(m, in.n, in.c, 1, 1);
    op->n = tensor_numel(in);
    return op->out;
}

/* ---- blocks ---- */

/* A convolution of a conv-bn pair: output channels, kernel size, stride, padding. */
typedef struct {
    int c_out, k, stride, pad;
} ConvSpec;

/* conv-bn, or conv-bn-relu with the ReLU fused into the BN (ACT_RELU). */
static int conv_bn(Model *m, int x, const char *prefix, const char *conv_name, const char *bn_name,
                   ConvSpec c, Activation act)
{
    char cname[64], bname[64];
    join_name(cname, sizeof cname, prefix, conv_name);
    join_name(bname, sizeof bname, prefix, bn_name);
    return batchnorm(m, conv(m, x, cname, c.c_out, c.k, c.stride, c.pad), bname, act);
}

/* The 1x1/stride projection shortcut, when the block changes the shape; else x itself. */
static int shortcut(Model *m, int x, const char *prefix, int c_out, int stride)
{
    if (stride == 1 && m->acts[x].c == c_out) return x;
    return conv_bn(m, x, prefix, "downsample.0", "downsample.1",
                   (ConvSpec){.c_out = c_out, .k = 1, .stride = stride}, ACT_NONE);
}

/* torchvision BasicBlock: conv3x3-bn-relu-conv3x3-bn (+ 1x1/stride downsample) + x, relu. */
static int basic_block(Model *m, int x, const char *prefix, int planes, int stride)
{
    int y = conv_bn(m, x, prefix, "conv1", "bn1",
                    (ConvSpec){.c_out = planes, .k = 3, .stride = stride, .pad = 1}, ACT_RELU);
    y = conv_bn(m, y, prefix, "conv2", "bn2", (ConvSpec){.c_out = planes, .k = 3, .stride = 1, .pad = 1},
                ACT_NONE);
    return add_relu(m, y, shortcut(m, x, prefix, planes, stride));
}

/* torchvision Bottleneck (v1.5: stride on the 3x3): 1x1-3x3-1x1 with expansion 4. */
static int bottleneck(Model *m, int x, const char *prefix, int planes, int stride)
{
    int y = conv_bn(m, x, prefix, "conv1", "bn1", (ConvSpec){.c_out = planes, .k = 1, .stride = 1},
                    ACT_RELU);
    y = conv_bn(m, y, prefix, "conv2", "bn2",
                (ConvSpec){.c_out = planes, .k = 3, .stride = stride, .pad = 1}, ACT_RELU);
    y = conv_bn(m, y, prefix, "conv3", "bn3", (ConvSpec){.c_out = 4 * planes, .k = 1, .stride = 1},
                ACT_NONE);
    return add_relu(m, y, shortcut(m, x, prefix, 4 * planes, stride));
}

/* The architecture, top to bottom. */
static void resnet_build(Model *m)
{
    const ModelConfig *c = &m->cfg;
    int x = add_input(m);
    if (c->stem == STEM_IMAGENET) {
        x = conv_bn(m, x, "", "conv1", "bn1", (ConvSpec){.c_out = c->width, .k = 7, .stride = 2, .pad = 3},
                    ACT_RELU);
        x = maxpool(m, x);
    } else {
        x = conv_bn(m, x, "", "conv1", "bn1", (ConvSpec){.c_out = c->width, .k = 3, .stride = 1, .pad = 1},
                    ACT_RELU);
    }
    static const int layers18[4] = {2, 2, 2, 2}, layers34[4] = {3, 4, 6, 3};
    const int *blocks = c->arch == ARCH_RESNET18 ? layers18 : layers34; /* 50 shares 34's counts */
    int stages = c->arch == ARCH_RESNET_SMALL ? c->stages : 4;
    for (int s = 0; s < stages; s++) {
        int nblocks = c->arch == ARCH_RESNET_SMALL ? c->blocks : blocks[s];
        for (int b = 0; b < nblocks; b++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "layer%d.%d.", s + 1, b);
            int stride = (s > 0 && b == 0) ? 2 : 1;
            x = c->arch == ARCH_RESNET50 ? bottleneck(m, x, prefix, c->width << s, stride)
                                         : basic_block(m, x, prefix, c->width << s, stride);
        }
    }
    x = avgpool(m, x);
    m->feat_act = x;
    m->feat_dim = m->acts[x].c;
    if (c->head == HEAD_LINEAR) {
        x = l2norm(m, linear(m, x, "fc", c->head_dim));
    } else if (c->head == HEAD_MLP) {
        int hidden = c->head_hidden > 0 ? c->head_hidden : m->feat_dim;
        x = relu(m, linear(m, x, "fc.0", hidden));
        x = l2norm(m, linear(m, x, "fc.2", c->head_dim));
    }
    m->out_dim = m->acts[x].c;
}

static ClftStatus check_config(const ModelConfig *c, int N, int C, int H, int W,
                               const ModelOptions *opt)
{
    if (N < 1 || C < 1 || H < 1 || W < 1) {
        clft_set_error("model: impossible input shape (%d, %d, %d, %d)", N, C, H, W);
        return CLFT_ERR_SHAPE;
    }
    if (c->in_channels != C) {
        clft_set_error("model: built for %d input channels but the data has %d", c->in_channels, C);
        return CLFT_ERR_SHAPE;
    }
    if (c->width < 1 || c->width > 4096) {
        clft_set_error("model.width = %d is out of range [1, 4096]", c->width);
        return CLFT_ERR_VALUE;
    }
    if (c->arch == ARCH_RESNET_SMALL && (c->stages < 1 || c->stages > 4 || c->blocks < 1)) {
        clft_set_error("model: resnet_small needs 1..4 stages and >= 1 block (got %d, %d)",
                       c->stages, c->blocks);
        return CLFT_ERR_VALUE;
    }
    if (c->head != HEAD_NONE && c->head_dim < 1) {
        clft_set_error("head.dim = %d must be >= 1", c->head_dim);
        return CLFT_ERR_VALUE;
    }
    if (opt->bn_groups < 1 || N % opt->bn_groups != 0) {
        clft_set_error("split-BN groups (%d) must divide the batch size (%d)", opt->bn_groups, N);
        return CLFT_ERR_VALUE;
    }
    /* The spatial size must survive every stride-2 stage (at least 1x1 before pooling). */
    int downs = (c->arch == ARCH_RESNET_SMALL ? c->stages : 4) - 1 + (c->stem == STEM_IMAGENET ? 2 : 0);
    if ((H >> downs) < 1 || (W >> downs) < 1) {
        clft_set_error("model: input %dx%d is too small for this architecture (%d stride-2 steps)",
                       H, W, downs);
        return CLFT_ERR_SHAPE;
    }
    return CLFT_OK;
}

/* Ops whose kernel can write its input gradient instead of adding to it (the others get their
 * first-written input gradient zeroed just before they run). */
static int writes_set(const Op *op)
{
    return op->kind == OP_BN || op->kind == OP_ADD_RELU || op->kind == OP_CONV;
}

/* After building: which op gives each activation its first gradient in backward order (set_in,
 * set_in2). Activation gradients otherwise accumulate (+=) like parameter gradients; the first
 * contribution overwrites instead, so no pass zeroes them. */
static void plan_gradient_writes(Model *m)
{
    unsigned char *seen = xcalloc((size_t)m->n_acts, 1);
    for (int i = m->n_ops - 1; i >= 0; i--) {
        Op *op = &m->ops[i];
        op->set_in = op->in > 0 && !seen[op->in];
        if (op->in > 0) seen[op->in] = 1;
        if (op->kind == OP_ADD_RELU) {
            ASSERT(op->in2 != op->in);
            op->set_in2 = op->in2 > 0 && !seen[op->in2];
            if (op->in2 > 0) seen[op->in2] = 1;
        }
        if (op->kind == OP_BN) op->s.bn.din_set = op->set_in;
        if (op->kind == OP_CONV) {
            op->s.conv.din_set = op->set_in;
            op->s.conv.grads = !m->opt.with_grads ? CONV_GRADS_NONE
                               : op->in == 0      ? CONV_GRADS_WEIGHT
                                                  : CONV_GRADS_ALL;
        }
    }
    for (int a = 1; a < m->n_acts - 1; a++)
        ASSERT(seen[a]); /* every activation but the output feeds an op */
    free(seen);
}

/* bf16 storage (core/nn/nn.h): in a run whose backend keeps activations in bf16, the outputs of
 * convolutions, BN, max-pools and residual joins are bf16 unless an op that reads them has no
 * bf16 form (a ReLU, a linear layer: then fp32), and a BN's, a max-pool's or a join's inputs and
 * output share one storage (fp32 wherever one of them must be). The network input, the pooled
 * features, the head and every gradient stay fp32. After the planning pass: the memory plan needs
 * the sizes. */
static void plan_storage(Model *m)
{
    unsigned char *b = m->act_bf16 = xcalloc((size_t)m->n_acts, 1);
    const Backend *be = m->be;
    if (!be->bf16_storage || !be->bf16_storage()) return;
    ASSERT(be->add_relu_forward_bf16 && be->add_relu_backward_bf16 && be->maxpool_forward_bf16 &&
           be->avgpool_forward_bf16);
    for (int k = 0; k < m->n_ops; k++) {
        const OpKind kind = m->ops[k].kind;
        if (kind == OP_CONV || kind == OP_BN || kind == OP_ADD_RELU || kind == OP_MAXPOOL)
            b[m->ops[k].out] = 1;
    }
    for (int k = 0; k < m->n_ops; k++) {
        const Op *op = &m->ops[k];
        if (op->kind != OP_CONV && op->kind != OP_BN && op->kind != OP_ADD_RELU &&
            op->kind != OP_MAXPOOL && op->kind != OP_AVGPOOL)
            b[op->in] = 0;
    }
    b[0] = b[m->n_acts - 1] = b[m->feat_act] = 0;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int k = 0; k < m->n_ops; k++) {
            const Op *op = &m->ops[k];
            if (op->kind != OP_BN && op->kind != OP_ADD_RELU && op->kind != OP_MAXPOOL) continue;
            const int all = b[op->in] && b[op->out] && (op->kind != OP_ADD_RELU || b[op->in2]);
            const int any = b[op->in] || b[op->out] || (op->kind == OP_ADD_RELU && b[op->in2]);
            if (any && !all) {
                b[op->in] = b[op->out] = 0;
                if (op->kind == OP_ADD_RELU) b[op->in2] = 0;
                changed = 1;
            }
        }
    }
}

/* The storage of each convolution's and BN's tensors in their shapes (the real pass). */
static void apply_storage(Model *m)
{
    for (int k = 0; k < m->n_ops; k++) {
        Op *op = &m->ops[k];
        if (op->kind == OP_CONV) {
            op->s.conv.src_bf16 = m->act_bf16[op->in];
            op->s.conv.dst_bf16 = m->act_bf16[op->out];
        }
        if (op->kind == OP_BN) op->s.bn.bf16 = m->act_bf16[op->out];
    }
}

/* The backend plans each convolution once (its primitives or algorithms for that shape); the
 * shared workspace is the largest any of them needs. */
static ClftStatus plan_convolutions(Model *m)
{
    for (int i = 0; i < m->n_ops; i++) {
        ConvShape *s = &m->ops[i].s.conv;
        if (m->ops[i].kind != OP_CONV) continue;
        if (m->be->conv2d_plan) {
            ClftStatus st = m->be->conv2d_plan(s);
            if (st != CLFT_OK) return st;
        }
        size_t ws = m->be->conv2d_workspace_floats(s);
        if (ws > m->ws_floats) m->ws_floats = ws;
    }
    return CLFT_OK;
}

static void reset_plan(Model *m)
{
    m->n_ops = m->n_acts = m->n_params = m->n_buffers = 0;
    free(m->params);
    free(m->buffers);
    m->params = m->buffers = NULL;
    arena_reset(&m->param_arena);
    arena_reset(&m->grad_arena);
    arena_reset(&m->buffer_arena);
    arena_reset(&m->act_arena);
}

ClftStatus model_init(Model *m, const Backend *be, const ModelConfig *cfg, int N, int C, int H,
                      int W, const ModelOptions *opt)
{
    ClftStatus st = check_config(cfg, N, C, H, W, opt);
    if (st != CLFT_OK) return st;
    memset(m, 0, sizeof *m);
    m->be = be;
    m->cfg = *cfg;
    m->opt = *opt;
    m->N = N;
    m->C = C;
    m->H = H;
    m->W = W;
    arena_init(&m->param_arena, "params", be);
    arena_init(&m->grad_arena, "grads", be);
    arena_init(&m->buffer_arena, "buffers", be);
    arena_init(&m->act_arena, "acts", be);
    resnet_build(m); /* planning pass: counts floats */
    if (m->build_status != CLFT_OK) {
        st = m->build_status;
        model_free(m);
        return st;
    }
    plan_storage(m);
    /* activations and their gradients: shared where their lifetimes allow (memory.c) */
    m->act_off = xcalloc((size_t)m->n_acts, sizeof(size_t));
    m->dact_off = xcalloc((size_t)m->n_acts, sizeof(size_t));
    m->tensor_floats = model_plan_memory(m, m->act_off, m->dact_off);
    m->tensors = backend_alloc(be, m->tensor_floats * sizeof(float));
    arena_commit(&m->param_arena);
    if (opt->with_grads) arena_commit(&m->grad_arena);
    arena_commit(&m->buffer_arena);
    arena_commit(&m->act_arena);
    reset_plan(m);
    resnet_build(m); /* the real pass: same sequence, real pointers */
    plan_gradient_writes(m);
    apply_storage(m);
    if ((st = plan_convolutions(m)) != CLFT_OK) {
        model_free(m);
        return st;
    }
    m->ws = backend_alloc(be, m->ws_floats * sizeof(float));
    if (be->nhwc && C > 1) {
        if (!be->from_nchw) {
            clft_set_error("model: device '%s' is channels-last but cannot transpose its input",
                           be->name);
            model_free(m);
            return CLFT_ERR_VALUE;
        }
        m->in_layout = backend_alloc(be, (size_t)N * C * H * W * sizeof(float));
    }
    /* BN running variance starts at 1, as torch (the running means at 0: the arena is zeroed). */
    const size_t bytes = m->buffer_arena.cap * sizeof(float);
    float *host = backend_stage_begin(be, m->buffer_arena.base, bytes);
    for (int i = 0; i < m->n_buffers; i++)
        if (m->buffers[i].kind == TENSOR_BN_RUNNING_VAR)
            for (size_t j = 0; j < m->buffers[i].numel; j++) host[m->buffers[i].offset + j] = 1.0f;
    backend_stage_end(be, m->buffer_arena.base, host, bytes);
    return CLFT_OK;
}

void model_free(Model *m)
{
    for (int i = 0; m->be && m->be->conv2d_unplan && i < m->n_ops; i++)
        if (m->ops[i].kind == OP_CONV && m->ops[i].s.conv.plan) m->be->conv2d_unplan(&m->ops[i].s.conv);
    arena_free(&m->param_arena);
    arena_free(&m->grad_arena);
    arena_free(&m->buffer_arena);
    arena_free(&m->act_arena);
    free(m->ops);
    free(m->acts);
    free(m->dacts);
    free(m->params);
    free(m->buffers);
    free(m->act_off);
    free(m->dact_off);
    free(m->act_bf16);
    if (m->be) backend_free(m->be, m->tensors);
    if (m->be) backend_free(m->be, m->ws);
    if (m->be) backend_free(m->be, m->in_layout);
    free(m->save_mirror);
    memset(m, 0, sizeof *m);
}

/* ---- running ---- */

/* Compile with -DCLFT_PROFILE to time every op kind, forward and backward, over the whole run; the
 * totals are printed to stderr at exit (a measurement aid, off in normal builds). */
#ifdef CLFT_PROFILE
#include <time.h>
static double prof_s[2][OP_L2NORM + 2]; /* the last slot: zeroing activation gradients */
static long prof_n[2][OP_L2NORM + 2];
static int prof_registered;
static double prof_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static void prof_print(void)
{
    static const char *names[] = {"conv", "bn", "relu", "maxpool", "avgpool", "linear", "add_relu", "l2norm", "zero"};
    for (int d = 0; d < 2; d++)
        for (int k = 0; k <= OP_L2NORM + 1; k++)
            if (prof_n[d][k])
                fprintf(stderr, "profile %s %-8s %8.3f s  %6ld calls\n", d ? "bwd" : "fwd", names[k],
                        prof_s[d][k], prof_n[d][k]);
}
#define PROF_BEGIN double prof_t0 = prof_now()
#define PROF_END(dir, kind)                                                                        \
    do {                                                                                           \
        m->be->synchronize();                                                                      \
        if (!prof_registered) prof_registered = !atexit(prof_print);                               \
        prof_s[dir][kind] += prof_now() - prof_t0;                                                 \
        prof_n[dir][kind]++;                                                                       \
    } while (0)
#else
#define PROF_BEGIN ((void)0)
#define PROF_END(dir, kind) ((void)0)
#endif

static float *P(Model *m, long off) { return off < 0 ? NULL : m->param_arena.base + off; }
static float *G(Model *m, long off) { return off < 0 ? NULL : m->grad_arena.base + off; }
static float *B(Model *m, long off) { return off < 0 ? NULL : m->buffer_arena.base + off; }

const float *model_forward(Model *m, const float *in, ModelMode mode)
{
    const Backend *be = m->be;
    if (m->in_layout) { /* the NCHW batch in the backend's channels-last layout */
        be->from_nchw(m->in_layout, in, m->N, m->C, m->H * m->W);
        in = m->in_layout;
    }
    m->acts[0].data = (float *)in; /* read-only: no op writes its input */
    m->mode = mode;
    BnMode bn_mode = mode == MODEL_TRAIN ? BN_TRAIN : BN_EVAL;
    for (int i = 0; i < m->n_ops; i++) {
        Op *op = &m->ops[i];
        const float *x = m->acts[op->in].data;
        float *y = m->acts[op->out].data;
        PROF_BEGIN;
        switch (op->kind) {
        case OP_CONV: be->conv2d_forward(y, x, P(m, op->w), &op->s.conv, m->ws); break;
        case OP_BN:
            be->batchnorm_forward(y, op->save_mean, op->save_rstd, x, P(m, op->w), P(m, op->b),
                                  B(m, op->rm), B(m, op->rv), &op->s.bn, bn_mode);
            break;
        case OP_RELU: be->relu_forward(y, x, op->n); break;
        case OP_MAXPOOL:
            if (m->act_bf16[op->out])
                be->maxpool_forward_bf16((uint16_t *)y, op->argmax, (const uint16_t *)x,
                                         &op->s.pool);
            else
                be->maxpool_forward(y, op->argmax, x, &op->s.pool);
            break;
        case OP_AVGPOOL:
            if (m->act_bf16[op->in])
                be->avgpool_forward_bf16(y, (const uint16_t *)x, op->s.avg.N, op->s.avg.C,
                                         op->s.avg.HW);
            else
                be->avgpool_forward(y, x, op->s.avg.N, op->s.avg.C, op->s.avg.HW);
            break;
        case OP_LINEAR:
            be->linear_forward(y, x, P(m, op->w), P(m, op->b), op->s.lin.N, op->s.lin.I,
                               op->s.lin.O);
            break;
        case OP_ADD_RELU:
            if (m->act_bf16[op->out])
                be->add_relu_forward_bf16((uint16_t *)y, (const uint16_t *)x,
                                          (const uint16_t *)m->acts[op->in2].data, op->n);
            else
                be->add_relu_forward(y, x, m->acts[op->in2].data, op->n);
            break;
        case OP_L2NORM:
            be->l2norm_forward(y, op->save_mean, x, m->acts[op->in].n, m->acts[op->in].c);
            break;
        }
        PROF_END(0, op->kind);
    }
    return m->acts[m->n_acts - 1].data;
}

void model_zero_grads(Model *m)
{
    ASSERT(m->opt.with_grads);
    m->be->memset_zero(m->grad_arena.base, m->grad_arena.cap * sizeof(float));
}

static void backward_op(Model *m, const Op *op)
{
    const Backend *be = m->be;
    float *dx = m->dacts[op->in]; /* NULL for the input: its gradient is not needed */
    const float *dy = m->dacts[op->out];
    const float *x = m->acts[op->in].data;
    switch (op->kind) {
    case OP_CONV:
        be->conv2d_backward(dx, G(m, op->w), dy, x, P(m, op->w), &op->s.conv, m->ws);
        break;
    case OP_BN:
        be->batchnorm_backward(dx, G(m, op->w), G(m, op->b), dy, x, op->save_mean, op->save_rstd,
                               P(m, op->w), m->acts[op->out].data, &op->s.bn,
                               m->mode == MODEL_TRAIN ? BN_TRAIN : BN_EVAL);
        break;
    case OP_RELU: be->relu_backward(dx, dy, m->acts[op->out].data, op->n); break;
    case OP_MAXPOOL: be->maxpool_backward(dx, dy, op->argmax, &op->s.pool); break;
    case OP_AVGPOOL: be->avgpool_backward(dx, dy, op->s.avg.N, op->s.avg.C, op->s.avg.HW); break;
    case OP_LINEAR:
        be->linear_backward(dx, G(m, op->w), G(m, op->b), dy, x, P(m, op->w), op->s.lin.N,
                            op->s.lin.I, op->s.lin.O);
        break;
    case OP_ADD_RELU:
        if (m->act_bf16[op->out])
            be->add_relu_backward_bf16(dx, m->dacts[op->in2], dy,
                                       (const uint16_t *)m->acts[op->out].data, op->n, op->set_in,
                                       op->set_in2);
        else
            be->add_relu_backward(dx, m->dacts[op->in2], dy, m->acts[op->out].data, op->n,
                                  op->set_in, op->set_in2);
        break;
    case OP_L2NORM:
        be->l2norm_backward(dx, dy, m->acts[op->out].data, op->save_mean, m->acts[op->in].n,
                            m->acts[op->in].c);
        break;
    }
}

void model_backward(Model *m, const float *dout)
{
    ASSERT(m->opt.with_grads);
    int last = m->n_acts - 1;
    m->be->copy(m->dacts[last], dout, tensor_numel(m->acts[last]) * sizeof(float));
    for (int i = m->n_ops - 1; i >= 0; i--) {
        const Op *op = &m->ops[i];
        if (op->set_in && !writes_set(op)) {
            PROF_BEGIN;
            m->be->zero(m->dacts[op->in], tensor_numel(m->acts[op->in]));
            PROF_END(1, OP_L2NORM + 1);
        }
        PROF_BEGIN;
        backward_op(m, op);
        PROF_END(1, op->kind);
    }
}

const float *model_features(const Model *m) { return m->acts[m->feat_act].data; }

static const NamedTensor *find(const NamedTensor *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i].name, name)) return &list[i];
    return NULL;
}

const NamedTensor *model_find_param(const Model *m, const char *name)
{
    return find(m->params, m->n_params, name);
}

const NamedTensor *model_find_buffer(const Model *m, const char *name)
{
    return find(m->buffers, m->n_buffers, name);
}

/* torchvision's init: convs kaiming_normal_(mode="fan_out", nonlinearity="relu"); BN weight 1,
 * bias 0; nn.Linear's default kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
 * weight and bias. Draws in parameter order from `rng` (the init stream). */
void model_init_weights(Model *m, Rng *rng)
{
    const size_t bytes = m->param_arena.cap * sizeof(float);
    float *host = backend_stage_begin(m->be, m->param_arena.base, bytes);
    for (int i = 0; i < m->n_params; i++) {
        const NamedTensor *t = &m->params[i];
        float *p = host + t->offset;
        switch (t->kind) {
        case TENSOR_CONV_WEIGHT: {
            double fan_out = (double)t->shape[0] * t->shape[2] * t->shape[3];
            double std = sqrt(2.0 / fan_out);
            for (size_t j = 0; j < t->numel; j++) p[j] = (float)(std * rng_normal(rng));
            break;
        }
        case TENSOR_LINEAR_WEIGHT:
        case TENSOR_LINEAR_BIAS: {
            /* weight (O, I) and its bias (added right after it) share the bound 1/sqrt(I) */
            const NamedTensor *w = t->kind == TENSOR_LINEAR_WEIGHT ? t : t - 1;
            double bound = 1.0 / sqrt((double)w->shape[1]);
            for (size_t j = 0; j < t->numel; j++) p[j] = (float)rng_range(rng, -bound, bound);
            break;
        }
        case TENSOR_BN_WEIGHT:
        case TENSOR_BN_BIAS: {
            float v = t->kind == TENSOR_BN_WEIGHT ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) p[j] = v;
            break;
        }
        default: ASSERT(!"parameter without an init rule");
        }
    }
    backend_stage_end(m->be, m->param_arena.base, host, bytes);
}

void model_copy_weights(Model *dst, const Model *src)
{
    ASSERT(dst->be == src->be && dst->param_arena.cap == src->param_arena.cap &&
           dst->buffer_arena.cap == src->buffer_arena.cap);
    dst->be->copy(dst->param_arena.base, src->param_arena.base,
                  src->param_arena.cap * sizeof(float));
    dst->be->copy(dst->buffer_arena.base, src->buffer_arena.base,
                  src->buffer_arena.cap * sizeof(float));
}

void model_print_summary(const Model *m, FILE *f)
{
    size_t n = 0;
    for (int i = 0; i < m->n_params; i++) n += m->params[i].numel;
    const double mib = sizeof(float) / (1024.0 * 1024.0);
    fprintf(f, "model: %d ops, %zu parameters, features %d, output %d; arenas: params %.2f MiB, "
               "grads %.2f MiB, buffers %.2f MiB, activations and their gradients %.2f MiB (+ %.2f "
               "MiB of statistics), conv workspace %.2f MiB\n",
            m->n_ops, n, m->feat_dim, m->out_dim, arena_mib(&m->param_arena),
            arena_mib(&m->grad_arena), arena_mib(&m->buffer_arena), (double)m->tensor_floats * mib,
            arena_mib(&m->act_arena), (double)m->ws_floats * mib);
}

/* The tensor of list[i] in f: present, F32, of the model's shape and finite; else NULL with the
 * reason set (naming the file and the tensor). */
static const StTensor *checked(const NamedTensor *t, const StFile *f, const char *prefix)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s", prefix, t->name);
    int64_t shape[4];
    for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
    const StTensor *s;
    if (st_check(f, name, ST_F32, t->ndim, shape, &s) != CLFT_OK) {
        if (!s) clft_set_error("%s: no tensor '%s' (checkpoint of another architecture?)", f->path, name);
        return NULL;
    }
    const float *v = s->data;
    for (size_t j = 0; j < t->numel; j++)
        if (!isfinite(v[j])) {
            clft_set_error("%s: tensor '%s' holds a non-finite value (%g at index %zu)", f->path,
                           name, (double)v[j], j);
            return NULL;
        }
    return s;
}

ClftStatus model_check(const Model *m, const StFile *f, const char *prefix)
{
    for (int i = 0; i < m->n_params; i++)
        if (!checked(&m->params[i], f, prefix)) return CLFT_ERR_FORMAT;
    for (int i = 0; i < m->n_buffers; i++)
        if (!checked(&m->buffers[i], f, prefix)) return CLFT_ERR_FORMAT;
    return CLFT_OK;
}

static void upload_list(const Backend *be, const NamedTensor *list, int n, float *base,
                        const StFile *f, const char *prefix)
{
    for (int i = 0; i < n; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, list[i].name);
        be->upload(base + list[i].offset, st_find(f, name)->data, list[i].numel * sizeof(float));
    }
}

ClftStatus model_load(Model *m, const StFile *f, const char *prefix)
{
    ClftStatus st = model_check(m, f, prefix);
    if (st != CLFT_OK) return st; /* nothing changed */
    upload_list(m->be, m->params, m->n_params, m->param_arena.base, f, prefix);
    upload_list(m->be, m->buffers, m->n_buffers, m->buffer_arena.base, f, prefix);
    return CLFT_OK;
}

static void save_list(const NamedTensor *list, int n, const float *base, StWriter *w,
                      const char *prefix)
{
    for (int i = 0; i < n; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, list[i].name);
        int64_t shape[4];
        for (int d = 0; d < list[i].ndim; d++) shape[d] = list[i].shape[d];
        st_writer_add(w, name, ST_F32, list[i].ndim, shape, base + list[i].offset);
    }
}

void model_save(Model *m, StWriter *w, const char *prefix)
{
    const size_t np = m->param_arena.cap, nb = m->buffer_arena.cap;
    if (!m->be->host_memory && !m->save_mirror) m->save_mirror = xaligned_alloc((np + nb) * sizeof(float));
    const float *p = backend_read(m->be, m->save_mirror, m->param_arena.base, np * sizeof(float));
    const float *b = backend_read(m->be, m->save_mirror ? m->save_mirror + np : NULL,
                                  m->buffer_arena.base, nb * sizeof(float));
    save_list(m->params, m->n_params, p, w, prefix);
    save_list(m->buffers, m->n_buffers, b, w, prefix);
}
