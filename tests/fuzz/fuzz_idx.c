/* fuzz_idx.c — libFuzzer target for the IDX (.gz) parser of core/data/idx.c: the gzip framing
 * (members, trailing bytes, CRC), the IDX header and the data length.
 * Input: byte 0 selects the file kind (bit 0: 0 = images, 1 = labels; for labels, bits 1..7 are the
 * image count they must match), the rest is the file's bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    DatasetImpl impl;
    memset(&impl, 0, sizeof impl);
    ClftStatus st;
    if (data[0] & 1) {
        impl.n = data[0] >> 1;
        st = idx_parse_labels(&impl, data + 1, size - 1, "fuzz.gz");
        if (st == CLFT_OK)
            for (int i = 0; i < impl.n; i++)
                ASSERT(impl.labels[i] >= 0 && impl.labels[i] < 10);
    } else {
        st = idx_parse_images(&impl, data + 1, size - 1, "fuzz.gz");
        if (st == CLFT_OK) {
            ASSERT(impl.n > 0 && impl.H == 28 && impl.W == 28 && impl.C == 1);
            volatile uint8_t last = impl.pixels[(size_t)impl.n * 784 - 1]; /* ASan: in bounds */
            (void)last;
        }
    }
    ASSERT(st == CLFT_OK || clft_last_error()[0]);
    free(impl.pixels);
    free(impl.labels);
    return 0;
}
