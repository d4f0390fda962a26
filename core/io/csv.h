/* csv.h — the CSV files of a run (DESIGN.md "Runs and files"): a writer with a fixed header over
 * libcsv's csv_fwrite (RFC 4180 quoting), and a strict reader over libcsv's parser.
 *
 * Numbers are written as the shortest %g text that reads back to the same double (at most 17
 * significant digits), so a value round-trips exactly and identical runs give identical bytes.
 * Rows end with "\n". Two modes:
 *   CSV_CREATE  whole-file results (eval.csv, summary.csv): written to "<path>.tmp.<pid>" and
 *               renamed over <path> by csv_close, so a reader never sees half a file.
 *   CSV_APPEND  per-step logs (train.csv, scores.csv): a missing or empty file gets the header; an
 *               existing one must carry exactly this header, and a torn last line (no final "\n",
 *               e.g. after SIGKILL) is cut off before appending. For exact resume, first call
 *               csv_truncate_after(path, "step", last_checkpointed_step).
 * Every write error (e.g. ENOSPC) is reported by csv_row/csv_flush/csv_close naming the file.
 */
#ifndef CLFT_CSV_H
#define CLFT_CSV_H

#include <stdio.h>

#include "core/common.h"
#include "core/io/atomic.h"

typedef enum { CSV_CREATE, CSV_APPEND } CsvMode;

typedef struct {
    FILE *fp;
    AtomicFile af; /* CSV_CREATE only */
    CsvMode mode;
    char path[4096];
    int ncol;
    int field; /* fields written in the current row */
    int err;   /* first errno seen, 0 = none */
} CsvWriter;

/* Opens `path` with header `columns` (ncol names). Errors name the file. */
ClftStatus csv_open(CsvWriter *w, const char *path, const char *const *columns, int ncol,
                    CsvMode mode);
/* One row of ncol numbers. */
ClftStatus csv_row(CsvWriter *w, const double *values);
/* A mixed row, field by field: csv_put_* ncol times, then csv_end_row (which checks the count). */
void csv_put_str(CsvWriter *w, const char *s);
void csv_put_num(CsvWriter *w, double v);
void csv_put_int(CsvWriter *w, long long v);
ClftStatus csv_end_row(CsvWriter *w);
/* Pushes buffered rows to the OS (the trainer calls it at each checkpoint). */
ClftStatus csv_flush(CsvWriter *w);
/* Flushes and closes (CSV_CREATE: fsync + rename). Reports any write error seen, naming the file.
 */
ClftStatus csv_close(CsvWriter *w);
/* Abandons a writer: CSV_CREATE removes the temporary; CSV_APPEND just closes. */
void csv_abort(CsvWriter *w);

/* Keeps the header and the rows whose numeric `column` <= value (atomically rewritten, bytes of
 * kept rows unchanged); drops a torn last line. CLFT_ERR_IO if the file cannot be read. */
ClftStatus csv_truncate_after(const char *path, const char *column, double value);

/* A whole CSV file as strings. */
typedef struct {
    char *path;
    int ncol, nrow;
    char **header; /* (ncol) */
    char **cells;  /* (nrow, ncol), row-major */
} CsvTable;

/* Reads a CSV file with a header row; every row must have the header's number of fields
 * (CLFT_ERR_FORMAT naming file and line otherwise). */
ClftStatus csv_read(const char *path, CsvTable *t);
/* The same on buf[0..size) in memory; `name` stands for the path in messages. */
ClftStatus csv_read_buffer(const char *name, const char *buf, size_t size, CsvTable *t);
void csv_table_free(CsvTable *t);
/* Index of column `name`, or -1. */
int csv_col(const CsvTable *t, const char *name);
const char *csv_cell(const CsvTable *t, int row, int col);
/* The cell as a number (strict); CLFT_ERR_VALUE naming file, row and column otherwise. */
ClftStatus csv_cell_num(const CsvTable *t, int row, int col, double *out);

/* The shortest %g text that reads back as exactly v (cap >= 32). */
void csv_format_num(double v, char *out, size_t cap);

#endif
