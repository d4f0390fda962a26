/* im2col.h — unfolding an image into GEMM columns and folding them back (CPU).
 *
 * Reference: Chellapilla et al. 2006, "High performance convolutional neural networks for document
 * processing"; the layout is Caffe's / PyTorch's THNN im2col: row r = (c*KH + kh)*KW + kw of the
 * column matrix holds, at column p = oh*W_out + ow, the input pixel that kernel tap (kh, kw) of
 * channel c sees at output position (oh, ow), or 0 where that pixel is padding.
 */
#ifndef CLFT_IM2COL_H
#define CLFT_IM2COL_H

#include "core/nn/nn.h"

/* col (C_in*KH*KW rows, row stride ldcol >= H_out*W_out) <- unfolded image (C_in, H, W). */
void im2col(float *col, int ldcol, const float *img, const ConvShape *s);
/* img (C_in, H, W) += folded columns: every column entry is added to the pixel it came from. */
void col2im_add(float *img, const float *col, int ldcol, const ConvShape *s);

#endif
