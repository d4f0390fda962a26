/* jpeg.h — JPEG decoding with libjpeg-turbo into a DataImage as 8-bit RGB (or grey), the way PIL's
 * Image.open(...).convert("RGB") sees it: grayscale replicated to three channels, CMYK/YCCK
 * converted with PIL's formula (Adobe-inverted data handled), progressive files supported. DCT
 * scaling (M/8) is used when the caller's min_side allows it. A truncated or corrupt file is an
 * error naming the file (libjpeg's "premature end of data" warning counts as an error). */
#ifndef CLFT_DATA_JPEG_H
#define CLFT_DATA_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "core/data/dataset.h"

/* channels: 3 = RGB out, 1 = luminance out. min_side <= 0: full size. `what` names the file in
 * errors. */
ClftStatus jpeg_decode(const uint8_t *bytes, size_t size, const char *what, int channels,
                       int min_side, DataImage *img);

#endif
