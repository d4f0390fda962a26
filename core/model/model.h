/* model.h — ResNet encoders (resnet18/34/50 and a small resnet for 28–32 px images) with an optional
 * projection head, as one flat list of layer ops over arenas.
 *
 * References: He et al. 2016 (ResNet); torchvision.models.resnet (names, layouts, init);
 * MoCo (He et al. 2020) and MoCo v2 (Chen et al. 2020) heads, PAPER.md §4.
 *
 * A Model is planned for one batch shape (N, C, H, W): building it lists the ops top to bottom
 * (model.c: resnet_build reads as the architecture), lays out the parameters in ONE arena with
 * torchvision names (conv1.weight, bn1.running_mean, layer1.0.conv1.weight, fc.0.weight, ...), and
 * sizes the activation arena exactly. Two models built from the same ModelConfig have the same
 * parameter layout, so the MoCo key encoder's EMA is one loop over the arena.
 *
 * Memory: the activations and activation gradients of one step share a buffer where their
 * lifetimes do not overlap (model_plan_memory, core/model/memory.c): what backward reads is kept,
 * the rest (and the key encoder's and evaluators' activations) is reused within the step, and the
 * gradients take about as much as the few alive at any time.
 *
 * A model lives on a backend: its arenas are that backend's memory and every op is a backend call
 * (be->conv2d_forward, ...). Initial values are computed on the host and uploaded once, so a seed
 * gives the same start on every backend; model_load/model_save are the checkpoint boundary.
 */
#ifndef CLFT_MODEL_H
#define CLFT_MODEL_H

#include <stddef.h>

#include "core/common.h"
#include "core/io/safetensors.h"
#include "core/nn/nn.h"
#include "core/rng.h"
#include "core/tensor.h"

typedef enum { ARCH_RESNET18, ARCH_RESNET34, ARCH_RESNET50, ARCH_RESNET_SMALL } ResNetArch;
typedef enum { STEM_IMAGENET, STEM_SMALL } StemKind;
typedef enum { HEAD_NONE, HEAD_LINEAR, HEAD_MLP } HeadKind;

typedef struct {
    ResNetArch arch;
    StemKind stem;   /* IMAGENET: 7x7/2 conv + 3x3/2 max-pool; SMALL: 3x3/1 conv, no pool */
    int width;       /* channels of the stem and first stage (torchvision: 64) */
    int stages;      /* resnet_small only: stages of basic blocks, widths width·2^s (1..4) */
    int blocks;      /* resnet_small only: basic blocks per stage */
    int in_channels; /* 1 or 3 */
    HeadKind head;
    int head_hidden; /* mlp only; 0 = the backbone's feature dimension (MoCo v2) */
    int head_dim;    /* output dimension (128) */
} ModelConfig;

typedef enum { OP_CONV, OP_BN, OP_RELU, OP_MAXPOOL, OP_AVGPOOL, OP_LINEAR, OP_ADD_RELU, OP_L2NORM } OpKind;

/* One layer call. `in`, `in2` (OP_ADD_RELU) and `out` index Model.acts. */
typedef struct {
    OpKind kind;
    int in, in2, out;
    union {
        ConvShape conv;
        BnShape bn;
        PoolShape pool;
        struct {
            int N, I, O;
        } lin;
        struct {
            int N, C, HW;
        } avg;
    } s;
    size_t n;                  /* elements of `out` */
    long w, b;                 /* parameter offsets (weight/gamma, bias/beta), -1 = none */
    long rm, rv;               /* buffer offsets (BN running mean/var), -1 = none */
    float *save_mean, *save_rstd; /* BN (G, C); l2norm uses save_mean for the norms (N) */
    int *argmax;               /* max-pool */
    int set_in, set_in2;       /* backward: this op gives acts[in] / acts[in2] their first gradient
                                * (in backward order), so it writes instead of adding to zeros */
} Op;

/* What a named tensor is, recorded by the builder (initialisation and loading go by it, never by
 * its name). */
typedef enum {
    TENSOR_CONV_WEIGHT,
    TENSOR_BN_WEIGHT,
    TENSOR_BN_BIAS,
    TENSOR_BN_RUNNING_MEAN,
    TENSOR_BN_RUNNING_VAR,
    TENSOR_LINEAR_WEIGHT,
    TENSOR_LINEAR_BIAS,
} TensorKind;

/* A named tensor in the parameter or buffer arena, in torchvision naming and layout. */
typedef struct {
    char name[64];
    TensorKind kind;
    size_t offset; /* floats into the arena */
    int ndim;
    int shape[4];
    size_t numel;
} NamedTensor;

typedef enum { MODEL_TRAIN, MODEL_EVAL } ModelMode;

