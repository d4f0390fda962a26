/* augment.h — the paper's augmentations (PAPER.md §4) with torchvision 0.14's algorithms on PIL
 * images, computed on uint8 HWC images the way PIL computes them, then ToTensor + Normalize into a
 * float CHW view.
 *
 *   MoCo v1: RandomResizedCrop(size, scale 0.2-1) -> RandomGrayscale(0.2) -> ColorJitter(0.4, 0.4,
 *            0.4, 0.4) -> RandomHorizontalFlip -> ToTensor -> Normalize
 *   MoCo v2: RandomResizedCrop(size, scale 0.2-1) -> RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1),
 *            0.8) -> RandomGrayscale(0.2) -> RandomApply(GaussianBlur(sigma U(0.1, 2.0)), 0.5) ->
 *            RandomHorizontalFlip -> ToTensor -> Normalize
 *   eval:    Resize(shorter side = resize) -> CenterCrop(crop) -> ToTensor -> Normalize
 *
 * The two training recipes' numbers are baselines/moco.c's (aug_moco_v1/v2); here only the ops.
 *
 * Algorithms (each a public function so golden tests can call it with fixed parameters):
 *   - crop box: torchvision RandomResizedCrop.get_params — 10 attempts of area ~ U(scale) x area
 * and log-ratio ~ U(log ratio), w = round(sqrt(a r)), h = round(sqrt(a / r)) (round half to even,
 * as Python), top/left uniform; otherwise the centre-crop fallback clamped to the ratio range.
 *   - resize: Pillow's BILINEAR resample (a triangle filter widened by the downscale factor, i.e.
 *     antialiased; 22-bit fixed-point coefficients; horizontal pass then vertical, uint8 between).
 *   - brightness/contrast/saturation: PIL ImageEnhance = Image.blend(degenerate, img, factor) in
 *     float with truncation (clipped when extrapolating); contrast's degenerate is the rounded mean
 *     of the L image; saturation's is the L image. L = PIL's (19595 R + 38470 G + 7471 B +
 * 2^15)>>16.
 *   - hue: PIL RGB->HSV (uint8), h += uint8(hue * 255) mod 256, HSV->RGB (Pillow's Convert.c).
 *   - grayscale: L replicated to the channels.
 *   - blur: torchvision F.gaussian_blur — kernel exp(-x^2 / 2 sigma^2) normalised over
 *     linspace(-(k-1)/2, (k-1)/2, k), reflect padding, float then round to uint8. Computed as two
 *     separable float passes (torchvision uses one 2-D conv: the sums differ by float rounding, so
 *     a value may land on the other side of .5 — 1 grey level at most). Kernel size: 2 ceil(3
 * sigma)
 *     + 1 (AUG_BLUR_KERNEL_3SIGMA, the default; sigma up to 2 gives 13) or a fixed odd size
 *     (AUG_BLUR_KERNEL_FIXED, e.g. torchvision users' 23 at 224 px), clipped to keep the reflect
 *     padding inside the image.
 *   - flip: applied while normalising (it commutes with every op above).
 *
 * One-channel (grey) data: brightness and contrast apply exactly as on an L image; saturation, hue
 * and grayscale have no grey meaning and are skipped (their random draws are still made, so the
 * draw sequence does not depend on C). Fashion-MNIST mean/std (over all 60000 train pixels / 255):
 * 0.2860 / 0.3530 (AUG_FMNIST_MEAN/STD).
 *
 * Random draws: every draw of one aug_apply comes from the Rng passed in, in the order crop,
 * jitter-apply, jitter order + factors, grayscale, blur-apply, sigma, flip (all drawn every time,
 * used or not, so the sequence is fixed).
 */
#ifndef CLFT_DATA_AUGMENT_H
#define CLFT_DATA_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

#define AUG_FMNIST_MEAN 0.2860f
#define AUG_FMNIST_STD 0.3530f

/* The random pipeline's order after the crop: grayscale then jitter (MoCo v1's), or jitter then
 * grayscale (MoCo v2's); EVAL: resize + centre crop only. */
typedef enum { AUG_ORDER_GRAY_JITTER, AUG_ORDER_JITTER_GRAY, AUG_ORDER_EVAL } AugOrder;
typedef enum { AUG_BLUR_KERNEL_3SIGMA, AUG_BLUR_KERNEL_FIXED } AugBlurKernel;
typedef enum {
    AUG_JITTER_BRIGHTNESS,
    AUG_JITTER_CONTRAST,
    AUG_JITTER_SATURATION,
    AUG_JITTER_HUE
} AugJitterOp;

