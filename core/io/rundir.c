/* rundir.c — run directories, checkpoint names, latest-checkpoint lookup. See rundir.h. */
#include "core/io/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ClftStatus path_join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t n = strlen(dir);
    int sep = n > 0 && dir[n - 1] != '/';
    int w = snprintf(out, cap, "%s%s%s", dir, sep ? "/" : "", name);
    if (w < 0 || (size_t)w >= cap) {
        clft_set_error("path too long: %s/%s", dir, name);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

ClftStatus rundir_create(const char *path)
{
    char buf[4096];
    if (!*path || strlen(path) >= sizeof buf) {
        clft_set_error("'%s': not a usable run directory path", path);
        return CLFT_ERR_VALUE;
    }
    strcpy(buf, path);
    /* Create each prefix in turn; EEXIST is fine, the final checks below decide. */
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                clft_set_error("%s: cannot create directory (%s)", buf, strerror(errno));
                return CLFT_ERR_IO;
            }
            *p = c;
            if (c == '\0') break;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        clft_set_error("%s: exists and is not a directory", path);
        return CLFT_ERR_IO;
    }
    if (access(path, W_OK | X_OK) != 0) {
        clft_set_error("%s: run directory is not writable (%s)", path, strerror(errno));
        return CLFT_ERR_IO;
    }
    return CLFT_OK;
}

ClftStatus rundir_ckpt_path(const char *run, int epoch, long step, char *out, size_t cap)
{
    char name[64];
    ASSERT(epoch >= 0 && step >= 0);
    snprintf(name, sizeof name, "ckpt/epoch%04d-step%09ld.safetensors", epoch, step);
    return path_join(out, cap, run, name);
}

int rundir_ckpt_parse(const char *name, int *epoch, long *step)
{
    int e, n = 0;
    long s;
    if (sscanf(name, "epoch%d-step%ld.safetensors%n", &e, &s, &n) != 2) return 0;
    if (n == 0 || name[n] != '\0' || e < 0 || s < 0) return 0;
    *epoch = e;
    *step = s;
    return 1;
}

/* The checkpoint names of run/ckpt sorted oldest first; *n of them. NULL + n 0 if none. */
static ClftStatus list_ckpts(const char *run, char ***names, int *n)
{
    char dir[4096];
    *names = NULL;
    *n = 0;
    ClftStatus st = path_join(dir, sizeof dir, run, "ckpt");
    if (st != CLFT_OK) return st;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return CLFT_OK;
        clft_set_error("%s: cannot list checkpoints (%s)", dir, strerror(errno));
        return CLFT_ERR_IO;
    }
    int cap = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        int e;
        long s;
        if (!rundir_ckpt_parse(ent->d_name, &e, &s)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *names = xrealloc(*names, (size_t)cap * sizeof **names);
        }
        (*names)[(*n)++] = xstrdup(ent->d_name);
    }
    closedir(d);
    /* Insertion sort by (epoch, step): a run holds few checkpoints. */
    for (int i = 1; i < *n; i++)
        for (int j = i; j > 0; j--) {
            int ea, eb;
            long sa, sb;
            rundir_ckpt_parse((*names)[j - 1], &ea, &sa);
            rundir_ckpt_parse((*names)[j], &eb, &sb);
            if (ea < eb || (ea == eb && sa <= sb)) break;
            char *t = (*names)[j];
            (*names)[j] = (*names)[j - 1];
            (*names)[j - 1] = t;
        }
    return CLFT_OK;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

ClftStatus rundir_latest_ckpt(const char *run, char *out, size_t cap)
{
    char **names;
    int n;
    out[0] = '\0';
    ClftStatus st = list_ckpts(run, &names, &n);
    if (st == CLFT_OK && n > 0) {
        char rel[128];
        snprintf(rel, sizeof rel, "ckpt/%s", names[n - 1]);
        st = path_join(out, cap, run, rel);
    }
    free_names(names, n);
    return st;
}