typedef struct {
    int with_grads; /* allocate gradients of parameters and activations (query encoder) */
    int bn_groups;  /* split-BN groups in training mode (1 = plain BN); must divide N */
} ModelOptions;

typedef struct {
    const Backend *be;
    ModelConfig cfg;
    ModelOptions opt;
    int N, C, H, W;
    int feat_dim;     /* backbone output (after global pooling) */
    int out_dim;      /* head output, or feat_dim without a head */
    int feat_act;     /* index of the pooled features in acts */
    int n_ops, cap_ops;
    Op *ops;
    int n_acts, cap_acts;
    Tensor *acts;     /* activations; acts[0] is the input (N, C, H, W), the caller's buffer */
    float **dacts;    /* their gradients (with_grads), dacts[0] unused */
    int n_params, n_buffers;
    NamedTensor *params, *buffers;
    Arena param_arena, grad_arena, buffer_arena;
    Arena act_arena;  /* what ops keep between forward and backward: BN statistics, argmax, norms */
    float *tensors;   /* the activations and their gradients, placed by model_plan_memory */
    size_t tensor_floats;
    size_t *act_off, *dact_off; /* (n_acts) where each activation and its gradient lives */
    unsigned char *act_bf16;    /* (n_acts) 1: kept in bf16 (core/nn/nn.h "bf16 storage") */
    ModelMode mode;   /* of the last forward: backward of BN depends on it */
    float *ws;        /* conv workspace on the backend, shared by all convs */
    size_t ws_floats;
    ClftStatus build_status; /* the first impossible layer shape met while building */
    float *save_mirror; /* host copy of the arenas for model_save on a device backend */
    float *in_layout;   /* (N, C, H, W) the input in the backend's layout (channels-last backends
                           with C > 1; NULL when the caller's NCHW batch is used as it is) */
} Model;

/* Plans and allocates a model on backend `be` for batches of (N, C, H, W). Returns
 * CLFT_ERR_SHAPE/VALUE with clft_last_error() naming the problem (e.g. an input too small for the
 * architecture). BN running variances start at 1, as torch. */
ClftStatus model_init(Model *m, const Backend *be, const ModelConfig *cfg, int N, int C, int H,
                      int W, const ModelOptions *opt);
void model_free(Model *m);
/* Offsets (floats) of every activation and activation gradient of a planned model (after the
 * planning pass: ops and shapes known, act_bf16 set), written to act_off / dact_off (n_acts
 * each); returns the floats the shared buffer needs. A bf16 activation takes half the room. */
size_t model_plan_memory(const Model *m, size_t *act_off, size_t *dact_off);
/* torchvision init: kaiming-normal fan_out for convs, BN γ=1 β=0, nn.Linear default for heads;
 * drawn on the host from `rng`, uploaded once. */
void model_init_weights(Model *m, Rng *rng);
/* Runs all ops on `in` (N, C, H, W) in NCHW (the loader's layout), a buffer on the model's backend
 * that is read and never written (acts[0] points at it: no copy, except on a channels-last backend
 * with C > 1, which transposes it once into in_layout); returns the output (N, out_dim) on the
 * backend, which is L2-normalised when the model has a head. */
const float *model_forward(Model *m, const float *in, ModelMode mode);
/* Backward from dout (N, out_dim, on the backend) through every op; accumulates into the grad
 * arena, which the caller zeroes (model_zero_grads) once per step. */
void model_backward(Model *m, const float *dout);
void model_zero_grads(Model *m);
/* The pooled backbone features (N, feat_dim) of the last forward, on the backend. */
const float *model_features(const Model *m);
const NamedTensor *model_find_param(const Model *m, const char *name);
const NamedTensor *model_find_buffer(const Model *m, const char *name);
void model_print_summary(const Model *m, FILE *f);

/* Checks that a safetensors file holds every parameter and buffer as `<prefix><torchvision name>`:
 * present, F32, of the model's shape, finite. Otherwise CLFT_ERR_FORMAT with clft_last_error()
 * naming the file, the tensor and what is wrong (e.g. both shapes: another architecture). */
ClftStatus model_check(const Model *m, const StFile *f, const char *prefix);
/* model_check, then uploads them all; a file that fails the check changes nothing. */
ClftStatus model_load(Model *m, const StFile *f, const char *prefix);
/* Adds every parameter and buffer to a writer as `<prefix><name>`: the data are referenced in
 * place on a host-memory backend, else downloaded once into save_mirror. */
void model_save(Model *m, StWriter *w, const char *prefix);
/* Copies the parameter and buffer arenas of `src` into `dst` (same configuration, same backend):
 * the key encoder's start. */
void model_copy_weights(Model *dst, const Model *src);

#endif
