/* common.h — error handling, checked allocation and strict number parsing shared by all of clft.
 *
 * Conventions (STYLE.md rules 15-17):
 *   - clft_die(): a user-facing one-line error "clft: <what>: <why>" and exit(1). For bad input.
 *   - ASSERT(): an always-on invariant check that prints file:line and the failed expression.
 *   - xmalloc()/xcalloc()/xrealloc()/xstrdup()/xfopen(): checked wrappers that name file:line on
 *     failure.
 *   - parse_int()/parse_float(): strtol/strtof with end and range checks; return CLFT_OK or
 *     an error.
 *   - clft_file_open()/clft_file_read(): a regular file and its size, checked before any byte is
 *     trusted (a directory, a FIFO or an oversized file is a one-line error naming the path).
 *   - clft_mul_size(): size arithmetic with an overflow check, for sizes that come from files.
 */
#ifndef CLFT_COMMON_H
#define CLFT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Status codes for expected failures that a caller handles (bad file, bad value). */
typedef enum {
    CLFT_OK = 0,
    CLFT_ERR_IO,      /* file missing, unreadable, unwritable, short read/write */
    CLFT_ERR_FORMAT,  /* file present but malformed (bad magic, wrong counts, truncated) */
    CLFT_ERR_VALUE,   /* a value out of range or unparsable */
    CLFT_ERR_SHAPE,   /* an impossible tensor shape */
    CLFT_ERR_NUMERIC, /* NaN or inf where a finite number is required */
} ClftStatus;

/* Prints "clft: <formatted message>" on one line to stderr and exits with status 1. The exit
 * flushes stdio but skips atexit handlers and library destructors (_exit): OpenBLAS's destructor
 * joins its worker threads, which hangs when they are stuck starting up under a memory limit. */
void clft_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Replaces clft_die's print-and-exit: the hook gets the formatted message (without "clft: ") and
 * must not return. For a process that is one of several ranks (core/dist/): it names the rank and
 * stops the others. NULL restores the default. */
typedef void (*ClftDieHook)(const char *msg);
void clft_set_die_hook(ClftDieHook hook);

/* Error message buffer: functions that return a ClftStatus leave a one-line reason here. */
const char *clft_last_error(void);
void clft_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Always-on invariant check (never compiled out, unlike assert). */
#define ASSERT(cond)                                                                    \
    do {                                                                                \
        if (!(cond)) clft_assert_fail(#cond, __FILE__, __LINE__);                       \
    } while (0)
void clft_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

void *xmalloc_impl(size_t size, const char *file, int line);
void *xcalloc_impl(size_t n, size_t size, const char *file, int line);
void *xaligned_alloc_impl(size_t size, const char *file, int line);
void *xrealloc_impl(void *p, size_t size, const char *file, int line);
char *xstrdup_impl(const char *s, const char *file, int line);
FILE *xfopen_impl(const char *path, const char *mode, const char *file, int line);
#define xmalloc(size) xmalloc_impl((size), __FILE__, __LINE__)
#define xcalloc(n, size) xcalloc_impl((n), (size), __FILE__, __LINE__)
/* 64-byte aligned, zero-filled; free with free(). */
#define xaligned_alloc(size) xaligned_alloc_impl((size), __FILE__, __LINE__)
#define xrealloc(p, size) xrealloc_impl((p), (size), __FILE__, __LINE__)
#define xstrdup(s) xstrdup_impl((s), __FILE__, __LINE__)
#define xfopen(path, mode) xfopen_impl((path), (mode), __FILE__, __LINE__)

/* Strict parsers: the whole string must be a number in [lo, hi]. */
ClftStatus parse_int(const char *s, long lo, long hi, long *out);
ClftStatus parse_float(const char *s, double lo, double hi, double *out);

/* Opens `path` for reading after checking it is a regular file of at most max_size bytes; *size
 * is its length. CLFT_ERR_IO (missing, unreadable, a directory or other non-file) or
 * CLFT_ERR_FORMAT (larger than max_size), clft_last_error() naming the path. */
ClftStatus clft_file_open(const char *path, uint64_t max_size, FILE **fp, uint64_t *size);
/* The whole regular file `path` (at most max_size bytes) in a fresh buffer with one NUL byte
 * after the data; free() it. Errors as clft_file_open, and a short read. */
ClftStatus clft_file_read(const char *path, uint64_t max_size, unsigned char **out, size_t *size);

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlong forms, no surrogates, at
 * most U+10FFFF), or 0 when there is none. clft_utf8_valid: 1 when all of s[0..n) is UTF-8. */
size_t clft_utf8_seq(const unsigned char *s, size_t n);
int clft_utf8_valid(const char *s, size_t n);

/* *out = a * b; returns 1 (and leaves *out unspecified) when the product overflows size_t. */
static inline int clft_mul_size(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

/* Monotonic wall clock in seconds. */
double clft_now(void);

#endif