ClftStatus rundir_prune_ckpt(const char *run, int keep)
{
    char **names;
    int n;
    ClftStatus st = list_ckpts(run, &names, &n);
    for (int i = 0; st == CLFT_OK && keep > 0 && i < n - keep; i++) {
        char rel[128], path[4096];
        snprintf(rel, sizeof rel, "ckpt/%s", names[i]);
        if ((st = path_join(path, sizeof path, run, rel)) != CLFT_OK) break;
        if (unlink(path) != 0) {
            clft_set_error("%s: cannot delete old checkpoint (%s)", path, strerror(errno));
            st = CLFT_ERR_IO;
        }
    }
    free_names(names, n);
    return st;
}

ClftStatus rundir_ckpt_list(const char *run, char ***paths, int *n)
{
    char **names;
    ClftStatus st = list_ckpts(run, &names, n);
    *paths = NULL;
    if (st != CLFT_OK || *n == 0) {
        free_names(names, *n);
        return st;
    }
    *paths = xcalloc((size_t)*n, sizeof **paths);
    for (int i = 0; i < *n; i++) { /* newest first */
        char rel[128], path[4096];
        snprintf(rel, sizeof rel, "ckpt/%s", names[*n - 1 - i]);
        if ((st = path_join(path, sizeof path, run, rel)) != CLFT_OK) break;
        (*paths)[i] = xstrdup(path);
    }
    free_names(names, *n);
    return st;
}

void rundir_ckpt_list_free(char **paths, int n) { free_names(paths, n); }

ClftStatus rundir_lock(const char *run, int *fd_out)
{
    char path[4096];
    ClftStatus st = path_join(path, sizeof path, run, RUNDIR_LOCK);
    if (st != CLFT_OK) return st;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        clft_set_error("%s: cannot create the run's lock file (%s)", path, strerror(errno));
        return CLFT_ERR_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "?";
        ssize_t got = pread(fd, pid, sizeof pid - 1, 0);
        pid[got > 0 ? got : 1] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        clft_set_error("%s is in use by another clft process (pid %s holds %s): one process per "
                       "run directory",
                       run, pid, path);
        return CLFT_ERR_IO;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        clft_set_error("%s: cannot write the lock file (%s)", path, strerror(errno));
        close(fd);
        return CLFT_ERR_IO;
    }
    *fd_out = fd;
    return CLFT_OK;
}

void rundir_unlock(const char *run, int fd)
{
    (void)run;
    if (fd >= 0) close(fd); /* the lock file stays: the next run takes it over */
}

/* Removes the temporaries ("*.tmp.<pid>") of directory `dir`; the count removed. */
static int remove_temps_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (!strstr(ent->d_name, ".tmp.")) continue;
        char path[4096];
        if (path_join(path, sizeof path, dir, ent->d_name) == CLFT_OK && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int rundir_remove_temps(const char *run)
{
    char ckpt[4096];
    int n = remove_temps_in(run);
    if (path_join(ckpt, sizeof ckpt, run, "ckpt") == CLFT_OK) n += remove_temps_in(ckpt);
    return n;
}

ClftStatus rundir_remove_created(const char *run)
{
    static const char *const files[] = {"config.ini", "train.csv", "scores.csv", "score_hist.csv",
                                        "eval.csv", RUNDIR_LOCK, NULL};
    char path[4096];
    rundir_remove_temps(run);
    for (int i = 0; files[i]; i++)
        if (path_join(path, sizeof path, run, files[i]) == CLFT_OK) unlink(path);
    if (path_join(path, sizeof path, run, "ckpt") == CLFT_OK) rmdir(path);
    if (rmdir(run) != 0) {
        clft_set_error("%s: could not remove the run directory (%s)", run, strerror(errno));
        return CLFT_ERR_IO;
    }
    return CLFT_OK;
}

int rundir_exists(const char *run)
{
    struct stat sb;
    return stat(run, &sb) == 0;
}
