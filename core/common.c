/* common.c — see common.h. */
#include "core/common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char last_error[512];
static ClftDieHook die_hook;

void clft_set_die_hook(ClftDieHook hook) { die_hook = hook; }

void clft_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (die_hook) {
        char msg[2048];
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        die_hook(msg); /* does not return */
        exit(1);
    }
    fputs("clft: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

const char *clft_last_error(void) { return last_error; }

void clft_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

void clft_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "clft: internal error: ASSERT(%s) failed at %s:%d\n", expr, file, line);
    abort();
}

void *xmalloc_impl(size_t size, const char *file, int line)
{
    void *p = malloc(size ? size : 1);
    if (!p) clft_die("out of memory allocating %zu bytes at %s:%d", size, file, line);
    return p;
}

void *xcalloc_impl(size_t n, size_t size, const char *file, int line)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) clft_die("out of memory allocating %zu x %zu bytes at %s:%d", n, size, file, line);
    return p;
}

void *xaligned_alloc_impl(size_t size, const char *file, int line)
{
    size_t rounded = (size + 63) / 64 * 64; /* aligned_alloc needs a multiple of the alignment */
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) clft_die("out of memory allocating %zu bytes at %s:%d", size, file, line);
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

void *xrealloc_impl(void *p, size_t size, const char *file, int line)
{
    void *q = realloc(p, size ? size : 1);
    if (!q) clft_die("out of memory reallocating %zu bytes at %s:%d", size, file, line);
    return q;
}

char *xstrdup_impl(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc_impl(n, file, line);
    memcpy(d, s, n);
    return d;
}

FILE *xfopen_impl(const char *path, const char *mode, const char *file, int line)
{
    FILE *f = fopen(path, mode);
    if (!f) {
        (void)file;
        (void)line;
        clft_die("%s: cannot open (%s)", path, strerror(errno));
    }
    return f;
}

ClftStatus parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return CLFT_ERR_VALUE;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi) return CLFT_ERR_VALUE;
    *out = v;
    return CLFT_OK;
}

ClftStatus parse_float(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s) return CLFT_ERR_VALUE;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end != '\0' || !isfinite(v) || v < lo || v > hi) return CLFT_ERR_VALUE;
    *out = v;
    return CLFT_OK;
}

double clft_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
