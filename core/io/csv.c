/* csv.c — CSV writer (fixed header, libcsv quoting, exact-resume truncation) and strict reader
 * (libcsv parser). See csv.h; RFC 4180 for the format.
 */
#include "core/io/csv.h"

#include <errno.h>
#include <math.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>

void csv_format_num(double v, char *out, size_t cap)
{
    /* Whole numbers (epochs, steps, counts) as plain integers: "130", never "1.3e+02". */
    if (v == v && fabs(v) < 1e15 && v == (double)(long long)v) {
        snprintf(out, cap, "%lld", (long long)v);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, cap, "%.*g", p, v);
        if (strtod(out, NULL) == v || v != v) return; /* NaN never compares equal: "nan" */
    }
}

/* ---- writer ---- */

static void note_err(CsvWriter *w, int rc)
{
    if (rc < 0 && !w->err) w->err = errno ? errno : EIO;
}

static ClftStatus writer_status(const CsvWriter *w)
{
    if (!w->err) return CLFT_OK;
    clft_set_error("%s: write failed (%s)", w->path, strerror(w->err));
    return CLFT_ERR_IO;
}

/* A field is written bare unless it holds a delimiter, quote, line break or edge blank. */
void csv_put_str(CsvWriter *w, const char *s)
{
    size_t n = strlen(s);
    if (w->field++ > 0) note_err(w, fputc(',', w->fp) == EOF ? -1 : 0);
    int needs_quotes = strpbrk(s, ",\"\r\n") != NULL ||
                       (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'));
    if (needs_quotes)
        note_err(w, csv_fwrite(w->fp, s, n) == EOF ? -1 : 0);
    else
        note_err(w, fputs(s, w->fp) == EOF ? -1 : 0);
}

void csv_put_num(CsvWriter *w, double v)
{
    char buf[40];
    csv_format_num(v, buf, sizeof buf);
    csv_put_str(w, buf);
}

void csv_put_int(CsvWriter *w, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    csv_put_str(w, buf);
}

ClftStatus csv_end_row(CsvWriter *w)
{
    ASSERT(w->field == w->ncol); /* a row must fill exactly the header's columns */
    w->field = 0;
    note_err(w, fputc('\n', w->fp) == EOF ? -1 : 0);
    return writer_status(w);
}

ClftStatus csv_row(CsvWriter *w, const double *values)
{
    for (int i = 0; i < w->ncol; i++)
        csv_put_num(w, values[i]);
    return csv_end_row(w);
}

ClftStatus csv_flush(CsvWriter *w)
{
    if (fflush(w->fp) != 0) note_err(w, -1);
    return writer_status(w);
}

/* The header line exactly as the writer writes it, into a malloc'ed string. */
static char *header_text(const char *const *columns, int ncol)
{
    CsvWriter tmp = {.ncol = ncol};
    char *buf = NULL;
    size_t len = 0;
    tmp.fp = open_memstream(&buf, &len);
    if (!tmp.fp) clft_die("csv: open_memstream failed (%s)", strerror(errno));
    for (int i = 0; i < ncol; i++)
        csv_put_str(&tmp, columns[i]);
    fputc('\n', tmp.fp);
    if (fclose(tmp.fp) != 0) clft_die("csv: out of memory");
    return buf;
}

/* Reads a whole file into memory (NUL-terminated); CLFT_ERR_IO naming it. */
#define CSV_MAX_FILE (4ull << 30) /* a run's logs and results are far smaller */

/* The whole regular file, NUL-terminated. */
static ClftStatus slurp(const char *path, char **out, size_t *size)
{
    unsigned char *b;
    ClftStatus st = clft_file_read(path, CSV_MAX_FILE, &b, size);
    *out = (char *)b;
    return st;
}

static ClftStatus check_rows(const char *path, const char *buf, size_t size);

/* CSV_APPEND on an existing non-empty file: the header must match and the complete lines must be
 * well-formed CSV with the header's field count (rows appended to a damaged log would read back
 * wrong); a torn tail is cut off. *fresh = 1 when the file held no complete line (then it is
 * rewritten from the header). */
static ClftStatus append_prepare(const char *path, const char *header, int *fresh)
{
    char *buf;
    size_t size;
    ClftStatus st = slurp(path, &buf, &size);
    if (st != CLFT_OK) return st;
    size_t keep = size;
    while (keep > 0 && buf[keep - 1] != '\n')
        keep--; /* drop a torn last line */
    *fresh = keep == 0;
    size_t hlen = strlen(header);
    if (!*fresh && (keep < hlen || memcmp(buf, header, hlen))) {
        size_t n = strcspn(buf, "\n");
        clft_set_error("%s: existing header '%.*s' differs from '%.*s'", path,
                       (int)(n > 300 ? 300 : n), buf, (int)hlen - 1, header);
        free(buf);
        return CLFT_ERR_FORMAT;
    }
    st = *fresh ? CLFT_OK : check_rows(path, buf, keep);
    free(buf);
    if (st != CLFT_OK) return st;
    if (keep != size && truncate(path, (off_t)keep) != 0) {
        clft_set_error("%s: cannot cut a torn last line (%s)", path, strerror(errno));
        return CLFT_ERR_IO;
    }
    return CLFT_OK;
}

static ClftStatus open_append(CsvWriter *w, const char *header, int *write_header)
{
    struct stat sb;
    int fresh = 1;
    if (stat(w->path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        ClftStatus st = append_prepare(w->path, header, &fresh);
        if (st != CLFT_OK) return st;
    }
    *write_header = fresh;
    w->fp = fopen(w->path, fresh ? "w" : "a");
    if (!w->fp) {
        clft_set_error("%s: cannot write (%s)", w->path, strerror(errno));
        return CLFT_ERR_IO;
    }
    return CLFT_OK;
}

ClftStatus csv_open(CsvWriter *w, const char *path, const char *const *columns, int ncol,
                    CsvMode mode)
{
    ASSERT(ncol > 0);
    memset(w, 0, sizeof *w);
    w->mode = mode;
    w->ncol = ncol;
    snprintf(w->path, sizeof w->path, "%s", path);
    char *header = header_text(columns, ncol);
    int write_header = 1;
    ClftStatus st;
    if (mode == CSV_CREATE) {
        st = atomic_open(&w->af, path);
        w->fp = w->af.fp;
    } else {
        st = open_append(w, header, &write_header);
    }
    if (st == CLFT_OK && write_header) {
        note_err(w, fputs(header, w->fp) == EOF ? -1 : 0);
        st = csv_flush(w); /* a full disk or unwritable file shows up here, not rows later */
        if (st != CLFT_OK) csv_abort(w);
    }
    free(header);
    return st;
}

ClftStatus csv_close(CsvWriter *w)
{
    ClftStatus st = CLFT_OK;
    if (!w->fp) return CLFT_OK;
    if (w->mode == CSV_CREATE) {
        if (w->err) {
            st = writer_status(w);
            atomic_abort(&w->af);
        } else if ((st = atomic_commit(&w->af)) != CLFT_OK) {
            /* atomic_commit names the file and the reason */
        }
    } else {
        if (fflush(w->fp) != 0) note_err(w, -1);
        if (fclose(w->fp) != 0) note_err(w, -1);
        st = writer_status(w);
    }
    w->fp = NULL;
    return st;
}

void csv_abort(CsvWriter *w)
{
    if (!w->fp) return;
    if (w->mode == CSV_CREATE)
        atomic_abort(&w->af);
    else
        fclose(w->fp);
    w->fp = NULL;
}

/* ---- reader: libcsv parser fed one line at a time, so each row's byte range is known ---- */

typedef struct {
    char **fields; /* (n) */
    int n;
    int line;          /* line where the row's first field ended (1-based) */
    size_t start, end; /* byte range [start, end) including its "\n" */
} ScanRow;

typedef struct {
    ScanRow *rows;
    int nrow, caprow;
    ScanRow cur;
    int capfield;
    int line;         /* line of the chunk being parsed */
    size_t pos;       /* end of the chunk being parsed */
    size_t row_start; /* where the current row began */
} Scan;

static void scan_field(void *s, size_t len, void *data)
{
    Scan *sc = data;
    if (sc->cur.n == 0) sc->cur.line = sc->line;
    if (sc->cur.n == sc->capfield) {
        sc->capfield = sc->capfield ? 2 * sc->capfield : 16;
        sc->cur.fields = realloc(sc->cur.fields, (size_t)sc->capfield * sizeof(char *));
        if (!sc->cur.fields) clft_die("csv: out of memory");
    }
    char *f = xmalloc(len + 1);
    if (len) memcpy(f, s, len);
    f[len] = '\0';
    sc->cur.fields[sc->cur.n++] = f;
}

static void scan_row(int term, void *data)
{
    Scan *sc = data;
    (void)term;
    if (sc->nrow == sc->caprow) {
        sc->caprow = sc->caprow ? 2 * sc->caprow : 256;
        sc->rows = realloc(sc->rows, (size_t)sc->caprow * sizeof *sc->rows);
        if (!sc->rows) clft_die("csv: out of memory");
    }
    sc->cur.start = sc->row_start;
    sc->cur.end = sc->pos;
    sc->rows[sc->nrow++] = sc->cur;
    sc->row_start = sc->pos;
    memset(&sc->cur, 0, sizeof sc->cur);
    sc->capfield = 0;
}

static void scan_free(Scan *sc)
{
    for (int r = 0; r < sc->nrow; r++) {
        for (int i = 0; i < sc->rows[r].n; i++)
            free(sc->rows[r].fields[i]);
        free(sc->rows[r].fields);
    }
    for (int i = 0; i < sc->cur.n; i++)
        free(sc->cur.fields[i]);
    free(sc->cur.fields);
    free(sc->rows);
    memset(sc, 0, sizeof *sc);
}

/* Parses buf[0..size) into rows. */
static ClftStatus scan_buffer(const char *path, const char *buf, size_t size, Scan *sc)
{
    struct csv_parser p;
    memset(sc, 0, sizeof *sc);
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) clft_die("csv: csv_init failed");
    size_t off = 0;
    int bad = 0;
    while (off < size && !bad) {
        const char *nl = memchr(buf + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (buf + off)) + 1 : size - off;
        sc->line++;
        sc->pos = off + len;
        bad = csv_parse(&p, buf + off, len, scan_field, scan_row, sc) != len;
        off += len;
    }
    sc->pos = size;
    if (!bad) bad = csv_fini(&p, scan_field, scan_row, sc) != 0;
    if (bad) {
        clft_set_error("%s:%d: malformed CSV (%s)", path, sc->line, csv_strerror(csv_error(&p)));
        csv_free(&p);
        scan_free(sc);
        return CLFT_ERR_FORMAT;
    }
    csv_free(&p);
    return CLFT_OK;
}

/* Scans buf[0..size) and checks every row has the header's field count. */
static ClftStatus scan_table(const char *path, const char *buf, size_t size, Scan *sc)
{
    ClftStatus st = scan_buffer(path, buf, size, sc);
    if (st != CLFT_OK) return st;
    if (sc->nrow == 0) {
        clft_set_error("%s: empty CSV file (no header row)", path);
        scan_free(sc);
        return CLFT_ERR_FORMAT;
    }
    for (int r = 1; r < sc->nrow; r++)
        if (sc->rows[r].n != sc->rows[0].n) {
            clft_set_error("%s:%d: %d fields, but the header has %d", path, sc->rows[r].line,
                           sc->rows[r].n, sc->rows[0].n);
            scan_free(sc);
            return CLFT_ERR_FORMAT;
        }
    return CLFT_OK;
}

static ClftStatus check_rows(const char *path, const char *buf, size_t size)
{
    Scan sc;
    ClftStatus st = scan_table(path, buf, size, &sc);
    if (st == CLFT_OK) scan_free(&sc);
    return st;
}

ClftStatus csv_read_buffer(const char *name, const char *buf, size_t size, CsvTable *t)
{
    Scan sc;
    memset(t, 0, sizeof *t);
    ClftStatus st = scan_table(name, buf, size, &sc);
    if (st != CLFT_OK) return st;
    t->path = strdup(name);
    if (!t->path) clft_die("csv: out of memory");
    t->ncol = sc.rows[0].n;
    t->nrow = sc.nrow - 1;
    t->header = sc.rows[0].fields;
    size_t cells;
    if (clft_mul_size((size_t)t->nrow, (size_t)t->ncol, &cells) ||
        clft_mul_size(cells, sizeof(char *), &cells))
        clft_die("%s: too many CSV cells", name);
    t->cells = xmalloc(cells + 1);
    for (int r = 1; r < sc.nrow; r++) {
        memcpy(t->cells + (size_t)(r - 1) * (size_t)t->ncol, sc.rows[r].fields,
               (size_t)t->ncol * sizeof(char *));
        free(sc.rows[r].fields);
    }
    free(sc.rows);
    free(sc.cur.fields);
    return CLFT_OK;
}

ClftStatus csv_read(const char *path, CsvTable *t)
{
    char *buf;
    size_t size;
    memset(t, 0, sizeof *t);
    ClftStatus st = slurp(path, &buf, &size);
    if (st != CLFT_OK) return st;
    st = csv_read_buffer(path, buf, size, t);
    free(buf);
    return st;
}

void csv_table_free(CsvTable *t)
{
    for (int i = 0; i < t->ncol; i++)
        free(t->header[i]);
    for (size_t i = 0; i < (size_t)t->nrow * (size_t)t->ncol; i++)
        free(t->cells[i]);
    free(t->header);
    free(t->cells);
    free(t->path);
    memset(t, 0, sizeof *t);
}

int csv_col(const CsvTable *t, const char *name)
{
    for (int i = 0; i < t->ncol; i++)
        if (!strcmp(t->header[i], name)) return i;
    return -1;
}

const char *csv_cell(const CsvTable *t, int row, int col)
{
    ASSERT(row >= 0 && row < t->nrow && col >= 0 && col < t->ncol);
    return t->cells[(size_t)row * (size_t)t->ncol + (size_t)col];
}

ClftStatus csv_cell_num(const CsvTable *t, int row, int col, double *out)
{
    const char *s = csv_cell(t, row, col);
    if (parse_float(s, -DBL_MAX, DBL_MAX, out) == CLFT_OK) return CLFT_OK;
    if (!strcmp(s, "nan") || !strcmp(s, "inf") || !strcmp(s, "-inf")) {
        *out = strtod(s, NULL);
        return CLFT_OK;
    }
    clft_set_error("%s: data row %d, column %s: '%s' is not a number", t->path, row + 1,
                   t->header[col], s);
    return CLFT_ERR_VALUE;
}

/* ---- exact resume ---- */

static ClftStatus write_kept(const char *path, const char *buf, const Scan *sc, int col,
                             double value)
{
    AtomicFile af;
    ClftStatus st = atomic_open(&af, path);
    if (st != CLFT_OK) return st;
    fwrite(buf, 1, sc->rows[0].end, af.fp);
    for (int r = 1; r < sc->nrow; r++) {
        double v;
        if (parse_float(sc->rows[r].fields[col], -DBL_MAX, DBL_MAX, &v) != CLFT_OK) {
            clft_set_error("%s:%d: column %s: '%s' is not a number", path, sc->rows[r].line,
                           sc->rows[0].fields[col], sc->rows[r].fields[col]);
            atomic_abort(&af);
            return CLFT_ERR_FORMAT;
        }
        if (v <= value)
            fwrite(buf + sc->rows[r].start, 1, sc->rows[r].end - sc->rows[r].start, af.fp);
    }
    return atomic_commit(&af);
}

ClftStatus csv_truncate_after(const char *path, const char *column, double value)
{
    char *buf;
    size_t size;
    ClftStatus st = slurp(path, &buf, &size);
    if (st != CLFT_OK) return st;
    while (size > 0 && buf[size - 1] != '\n')
        size--; /* a torn last line is dropped */
    Scan sc;
    st = scan_buffer(path, buf, size, &sc);
    if (st == CLFT_OK && sc.nrow == 0) {
        clft_set_error("%s: no header row", path);
        st = CLFT_ERR_FORMAT;
    }
    int col = -1;
    for (int i = 0; st == CLFT_OK && i < sc.rows[0].n; i++)
        if (!strcmp(sc.rows[0].fields[i], column)) col = i;
    if (st == CLFT_OK && col < 0) {
        clft_set_error("%s: no column '%s'", path, column);
        st = CLFT_ERR_FORMAT;
    }
    for (int r = 1; st == CLFT_OK && r < sc.nrow; r++)
        if (sc.rows[r].n != sc.rows[0].n) {
            clft_set_error("%s:%d: %d fields, but the header has %d", path, sc.rows[r].line,
                           sc.rows[r].n, sc.rows[0].n);
            st = CLFT_ERR_FORMAT;
        }
    if (st == CLFT_OK) st = write_kept(path, buf, &sc, col, value);
    if (sc.nrow || sc.rows) scan_free(&sc);
    free(buf);
    return st;
}
