/* fuzz_csv.c — libFuzzer target for the CSV reader of core/io/csv.c (what `clft check`, `clft
 * reproduce` and resume read: summary.csv, expected bands, train.csv): parsing, the field-count
 * check, numeric cells; and, on a file, csv_truncate_after (exact resume) and the CSV_APPEND
 * header check with its torn-line cut.
 * Input: byte 0 (bits 0-1: 0 = read from memory, 1 = truncate after step <byte 1>, 2 = reopen for
 * appending), then the file. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[128];

static void remove_dir(void)
{
    unlink(path);
    rmdir(strrchr(path, '/') ? (*strrchr(path, '/') = '\0', path) : path);
}

/* A scratch file on tmpfs (made once). */
static const char *scratch(void)
{
    if (!path[0]) {
        char dir[] = "/dev/shm/clft-fuzz-csv-XXXXXX";
        if (!mkdtemp(dir)) abort();
        snprintf(path, sizeof path, "%s/t.csv", dir);
        atexit(remove_dir);
    }
    return path;
}

static void read_memory(const uint8_t *data, size_t size)
{
    CsvTable t;
    if (csv_read_buffer("fuzz.csv", (const char *)data, size, &t) != CLFT_OK) {
        ASSERT(!strncmp(clft_last_error(), "fuzz.csv", 8));
        return;
    }
    ASSERT(t.ncol >= 1);
    for (int c = 0; c < t.ncol; c++)
        ASSERT(csv_col(&t, t.header[c]) <= c);
    for (int r = 0; r < t.nrow; r++)
        for (int c = 0; c < t.ncol; c++) {
            double v;
            if (csv_cell_num(&t, r, c, &v) != CLFT_OK) ASSERT(clft_last_error()[0]);
        }
    csv_table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int mode = data[0] & 3;
    if (mode == 0 || mode == 3) {
        read_memory(data + 1, size - 1);
        return 0;
    }
    const char *p = scratch();
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data + 2, 1, size - 2, f) != size - 2 || fclose(f) != 0) abort();
    if (mode == 1) {
        (void)csv_truncate_after(p, "step", (double)data[1]);
    } else {
        /* Property: a log accepted for appending reads back as a table after the append. */
        static const char *const cols[] = {"epoch", "step", "loss"};
        CsvWriter w;
        if (csv_open(&w, p, cols, 3, CSV_APPEND) == CLFT_OK) {
            ASSERT(csv_row(&w, (const double[]){1, 2, 0.5}) == CLFT_OK);
            ASSERT(csv_close(&w) == CLFT_OK);
            CsvTable t;
            if (csv_read(p, &t) != CLFT_OK) {
                fprintf(stderr, "appended log does not read back: %s\n", clft_last_error());
                abort();
            }
            ASSERT(t.ncol == 3);
            csv_table_free(&t);
        }
    }
    return 0;
}
