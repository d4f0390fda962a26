/* fuzz_jpeg.c — libFuzzer target for the JPEG path of core/data/jpeg.c: header, pixel cap, colour
 * conversions (RGB, grey, CMYK/YCCK), DCT scaling, progressive scans and their cap, truncation.
 * Input: byte 0 (bit 0: 1 = luminance out, else RGB), byte 1 (min_side for DCT scaling, 0 = full
 * size), then the file. The pixel cap is 64 Kpx here (the default is 67 Mpx) so that one input
 * cannot make a run slow (at 1 Mpx a run managed ~1000 exec/s); the cap's own code is the same. */
#include <stdlib.h>
#include <string.h>

#include "core/data/jpeg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    JpegOptions opt = {
        .channels = (data[0] & 1) ? 1 : 3, .min_side = data[1], .max_pixels = 1 << 16};
    DataImage img;
    memset(&img, 0, sizeof img);
    ClftStatus st = jpeg_decode(data + 2, size - 2, "fuzz.jpg", &opt, &img);
    if (st == CLFT_OK) {
        ASSERT(img.C == opt.channels && img.H > 0 && img.W > 0);
        ASSERT((int64_t)img.H * img.W <= opt.max_pixels);
        volatile uint8_t last = img.pixels[(size_t)img.H * img.W * img.C - 1]; /* ASan: in bounds */
        (void)last;
    } else {
        ASSERT(!strncmp(clft_last_error(), "fuzz.jpg: ", 10));
    }
    data_image_free(&img);
    return 0;
}
