/* plot_csv.h — a small private CSV table reader for plots/ (libcsv underneath).
 *
 * Reads a whole CSV file with a header row into memory as strings; numbers are parsed on access so
 * that every error names the file, the line and the column (DESIGN.md "Runs and files": every CSV
 * has a header row). Meant to be replaced by the shared core/io/csv reader once it lands.
 */
#ifndef CLFT_PLOT_CSV_H
#define CLFT_PLOT_CSV_H

#include "core/common.h"

typedef struct {
    char path[1024];
    int n_cols;
    char **header; /* (n_cols) */
    int n_rows;    /* data rows, header excluded */
    char **cells;  /* (n_rows, n_cols), row-major, each NUL-terminated */
    int *line;     /* (n_rows) physical line number (1-based) where the row ends */
} PlotTable;

/* Reads `path`. CLFT_ERR_IO when it cannot be opened; CLFT_ERR_FORMAT for a parse error, an empty
 * file or a row whose field count differs from the header's. clft_last_error() names file and line. */
ClftStatus ptable_read(PlotTable *t, const char *path);
void ptable_free(PlotTable *t);

/* Column index of `name`, or -1 when the header lacks it. */
int ptable_col(const PlotTable *t, const char *name);
/* Indices of every name in `names` (NULL-terminated) into idx; CLFT_ERR_FORMAT naming the first
 * missing column otherwise. */
ClftStatus ptable_require(const PlotTable *t, const char *const *names, int *idx);

static inline const char *ptable_str(const PlotTable *t, int row, int col)
{
    return t->cells[(size_t)row * (size_t)t->n_cols + (size_t)col];
}

typedef enum {
    PTABLE_NUM_REQUIRED, /* the cell must hold a finite number */
    PTABLE_NUM_OPTIONAL, /* an empty cell, "nan" or "NaN" reads as NAN */
    PTABLE_NUM_EPOCH,    /* an integer in [0, PTABLE_MAX_EPOCH] (an epoch, 0-based or completed) */
    PTABLE_NUM_STEP,     /* an integer in [0, 2^53] (a global step count) */
} PtableNumKind;

#define PTABLE_MAX_EPOCH 1000000L /* config's optim.epochs range */

/* Parses cell (row, col) as a double; CLFT_ERR_VALUE with "file:line: column 'x': 'v' is not a
 * number" (or "... is not an integer in [lo, hi]" for the integer kinds) otherwise. */
ClftStatus ptable_num(const PlotTable *t, int row, int col, PtableNumKind kind, double *out);
/* Parses cell (row, col) as an integer in [lo, hi] (an epoch or a step count); CLFT_ERR_VALUE with
 * "file:line: column 'x': 'v' is not an integer in [lo, hi]" otherwise. */
ClftStatus ptable_int(const PlotTable *t, int row, int col, long lo, long hi, long *out);

#endif
