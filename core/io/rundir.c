/* rundir.c — run directories, checkpoint names, latest-checkpoint lookup. See rundir.h. */
#include "core/io/rundir.h"

#include <dirent.h>
#include <errno.h>
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
            *names = realloc(*names, (size_t)cap * sizeof **names);
            if (!*names) clft_die("rundir: out of memory");
        }
        (*names)[(*n)++] = strdup(ent->d_name);
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
