/* rundir.h — run directories and their checkpoint names (DESIGN.md "Runs and files").
 *
 * Checkpoints are runs/<name>/ckpt/epochEEEE-stepSSSSSSSSS.safetensors (epoch = epochs completed,
 * step = optimiser steps completed, zero-padded so a listing sorts chronologically). The latest
 * checkpoint is the one with the largest (epoch, step) parsed from the names — there is no
 * "latest" symlink to go stale or break when a run directory is copied. Temporaries
 * ("*.tmp.<pid>", see atomic.h) never match the pattern, so a crash mid-write is ignored.
 */
#ifndef CLFT_RUNDIR_H
#define CLFT_RUNDIR_H

#include <stddef.h>

#include "core/common.h"

/* mkdir -p `path`, then checks it is a writable directory; errors name the path and the reason. */
ClftStatus rundir_create(const char *path);
/* out = dir + "/" + name (no doubled '/'); CLFT_ERR_VALUE if it does not fit in cap. */
ClftStatus path_join(char *out, size_t cap, const char *dir, const char *name);
/* out = run/ckpt/epochEEEE-stepSSSSSSSSS.safetensors. */
ClftStatus rundir_ckpt_path(const char *run, int epoch, long step, char *out, size_t cap);
/* Parses a checkpoint file name (no directory); 1 if it matches the pattern, else 0. */
int rundir_ckpt_parse(const char *name, int *epoch, long *step);
/* The latest checkpoint of `run` into out, or out = "" when there is none (no ckpt/ directory or
 * no matching file). CLFT_ERR_IO only if ckpt/ exists but cannot be read. */
ClftStatus rundir_latest_ckpt(const char *run, char *out, size_t cap);
/* Deletes all but the newest `keep` checkpoints of `run` (keep 0 = keep all). */
ClftStatus rundir_prune_ckpt(const char *run, int keep);
/* The checkpoints of `run` as paths, newest first (*n of them; NULL when none). */
ClftStatus rundir_ckpt_list(const char *run, char ***paths, int *n);
void rundir_ckpt_list_free(char **paths, int n);

/* A process uses a run directory alone: rundir_lock takes an exclusive flock on run/.lock (and
 * writes its pid there), or fails with one line naming the process that holds it. The lock is
 * the kernel's: a killed process releases it. */
#define RUNDIR_LOCK ".lock"
ClftStatus rundir_lock(const char *run, int *fd);
void rundir_unlock(const char *run, int fd);
/* Removes the temporaries a killed write left ("*.tmp.<pid>" in run/ and run/ckpt/; call with the
 * lock held, when no other process can be writing); returns how many. */
int rundir_remove_temps(const char *run);
/* Removes what a run creates (config.ini, the CSVs, the lock, an empty ckpt/) and the directory:
 * for a run that failed before its first step in a directory it created. */
ClftStatus rundir_remove_created(const char *run);
int rundir_exists(const char *run);

#endif
