/* atomic.c — see atomic.h. */
#include "core/io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

ClftStatus atomic_open(AtomicFile *af, const char *path)
{
    memset(af, 0, sizeof *af);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp) {
        clft_set_error("%s: cannot write (%s)", path, strerror(errno));
        return CLFT_ERR_IO;
    }
    return CLFT_OK;
}

void atomic_abort(AtomicFile *af)
{
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    unlink(af->tmp);
}

static void fsync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int kill_at_commit; /* atomic_test_kill_before_rename */

void atomic_test_kill_before_rename(int n) { kill_at_commit = n; }

ClftStatus atomic_commit(AtomicFile *af)
{
    static int commits;
    int err = 0;
    if (ferror(af->fp) || fflush(af->fp) != 0) err = errno ? errno : EIO;
    if (!err && fsync(fileno(af->fp)) != 0) err = errno;
    if (fclose(af->fp) != 0 && !err) err = errno ? errno : EIO;
    af->fp = NULL;
    if (kill_at_commit && ++commits == kill_at_commit) raise(SIGKILL); /* the temporary stays */
    if (!err && rename(af->tmp, af->path) != 0) err = errno;
    if (err) {
        unlink(af->tmp);
        clft_set_error("%s: write failed (%s); the previous file is untouched", af->path,
                       strerror(err));
        return CLFT_ERR_IO;
    }
    fsync_dir(af->path);
    return CLFT_OK;
}
