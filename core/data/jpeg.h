/* jpeg.h — JPEG decoding with libjpeg-turbo into a DataImage as 8-bit RGB (or grey), the way PIL's
 * Image.open(...).convert("RGB") sees it: grayscale replicated to three channels, CMYK/YCCK
 * converted with PIL's formula (Adobe-inverted data handled), progressive files supported. DCT
 * scaling (M/8) is used when the caller's min_side allows it. A truncated or corrupt file is an
 * error naming the file (libjpeg's "premature end of data" warning counts as an error, and stops
 * the decode at once).
 *
 * Untrusted files (libjpeg-turbo's advice for them, see its TurboJPEG TJPARAM_MAXPIXELS and
 * TJFLAG_LIMITSCANS, and the note on CVE-2019-13960): the header's width x height is checked
 * against a pixel cap before any image buffer is allocated, and a progressive file may have at most
 * a fixed number of scans (a progress monitor stops the decode past it). */
#ifndef CLFT_DATA_JPEG_H
#define CLFT_DATA_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "core/data/dataset.h"

/* The default pixel cap: 8192 x 8192 = 67.1 Mpx, far above ImageNet's largest images (a few
 * Mpx); a build may change it with cmake -DCLFT_JPEG_MAX_PIXELS=N. */
#ifndef CLFT_JPEG_MAX_PIXELS
#define CLFT_JPEG_MAX_PIXELS (8192LL * 8192LL)
#endif
/* Scans of a progressive file: libjpeg's own progression has 10, TurboJPEG's limit is 500. */
#define JPEG_MAX_SCANS 500
/* Largest JPEG file read (bytes). */
#define JPEG_MAX_FILE_BYTES (1ull << 30)

typedef struct {
    int channels;       /* 3 = RGB out, 1 = luminance out */
    int min_side;       /* DCT scaling keeps the shorter side >= this; <= 0: full size */
    int64_t max_pixels; /* width x height cap of the file's header; 0 = CLFT_JPEG_MAX_PIXELS */
    int max_scans;      /* progressive scans cap; 0 = JPEG_MAX_SCANS */
} JpegOptions;

/* Decodes bytes[0..size) into img. `what` names the file in errors. */
ClftStatus jpeg_decode(const uint8_t *bytes, size_t size, const char *what, const JpegOptions *opt,
                       DataImage *img);

#endif
