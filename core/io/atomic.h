/* atomic.h — write-to-temporary-then-rename, so a crash, a full disk or an error never leaves a
 * half-written result where a complete one is expected. The temporary lives in the same directory
 * (rename is atomic only within one file system); it is fsync'ed before the rename and the
 * directory after it. */
#ifndef CLFT_ATOMIC_H
#define CLFT_ATOMIC_H

#include <stdio.h>

#include "core/common.h"

typedef struct {
    FILE *fp;
    char path[4096];
    char tmp[4096];
} AtomicFile;

/* Opens "<path>.tmp.<pid>" for writing; CLFT_ERR_IO with clft_last_error() naming the path. */
ClftStatus atomic_open(AtomicFile *af, const char *path);
/* Flushes, checks every write succeeded, fsyncs, renames over `path`. On any failure the temporary
 * is removed, `path` is untouched and CLFT_ERR_IO is returned with the reason (e.g. disk full). */
ClftStatus atomic_commit(AtomicFile *af);
/* Abandons the write: closes and removes the temporary. */
void atomic_abort(AtomicFile *af);
/* Tests of crash safety: the n-th atomic_commit of this process (n ≥ 1; 0 = never) raises SIGKILL
 * after the temporary is written and fsync'ed, before the rename (a kill mid-checkpoint). */
void atomic_test_kill_before_rename(int n);

#endif