typedef struct {
    AugOrder order;
    int channels;             /* C of input and output */
    int size;                 /* output H = W */
    int resize;               /* eval: shorter side before the centre crop */
    float scale_lo, scale_hi; /* RandomResizedCrop area fraction */
    float ratio_lo, ratio_hi; /* RandomResizedCrop aspect ratio w/h */
    float flip_p;
    float jitter_b, jitter_c, jitter_s, jitter_h; /* factors U(max(0,1-x), 1+x); hue U(-h, h) */
    float jitter_p;
    float gray_p;
    float blur_p, blur_sigma_lo, blur_sigma_hi;
    AugBlurKernel blur_kernel;
    int blur_kernel_size; /* AUG_BLUR_KERNEL_FIXED: odd size */
    float mean[3], std[3];
} AugConfig;

/* The normalisation of `channels` (1 or 3): ImageNet's mean/std for 3, Fashion-MNIST's for 1. The
 * training recipes (MoCo v1's, v2's) are baselines/'s (baselines/baseline.h aug_moco_v1/v2). */
void aug_set_norm(AugConfig *c, int channels);
/* Resize the shorter side to `resize`, centre crop `crop`, normalise: evaluation's transform. */
AugConfig aug_eval(int resize, int crop, int channels);
/* Shorter side a decoder may shrink to without losing detail the crop needs (DCT-scaling hint):
 * size / sqrt(scale_lo) for the random crop, `resize` for eval. */
int aug_min_side(const AugConfig *cfg);

typedef struct {
    int top, left, h, w;
} AugBox;

/* Everything one aug_apply draws. */
typedef struct {
    AugBox box;
    int jitter; /* 1 when ColorJitter is applied */
    AugJitterOp order[4];
    float factor[4]; /* indexed by AugJitterOp; hue is the shift in [-0.5, 0.5] */
    int gray, blur, flip;
    float sigma;
} AugParams;

/* Growable per-thread buffers; zero-initialise, free with aug_scratch_free. */
typedef struct {
    uint8_t *a, *b, *tmp;
    float *f;
    int *bounds, *kk;
    size_t a_cap, b_cap, tmp_cap, f_cap, bounds_cap, kk_cap;
} AugScratch;

void aug_scratch_free(AugScratch *s);

void aug_draw(const AugConfig *cfg, Rng *rng, int H, int W, AugParams *p);
void aug_crop_box(Rng *rng, int H, int W, const float scale[2], const float ratio[2], AugBox *box);
/* Draws and applies: hwc (H, W, C) -> out_chw (C, size, size), normalised. */
void aug_apply(const AugConfig *cfg, Rng *rng, const uint8_t *hwc, int H, int W, int C,
               float *out_chw, AugScratch *s);
void aug_apply_params(const AugConfig *cfg, const AugParams *p, const uint8_t *hwc, int H, int W,
                      int C, float *out_chw, AugScratch *s);

/* The single operations, on uint8 HWC images. */
void aug_resize(const uint8_t *src, int H, int W, int C, AugBox box, uint8_t *dst, int oh, int ow,
                AugScratch *s);
void aug_brightness(uint8_t *img, int H, int W, int C, float factor);
void aug_contrast(uint8_t *img, int H, int W, int C, float factor);
void aug_saturation(uint8_t *img, int H, int W, int C, float factor);
void aug_hue(uint8_t *img, int H, int W, int C, float shift);
void aug_grayscale(uint8_t *img, int H, int W, int C);
void aug_blur(uint8_t *img, int H, int W, int C, float sigma, int ksize, AugScratch *s);
int aug_blur_ksize(const AugConfig *cfg, float sigma, int H, int W);
/* ToTensor + Normalize (+ horizontal flip when flip): (H, W, C) uint8 -> (C, H, W) float. */
void aug_normalize(const uint8_t *hwc, int H, int W, int C, const float *mean, const float *std,
                   int flip, float *out_chw);

/* Plain reference twins of the optimised kernels above (augment_ref.c, for tests): same
 * signatures, same results bit for bit, one pixel and one channel at a time. */
void aug_resize_ref(const uint8_t *src, int H, int W, int C, AugBox box, uint8_t *dst, int oh,
                    int ow);
void aug_brightness_ref(uint8_t *img, int H, int W, int C, float factor);
void aug_contrast_ref(uint8_t *img, int H, int W, int C, float factor);
void aug_saturation_ref(uint8_t *img, int H, int W, int C, float factor);
void aug_hue_ref(uint8_t *img, int H, int W, int C, float shift);
void aug_blur_ref(uint8_t *img, int H, int W, int C, float sigma, int ksize);
void aug_normalize_ref(const uint8_t *hwc, int H, int W, int C, const float *mean, const float *std,
                       int flip, float *out_chw);

#endif
