/* common.c — see common.h. */
#include "core/common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    fflush(NULL); /* what exit() would have written */
    _exit(1);     /* not exit(): see common.h (OpenBLAS's destructor can hang) */
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
    if (size > SIZE_MAX - 63)
        clft_die("out of memory allocating %zu bytes at %s:%d", size, file, line);
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
    if (!f) clft_die("%s: cannot open (%s) at %s:%d", path, strerror(errno), file, line);
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

ClftStatus clft_file_open(const char *path, uint64_t max_size, FILE **fp, uint64_t *size)
{
    *fp = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        clft_set_error("%s: cannot open (%s)", path, strerror(errno));
        return CLFT_ERR_IO;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        clft_set_error("%s: cannot stat (%s)", path, strerror(errno));
        fclose(f);
        return CLFT_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        clft_set_error("%s: not a regular file (%s)", path,
                       S_ISDIR(sb.st_mode) ? "a directory" : "a device, FIFO or socket");
        fclose(f);
        return CLFT_ERR_IO;
    }
    if ((uint64_t)sb.st_size > max_size) {
        clft_set_error("%s: %llu bytes, more than the %llu this file type may have", path,
                       (unsigned long long)sb.st_size, (unsigned long long)max_size);
        fclose(f);
        return CLFT_ERR_FORMAT;
    }
    *fp = f;
    *size = (uint64_t)sb.st_size;
    return CLFT_OK;
}

ClftStatus clft_file_read(const char *path, uint64_t max_size, unsigned char **out, size_t *size)
{
    FILE *f;
    uint64_t n;
    *out = NULL;
    *size = 0;
    if (max_size > SIZE_MAX - 1) max_size = SIZE_MAX - 1;
    ClftStatus st = clft_file_open(path, max_size, &f, &n);
    if (st != CLFT_OK) return st;
    unsigned char *buf = xmalloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (got != (size_t)n) {
        clft_set_error("%s: short read (%zu of %llu bytes%s%s)", path, got, (unsigned long long)n,
                       err ? ": " : "", err ? strerror(err) : "");
        free(buf);
        return CLFT_ERR_IO;
    }
    buf[n] = '\0';
    *out = buf;
    *size = (size_t)n;
    return CLFT_OK;
}

size_t clft_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && s[1] < 0xa0) return 0; /* overlong */
    if (c == 0xed && s[1] > 0x9f) return 0; /* UTF-16 surrogate */
    if (c == 0xf0 && s[1] < 0x90) return 0; /* overlong */
    if (c == 0xf4 && s[1] > 0x8f) return 0; /* past U+10FFFF */
    return len;
}

int clft_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = clft_utf8_seq((const unsigned char *)s + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

double clft_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
