/* plot_csv.c — see plot_csv.h. libcsv is fed one physical line at a time so that each record can be
 * tied to the line it ends on, for error messages. */
#include "plots/plot_csv.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    PlotTable *t;
    char **rec; /* fields of the record being read */
    int rec_n, rec_cap;
    size_t cells_cap;
    int rows_cap;
    int line; /* current physical line */
    int bad;  /* set once a record has the wrong field count */
} Reader;

static void on_field(void *s, size_t len, void *user)
{
    Reader *r = user;
    if (r->bad) return;
    if (r->rec_n == r->rec_cap) {
        r->rec_cap = r->rec_cap ? 2 * r->rec_cap : 16;
        r->rec = realloc(r->rec, (size_t)r->rec_cap * sizeof *r->rec);
        ASSERT(r->rec);
    }
    char *f = xmalloc(len + 1);
    if (len) memcpy(f, s, len);
    f[len] = '\0';
    r->rec[r->rec_n++] = f;
}

static void take_header(Reader *r)
{
    PlotTable *t = r->t;
    t->n_cols = r->rec_n;
    t->header = xmalloc((size_t)r->rec_n * sizeof *t->header);
    memcpy(t->header, r->rec, (size_t)r->rec_n * sizeof *t->header);
}

static void take_row(Reader *r)
{
    PlotTable *t = r->t;
    size_t need = (size_t)(t->n_rows + 1) * (size_t)t->n_cols;
    if (need > r->cells_cap) {
        r->cells_cap = need * 2;
        t->cells = realloc(t->cells, r->cells_cap * sizeof *t->cells);
        ASSERT(t->cells);
    }
    if (t->n_rows == r->rows_cap) {
        r->rows_cap = r->rows_cap ? 2 * r->rows_cap : 64;
        t->line = realloc(t->line, (size_t)r->rows_cap * sizeof *t->line);
        ASSERT(t->line);
    }
    memcpy(t->cells + (size_t)t->n_rows * (size_t)t->n_cols, r->rec,
           (size_t)t->n_cols * sizeof *t->cells);
    t->line[t->n_rows++] = r->line;
}

static void on_record(int term, void *user)
{
    (void)term;
    Reader *r = user;
    if (r->bad) return;
    if (!r->t->header) {
        take_header(r);
    } else if (r->rec_n != r->t->n_cols) {
        clft_set_error("%s:%d: row has %d fields, header has %d", r->t->path, r->line, r->rec_n,
                       r->t->n_cols);
        for (int i = 0; i < r->rec_n; i++) free(r->rec[i]);
        r->bad = 1;
    } else {
        take_row(r);
    }
    r->rec_n = 0;
}

static ClftStatus feed_lines(Reader *r, struct csv_parser *p, FILE *f)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    ClftStatus st = CLFT_OK;
    while (!r->bad && (len = getline(&buf, &cap, f)) >= 0) {
        r->line++;
        if (csv_parse(p, buf, (size_t)len, on_field, on_record, r) != (size_t)len) {
            clft_set_error("%s:%d: %s", r->t->path, r->line, csv_strerror(csv_error(p)));
            st = CLFT_ERR_FORMAT;
            break;
        }
    }
    free(buf);
    if (st == CLFT_OK && !r->bad && csv_fini(p, on_field, on_record, r) != 0) {
        clft_set_error("%s:%d: %s", r->t->path, r->line, csv_strerror(csv_error(p)));
        st = CLFT_ERR_FORMAT;
    }
    if (r->bad) st = CLFT_ERR_FORMAT;
    return st;
}

#define PTABLE_MAX_FILE (4ull << 30)

ClftStatus ptable_read(PlotTable *t, const char *path)
{
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    FILE *f;
    uint64_t size;
    ClftStatus st = clft_file_open(path, PTABLE_MAX_FILE, &f, &size); /* not a directory */
    if (st != CLFT_OK) return st;
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) clft_die("csv_init failed");
    Reader r = {.t = t};
    st = feed_lines(&r, &p, f);
    csv_free(&p);
    fclose(f);
    for (int i = 0; i < r.rec_n; i++) free(r.rec[i]); /* a record cut short by an error */
    free(r.rec);
    if (st == CLFT_OK && !t->header) {
        clft_set_error("%s: empty file (no header row)", path);
        st = CLFT_ERR_FORMAT;
    }
    if (st != CLFT_OK) ptable_free(t);
    return st;
}

void ptable_free(PlotTable *t)
{
    if (t->cells)
        for (size_t i = 0; i < (size_t)t->n_rows * (size_t)t->n_cols; i++) free(t->cells[i]);
    if (t->header)
        for (int i = 0; i < t->n_cols; i++) free(t->header[i]);
    free(t->cells);
    free(t->header);
    free(t->line);
    t->cells = NULL;
    t->header = NULL;
    t->line = NULL;
    t->n_rows = t->n_cols = 0;
}

int ptable_col(const PlotTable *t, const char *name)
{
    for (int i = 0; i < t->n_cols; i++)
        if (!strcmp(t->header[i], name)) return i;
    return -1;
}

ClftStatus ptable_require(const PlotTable *t, const char *const *names, int *idx)
{
    for (int i = 0; names[i]; i++) {
        idx[i] = ptable_col(t, names[i]);
        if (idx[i] < 0) {
            clft_set_error("%s:1: header has no column '%s'", t->path, names[i]);
            return CLFT_ERR_FORMAT;
        }
    }
    return CLFT_OK;
}

ClftStatus ptable_num(const PlotTable *t, int row, int col, PtableNumKind kind, double *out)
{
    ASSERT(row >= 0 && row < t->n_rows && col >= 0 && col < t->n_cols);
    const char *s = ptable_str(t, row, col);
    if (kind == PTABLE_NUM_EPOCH || kind == PTABLE_NUM_STEP) {
        long v;
        ClftStatus st =
            ptable_int(t, row, col, 0, kind == PTABLE_NUM_EPOCH ? PTABLE_MAX_EPOCH : 1L << 53, &v);
        if (st == CLFT_OK) *out = (double)v;
        return st;
    }
    if (kind == PTABLE_NUM_OPTIONAL && (!*s || !strcmp(s, "nan") || !strcmp(s, "NaN"))) {
        *out = NAN;
        return CLFT_OK;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        clft_set_error("%s:%d: column '%s': '%s' is not a number", t->path, t->line[row],
                       t->header[col], s);
        return CLFT_ERR_VALUE;
    }
    *out = v;
    return CLFT_OK;
}

ClftStatus ptable_int(const PlotTable *t, int row, int col, long lo, long hi, long *out)
{
    ASSERT(row >= 0 && row < t->n_rows && col >= 0 && col < t->n_cols);
    const char *s = ptable_str(t, row, col);
    if (parse_int(s, lo, hi, out) != CLFT_OK) {
        clft_set_error("%s:%d: column '%s': '%s' is not an integer in [%ld, %ld]", t->path,
                       t->line[row], t->header[col], s, lo, hi);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}
