/* fuzz_cifar.c — libFuzzer target for the CIFAR batch parser of core/data/cifar.c (record size,
 * record count, labels, the CHW to HWC copy).
 * Input: byte 0 selects CIFAR-10 (even: 1 label byte, 10 classes) or CIFAR-100 (odd: 2 label bytes,
 * 100 classes); the rest is the batch file, parsed twice into one dataset (two batches). */
#include <stdlib.h>
#include <string.h>

#include "core/data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int label_bytes = (data[0] & 1) ? 2 : 1;
    DatasetImpl impl;
    memset(&impl, 0, sizeof impl);
    impl.n_classes = label_bytes == 2 ? 100 : 10;
    int cap = 0;
    for (int batch = 0; batch < 2; batch++) {
        int before = impl.n;
        ClftStatus st = cifar_parse(&impl, data + 1, size - 1, label_bytes, &cap, "fuzz.bin");
        if (st != CLFT_OK) {
            ASSERT(clft_last_error()[0]);
            break;
        }
        ASSERT((size_t)(impl.n - before) * (size_t)(label_bytes + 3072) == size - 1);
        ASSERT(impl.n <= cap);
    }
    for (int i = 0; i < impl.n; i++)
        ASSERT(impl.labels[i] >= 0 && impl.labels[i] < impl.n_classes);
    free(impl.pixels);
    free(impl.labels);
    return 0;
}
