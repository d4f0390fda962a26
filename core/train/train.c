/* train.c — the pre-training loop; see train.h. */
#include "core/train/train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/backend/blas.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/data/loader.h"
#include "core/io/csv.h"
#include "core/io/eval_csv.h"
#include "core/io/rundir.h"
#include "core/train/checkpoint.h"

static const char *const TRAIN_COLS[] = {"epoch", "step", "lr", "loss", "inst_acc", "img_per_s",
                                         "elapsed_s"};
static const char *const SCORE_COLS[] = {"epoch", "step", "pos_mean", "pos_var", "neg_mean",
                                         "neg_var", "exp_pos_mean", "exp_neg_mean", "pre_pos_mean",
                                         "pre_pos_var", "pre_neg_mean", "pre_neg_var"};
static const char *const HIST_COLS[] = {"epoch", "kind", "bin_lo", "bin_hi", "count"};

typedef struct {
    const Config *cfg; /* = &cfg_run */
    Config cfg_run;    /* the run's config, with run.out the directory actually used */
    const TrainOptions *opt;
    Dataset *ds;
    Loader *loader;
    Moco mc;
    Schedule sched;
    CsvWriter train_csv, scores_csv, hist_csv;
    char run[4096];
    char *config_text;
    int lock_fd;       /* the run directory's lock (rundir_lock), -1 before */
    int created;       /* 1: this process created the run directory */
    char last_good[4200]; /* the newest checkpoint known valid (resumed from or written), or "" */
    TrainPosition pos;
    int steps_per_epoch;
    double t_start, t_log;
    long step_log;
    double lr;
    MocoStepResult res;
    Dist *dist;      /* NULL: one process */
    int rank, world; /* 0 and 1 on one process; only rank 0 writes */
} Run;

ModelConfig train_model_config(const Config *cfg, int in_channels)
{
    ModelConfig m = {
        .arch = cfg->model.arch,
        .stem = cfg->model.stem,
        .width = cfg->model.width,
        .stages = cfg->model.stages,
        .blocks = cfg->model.blocks,
        .in_channels = cfg->model.in_channels ? cfg->model.in_channels : in_channels,
        .head = cfg->head.type,
        .head_hidden = cfg->head.hidden,
        .head_dim = cfg->head.dim,
    };
    return m;
}

const Backend *train_backend_device(const Config *cfg, int needs, int device)
{
    BackendOptions o = {.precision = cfg->run.precision, .deterministic = cfg->run.deterministic,
                        .device = device};
    return backend_select(config_enum_name("run", "device", cfg->run.device), needs, &o);
}

const Backend *train_backend(const Config *cfg, int needs)
{
    return train_backend_device(cfg, needs, 0);
}

DatasetOptions train_dataset_options(const Config *cfg)
{
    DatasetOptions o = {.subset = cfg->data.subset == CONFIG_SUBSET_IMAGENET100
                                      ? DATA_SUBSET_IMAGENET100
                                      : DATA_SUBSET_NONE,
                        .classes = cfg->data.classes.n ? cfg->data.classes.v : NULL,
                        .n_keep = cfg->data.classes.n,
                        .limit = cfg->data.train_limit,
                        .max_pixels = cfg->data.max_pixels,
                        .seed = (uint64_t)cfg->run.seed};
    return o;
}

static Schedule make_schedule(const Config *cfg)
{
    Schedule s = {.base_lr = cfg->optim.lr, .epochs = cfg->optim.epochs,
                  .gamma = cfg->optim.gamma, .warmup_epochs = cfg->optim.warmup_epochs};
    s.kind = cfg->optim.schedule;
    _Static_assert(SCHEDULE_MAX_MILESTONES >= CONFIG_LIST_MAX, "a schedule holds every milestone");
    s.n_milestones = cfg->optim.milestones.n;
    for (int i = 0; i < s.n_milestones; i++) s.milestones[i] = cfg->optim.milestones.v[i];
    return s;
}

static ClftStatus open_data(Run *r)
{
    const Config *cfg = r->cfg;
    DatasetOptions dopt = train_dataset_options(cfg);
    ClftStatus st = dataset_open(&r->ds, cfg->data.spec, SPLIT_TRAIN, &dopt);
    if (st != CLFT_OK) return st;
    int size = cfg->data.size ? cfg->data.size : r->ds->H;
    if (size <= 0) {
        clft_set_error("data.size must be set for %s (its images vary in size)", cfg->data.spec);
        return CLFT_ERR_VALUE;
    }
    if (r->ds->n < cfg->optim.batch) {
        clft_set_error("%s has %d training images, fewer than one batch (optim.batch = %d)",
                       cfg->data.spec, r->ds->n, cfg->optim.batch);
        return CLFT_ERR_VALUE;
    }
    AugConfig a;
    if (!r->opt->aug) {
        clft_set_error("train: no augmentation recipe given (TrainOptions.aug)");
        return CLFT_ERR_VALUE;
    }
    if ((st = r->opt->aug(cfg, size, r->ds->C, &a)) != CLFT_OK) return st;
    LoaderOptions lo = {.batch = cfg->optim.batch, .threads = cfg->data.workers > 0 ? cfg->data.workers : 1,
                        .seed = (uint64_t)cfg->run.seed, .views = 2, .aug1 = &a, .aug2 = &a,
                        .order = LOADER_SHUFFLE, .tail = LOADER_DROP_LAST, .pinned = r->opt->be,
                        .shards = r->world, .shard = r->rank};
    st = loader_init(&r->loader, r->ds, &lo);
    if (st != CLFT_OK) return st;
    r->steps_per_epoch = loader_steps_per_epoch(r->loader);
    return CLFT_OK;
}

static ClftStatus init_moco(Run *r)
{
    const Config *cfg = r->cfg;
    int size = cfg->data.size ? cfg->data.size : r->ds->H;
    /* Data parallel: optim.batch and moco.shuffle_groups are global; each rank holds its share. */
    const int R = r->world;
    if (cfg->optim.batch % R || cfg->moco.shuffle_groups % R) {
        clft_set_error("optim.batch %d and moco.shuffle_groups %d must be divisible by the %d "
                       "ranks (each rank holds batch/%d samples in shuffle_groups/%d split-BN "
                       "groups)",
                       cfg->optim.batch, cfg->moco.shuffle_groups, R, R, R);
        return CLFT_ERR_VALUE;
    }
    MocoOptions mo = {.be = r->opt->be, .N = cfg->optim.batch / R, .C = r->ds->C, .H = size,
                      .W = size, .K = cfg->moco.K, .T = (float)cfg->moco.T,
                      .m = (float)cfg->moco.m, .bn_groups = cfg->moco.shuffle_groups / R,
                      .model = train_model_config(cfg, r->ds->C),
                      .variant = r->opt->variant, .seed = (uint64_t)cfg->run.seed,
                      .dist = r->dist};
    ClftStatus st = moco_init(&r->mc, &mo);
    if (st != CLFT_OK) return st;
    if (!r->opt->quiet && r->rank == 0) {
        model_print_summary(&r->mc.q, stderr);
        fprintf(stderr, "arenas: optimiser state %.2f MiB, queue %.2f MiB (K=%d, D=%d)\n",
                arena_mib(&r->mc.optim_arena),
                (double)r->mc.queue.K * r->mc.queue.D * 4 / (1024.0 * 1024.0), r->mc.queue.K,
                r->mc.queue.D);
    }
    return CLFT_OK;
}

static ClftStatus write_config(Run *r)
{
    char path[4200], extra[1400];
    struct utsname u;
    if (uname(&u) != 0) snprintf(u.machine, sizeof u.machine, "unknown");
    snprintf(extra, sizeof extra,
             "backend: %s\nBLAS: OpenBLAS core %s (%s), %d threads\nloader workers: %d\nmachine: "
             "%s %s, %ld cores\nworld_size: %d (processes; optim.batch is the global batch, %d "
             "per process; transport %s)",
             r->opt->be->name, blas_core_name(), blas_core_origin(), blas_get_threads(),
             r->cfg->data.workers, u.sysname, u.machine, sysconf(_SC_NPROCESSORS_ONLN), r->world,
             r->cfg->optim.batch / r->world, dist_transport(r->dist));
    path_join(path, sizeof path, r->run, "config.ini");
    r->config_text = config_to_string(r->cfg);
    return config_write(r->cfg, path, extra);
}

/* Cuts an existing CSV back to rows with column <= value (a fresh run: value < every row). */
static ClftStatus truncate_csv(const Run *r, const char *name, const char *column, double value)
{
    char path[4200];
    path_join(path, sizeof path, r->run, name);
    if (access(path, F_OK) != 0) return CLFT_OK;
    return csv_truncate_after(path, column, value);
}

/* The newest checkpoint that validates, loaded. A corrupt one is renamed "<name>.corrupt" (kept
 * for inspection, out of the checkpoint pattern) and the next older one tried, saying so; a
 * checkpoint of another configuration stops the run (every older one has that configuration too).
 */
static ClftStatus load_newest_valid(Run *r, int *found)
{
    char **paths;
    int n;
    *found = 0;
    ClftStatus st = rundir_ckpt_list(r->run, &paths, &n);
    CheckpointExpect e = {.cfg = r->cfg, .epochs = r->cfg->optim.epochs,
                          .steps_per_epoch = r->steps_per_epoch, .world_size = r->world};
    for (int i = 0; st == CLFT_OK && i < n && !*found; i++) {
        ClftStatus ls = checkpoint_load(paths[i], &r->mc, &e, &r->pos);
        if (ls == CLFT_OK) {
            *found = 1;
            snprintf(r->last_good, sizeof r->last_good, "%s", paths[i]);
        } else if (ls == CLFT_ERR_VALUE) {
            st = ls; /* another configuration */
        } else {
            char moved[4300];
            snprintf(moved, sizeof moved, "%s.corrupt", paths[i]);
            fprintf(stderr, "clft: warning: %s; renamed to %s, %s\n", clft_last_error(), moved,
                    i + 1 < n ? "resuming from the previous checkpoint" : "no older checkpoint");
            if (rename(paths[i], moved) != 0) {
                clft_set_error("%s: cannot set the corrupt checkpoint aside (%s)", paths[i],
                               strerror(errno));
                st = CLFT_ERR_IO;
            }
        }
    }
    if (st == CLFT_OK && !*found && n > 0) {
        clft_set_error("%s: none of its %d checkpoint%s is usable (set aside as *.corrupt); "
                       "nothing to resume from",
                       r->run, n, n == 1 ? "" : "s");
        st = CLFT_ERR_FORMAT;
    }
    rundir_ckpt_list_free(paths, n);
    return st;
}

/* A fresh start in a directory with files from a run that never wrote a checkpoint: those rows
 * will be written again, so the files go (a 0-byte CSV left by a full disk included). */
static void remove_unanchored_logs(const Run *r)
{
    static const char *const logs[] = {"train.csv", "scores.csv", "score_hist.csv", "eval.csv"};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        char path[4200];
        path_join(path, sizeof path, r->run, logs[i]);
        unlink(path);
    }
}

static ClftStatus resume_or_start(Run *r)
{
    memset(&r->pos, 0, sizeof r->pos);
    int found = 0;
    if (r->opt->resume == RESUME_AUTO) {
        ClftStatus st = load_newest_valid(r, &found);
        if (st != CLFT_OK) return st;
        if (found && !r->opt->quiet)
            fprintf(stderr, "resuming from %s (epoch %d, step %ld)\n", r->last_good, r->pos.epoch,
                    r->pos.step);
    }
    if (!found) {
        remove_unanchored_logs(r);
        return CLFT_OK;
    }
    ClftStatus st = truncate_csv(r, "train.csv", "step", (double)r->pos.step);
    if (st == CLFT_OK) st = truncate_csv(r, "scores.csv", "step", (double)r->pos.step);
    if (st == CLFT_OK) st = truncate_csv(r, "score_hist.csv", "epoch", r->pos.epoch - 1);
    if (st == CLFT_OK) st = truncate_csv(r, "eval.csv", "epoch", r->pos.epoch);
    return st;
}

static ClftStatus open_logs(Run *r)
{
    char path[4200];
    path_join(path, sizeof path, r->run, "train.csv");
    ClftStatus st = csv_open(&r->train_csv, path, TRAIN_COLS, 7, CSV_APPEND);
    if (st != CLFT_OK) return st;
    path_join(path, sizeof path, r->run, "scores.csv");
    st = csv_open(&r->scores_csv, path, SCORE_COLS, 12, CSV_APPEND);
    if (st != CLFT_OK) return st;
    path_join(path, sizeof path, r->run, "score_hist.csv");
    return csv_open(&r->hist_csv, path, HIST_COLS, 5, CSV_APPEND);
}

static double elapsed(const Run *r) { return r->pos.elapsed_s + (clft_now() - r->t_start); }

/* A step with a train.csv row: every run.log_every steps and the last of each epoch. */
static int logged_step(const Run *r)
{
    int every = r->cfg->run.log_every > 0 ? r->cfg->run.log_every : 1;
    return r->pos.step % every == 0 || r->pos.step_in_epoch == r->steps_per_epoch;
}

static ClftStatus log_step(Run *r, int epoch)
{
    const MocoStepResult *s = &r->res;
    double row[12] = {epoch, (double)r->pos.step, s->post.pos_mean, s->post.pos_var,
                      s->post.neg_mean, s->post.neg_var, s->post.exp_pos_mean,
                      s->post.exp_neg_mean, s->pre.pos_mean, s->pre.pos_var, s->pre.neg_mean,
                      s->pre.neg_var};
    ClftStatus st = csv_row(&r->scores_csv, row);
    if (st != CLFT_OK) return st;
    if (!logged_step(r)) return CLFT_OK;
    double now = clft_now();
    double img_s = (double)(r->pos.step - r->step_log) * r->cfg->optim.batch / (now - r->t_log);
    r->t_log = now;
    r->step_log = r->pos.step;
    double trow[7] = {epoch, (double)r->pos.step, r->lr, s->loss, s->inst_acc, img_s, elapsed(r)};
    st = csv_row(&r->train_csv, trow);
    if (st == CLFT_OK) st = csv_flush(&r->train_csv); /* so train.csv can be watched while it runs */
    if (st != CLFT_OK || r->opt->quiet) return st;
    long total = (long)r->steps_per_epoch * r->cfg->optim.epochs;
    double eta = (total - r->pos.step) * (double)r->cfg->optim.batch / (img_s > 0 ? img_s : 1);
    int tty = isatty(STDERR_FILENO);
    fprintf(stderr, "%sepoch %d/%d  step %ld/%ld  loss %.4f  inst acc %5.1f%%  %.0f img/s  ETA %.0fs%s",
            tty ? "\r" : "", epoch + 1, r->cfg->optim.epochs, r->pos.step, total, s->loss,
            100.0 * s->inst_acc, img_s, eta, tty ? "   " : "\n");
    return CLFT_OK;
}

static ClftStatus write_hist(Run *r, int epoch, const char *kind, const uint64_t *counts)
{
    for (int b = 0; b < SCORES_HIST_BINS; b++) {
        csv_put_int(&r->hist_csv, epoch);
        csv_put_str(&r->hist_csv, kind);
        csv_put_num(&r->hist_csv, scores_hist_bin_lo(b));
        csv_put_num(&r->hist_csv, scores_hist_bin_hi(b));
        csv_put_int(&r->hist_csv, (long long)counts[b]);
        ClftStatus st = csv_end_row(&r->hist_csv);
        if (st != CLFT_OK) return st;
    }
    return CLFT_OK;
}

/* The epoch's histograms: pos and neg of the scores used in the loss, and with a variant also
 * pre_pos and pre_neg of the original ones. */
static ClftStatus end_epoch(Run *r, int epoch)
{
    ScoreHist post, pre;
    moco_take_histograms(&r->mc, &post, &pre); /* every rank's counts */
    if (r->rank != 0) return CLFT_OK;
    ClftStatus st = write_hist(r, epoch, "pos", post.pos);
    if (st == CLFT_OK) st = write_hist(r, epoch, "neg", post.neg);
    if (st == CLFT_OK && !r->opt->variant.is_identity) {
        st = write_hist(r, epoch, "pre_pos", pre.pos);
        if (st == CLFT_OK) st = write_hist(r, epoch, "pre_neg", pre.neg);
    }
    return st;
}

static ClftStatus run_monitor(Run *r, int epoch)
{
    const TrainMonitor *mon = &r->opt->monitor;
    int every = r->cfg->run.knn_every;
    if (every <= 0 || (epoch + 1) % every != 0) return CLFT_OK;
    moco_sync_buffers(&r->mc); /* the eval-mode BN statistics of all ranks */
    if (!mon->knn || r->rank != 0) return CLFT_OK; /* rank 0 evaluates; the others go on */
    double top1 = mon->knn(mon->ctx, &r->mc.q, epoch);
    if (top1 < 0) return CLFT_ERR_VALUE;
    char path[4200];
    path_join(path, sizeof path, r->run, "eval.csv");
    /* epoch + 1: the epochs completed, as every eval.csv row */
    EvalRow row = eval_row("knn_monitor", r->cfg->data.spec, "test", "top1", top1, epoch + 1);
    ClftStatus st = eval_csv_append(path, &row, 1);
    if (!r->opt->quiet) fprintf(stderr, "%sknn monitor: epoch %d top-1 %.2f%%\n",
                                isatty(STDERR_FILENO) ? "\n" : "", epoch + 1, top1);
    return st;
}

/* The NaN guard's second half: the loss is finite, but are the weights, the optimiser state and
 * the queue? Checked at every logged step and before every checkpoint. */
static ClftStatus check_state(Run *r, int epoch)
{
    if (moco_state_finite(&r->mc)) return CLFT_OK;
    clft_set_error("the weights, optimiser state or queue hold a non-finite value at epoch %d, step "
                   "%ld (lr %g); stopped; last good checkpoint: %s",
                   epoch, r->pos.step, r->lr, r->last_good[0] ? r->last_good : "(none)");
    return CLFT_ERR_NUMERIC;
}

static ClftStatus save_checkpoint(Run *r)
{
    moco_sync_buffers(&r->mc); /* data parallel: the BN statistics of all ranks (dist.h) */
    ClftStatus st = check_state(r, r->pos.epoch - 1);
    if (st != CLFT_OK || r->rank != 0) return st; /* rank 0 writes */
    st = csv_flush(&r->train_csv);
    if (st == CLFT_OK) st = csv_flush(&r->scores_csv);
    if (st == CLFT_OK) st = csv_flush(&r->hist_csv);
    if (st != CLFT_OK) return st;
    char path[4200];
    path_join(path, sizeof path, r->run, "ckpt");
    if ((st = rundir_create(path)) != CLFT_OK) return st;
    rundir_ckpt_path(r->run, r->pos.epoch, r->pos.step, path, sizeof path);
    TrainPosition p = r->pos;
    p.elapsed_s = elapsed(r);
    st = checkpoint_save(path, &r->mc, &p, r->config_text);
    if (st == CLFT_OK) snprintf(r->last_good, sizeof r->last_good, "%s", path);
    if (st == CLFT_OK && r->cfg->run.keep_ckpt > 0) st = rundir_prune_ckpt(r->run, r->cfg->run.keep_ckpt);
    return st;
}

static ClftStatus train_epoch(Run *r, int epoch)
{
    const Config *cfg = r->cfg;
    SgdOptions sgd = {.momentum = (float)cfg->optim.momentum,
                      .weight_decay = (float)cfg->optim.weight_decay};
    while (r->pos.step_in_epoch < r->steps_per_epoch) {
        LoaderBatch b;
        ClftStatus st = loader_next(r->loader, &b);
        if (st != CLFT_OK) return st;
        ASSERT(b.epoch == epoch && b.step == r->pos.step_in_epoch);
        if (r->opt->nan_input_step == r->pos.step + 1 && r->opt->nan_input_rank == r->rank)
            ((float *)b.x1)[0] = NAN; /* test hook: a bad image reaches this rank */
        r->lr = schedule_lr(&r->sched, epoch, r->pos.step_in_epoch, r->steps_per_epoch);
        sgd.lr = (float)r->lr;
        moco_step(&r->mc, b.x1, b.x2, &sgd, epoch, &r->res);
        if (!isfinite(r->res.loss)) {
            char where[48] = "";
            if (r->res.bad_rank >= 0)
                snprintf(where, sizeof where, " on rank %d of %d", r->res.bad_rank, r->world);
            clft_set_error("loss is %f%s at epoch %d, step %ld (lr %g); stopped without updating "
                           "the weights; last good checkpoint: %s",
                           r->res.loss, where, epoch, r->pos.step + 1, r->lr,
                           r->last_good[0] ? r->last_good : "(none)");
            return CLFT_ERR_NUMERIC;
        }
        r->pos.step++;
        r->pos.step_in_epoch++;
        if (r->opt->poison_at_step && r->pos.step == r->opt->poison_at_step) {
            const float nan = NAN;
            r->mc.be->upload(r->mc.q.param_arena.base, &nan, sizeof nan);
        }
        st = r->rank == 0 ? log_step(r, epoch) : CLFT_OK; /* rank 0 writes */
        if (st == CLFT_OK && logged_step(r)) st = check_state(r, epoch);
        if (st != CLFT_OK) return st;
        if (r->opt->kill_at_step && r->pos.step == r->opt->kill_at_step &&
            (r->opt->kill_rank < 0 || r->opt->kill_rank == r->rank))
            raise(r->opt->kill_signal ? r->opt->kill_signal : SIGKILL);
    }
    return CLFT_OK;
}

static ClftStatus train_loop(Run *r)
{
    const Config *cfg = r->cfg;
    loader_seek(r->loader, r->pos.epoch, r->pos.step_in_epoch);
    r->t_start = r->t_log = clft_now();
    r->step_log = r->pos.step;
    for (int epoch = r->pos.epoch; epoch < cfg->optim.epochs; epoch++) {
        ClftStatus st = train_epoch(r, epoch);
        if (st != CLFT_OK) return st;
        if ((st = end_epoch(r, epoch)) != CLFT_OK) return st;
        if ((st = run_monitor(r, epoch)) != CLFT_OK) return st;
        r->pos.epoch = epoch + 1;
        r->pos.step_in_epoch = 0;
        int every = cfg->run.ckpt_every > 0 ? cfg->run.ckpt_every : 1;
        if ((epoch + 1) % every == 0 || epoch + 1 == cfg->optim.epochs)
            if ((st = save_checkpoint(r)) != CLFT_OK) return st;
    }
    if (!r->opt->quiet && isatty(STDERR_FILENO)) fputc('\n', stderr);
    return CLFT_OK;
}

/* A directory that holds a run: its config or checkpoints. */
static int holds_run(const char *dir)
{
    char path[4200];
    path_join(path, sizeof path, dir, "config.ini");
    if (access(path, F_OK) == 0) return 1;
    path_join(path, sizeof path, dir, "ckpt");
    return access(path, F_OK) == 0;
}

/* The run directory, once the inputs are known good: created (remembering it) or, with --resume
 * never where a run already is, a fresh "<out>-2", "-3", ... beside it; locked; the temporaries of
 * a killed write removed. */
static ClftStatus prepare_dir(Run *r)
{
    if (r->opt->resume == RESUME_NEVER && holds_run(r->run)) {
        char fresh[sizeof r->cfg_run.run.out];
        for (int i = 2;; i++) {
            int n = snprintf(fresh, sizeof fresh, "%s-%d", r->cfg->run.out, i);
            if (n < 0 || (size_t)n >= sizeof fresh) {
                clft_set_error("%s holds a run and %s-%d would be too long a name for a fresh one",
                               r->run, r->cfg->run.out, i);
                return CLFT_ERR_VALUE;
            }
            if (!rundir_exists(fresh)) break;
        }
        fprintf(stderr, "clft: %s holds a run; --resume never starts afresh in %s\n", r->run, fresh);
        snprintf(r->run, sizeof r->run, "%s", fresh);
        snprintf(r->cfg_run.run.out, sizeof r->cfg_run.run.out, "%s", fresh);
    }
    r->created = !rundir_exists(r->run);
    ClftStatus st = rundir_create(r->run);
    if (st == CLFT_OK) st = rundir_lock(r->run, &r->lock_fd);
    if (st != CLFT_OK) {
        if (r->created) rmdir(r->run);
        r->created = 0;
        return st;
    }
    int removed = rundir_remove_temps(r->run);
    if (removed && !r->opt->quiet)
        fprintf(stderr, "clft: removed %d temporary file%s a killed write left in %s\n", removed,
                removed == 1 ? "" : "s", r->run);
    return CLFT_OK;
}

/* Data parallel: every rank must be started with rank 0's configuration (only the keys that say
 * how fast a rank runs may differ), or the ranks would train different models. */
static ClftStatus check_same_config(Run *r)
{
    static const char *const may_differ[] = {"run.threads", "data.workers", NULL};
    char *mine = config_to_string(r->cfg);
    uint64_t len = strlen(mine) + 1;
    dist_host_broadcast(r->dist, &len, sizeof len, "the configuration broadcast");
    char *first = r->rank == 0 ? mine : xmalloc(len);
    dist_host_broadcast(r->dist, first, len, "the configuration broadcast");
    ClftStatus st = CLFT_OK;
    if (strcmp(first, mine) != 0) {
        Config have;
        char diff[1500] = "";
        config_defaults(&have);
        if (config_load_string(&have, first, "rank 0's configuration") == CLFT_OK)
            config_diff(&have, r->cfg, may_differ, diff, sizeof diff);
        if (diff[0]) {
            clft_set_error("its configuration differs from rank 0's (%s); start every rank with "
                           "the same arguments",
                           diff);
            st = CLFT_ERR_VALUE;
        }
    }
    if (first != mine) free(first);
    free(mine);
    return st;
}

/* Data parallel: rank 0's position and state (resumed or fresh) to every rank, before the first
 * step. */
static void share_start(Run *r)
{
    if (!r->dist) return;
    dist_host_broadcast(r->dist, &r->pos, sizeof r->pos, "the start broadcast");
    dist_host_broadcast(r->dist, r->last_good, sizeof r->last_good, "the start broadcast");
    moco_share_state(&r->mc);
}

/* Data parallel: each rank's time in collectives (waiting for the others included) against the
 * training time, printed by rank 0 (the benchmark's communication share). A collective. */
static void report_comm(Run *r, double train_s)
{
    double mine = dist_comm_seconds(r->dist);
    double *all = xmalloc((size_t)r->world * sizeof(double));
    dist_host_allgather(r->dist, all, &mine, sizeof mine, "the end of the run");
    if (r->rank == 0 && !r->opt->quiet) {
        fprintf(stderr, "data parallel: %d ranks over %s, %.1f s of training; in collectives:",
                r->world, dist_transport(r->dist), train_s);
        for (int i = 0; i < r->world; i++)
            fprintf(stderr, " rank %d %.2f s (%.1f%%)", i, all[i],
                    train_s > 0 ? 100.0 * all[i] / train_s : 0.0);
        fputc('\n', stderr);
    }
    free(all);
}

/* Rank 0's part of the start: the run directory, the resume, config.ini and the CSVs. */
static ClftStatus start_files(Run *r)
{
    ClftStatus st = prepare_dir(r);
    if (st == CLFT_OK) st = resume_or_start(r);
    if (st == CLFT_OK) st = write_config(r);
    if (st == CLFT_OK) st = open_logs(r);
    return st;
}

ClftStatus train_run(const Config *cfg, const TrainOptions *opt)
{
    Run *r = xcalloc(1, sizeof *r);
    r->cfg_run = *cfg;
    r->cfg = &r->cfg_run;
    r->opt = opt;
    r->lock_fd = -1;
    r->dist = opt->dist;
    r->rank = dist_rank(opt->dist);
    r->world = dist_world(opt->dist);
    r->sched = make_schedule(cfg);
    snprintf(r->run, sizeof r->run, "%s", cfg->run.out);
    if (cfg->run.threads > 0) blas_set_threads(cfg->run.threads);
    /* Nothing is created before the inputs are validated — data, loader and model first — on every
     * rank: a rank that cannot start reports it, and no rank goes on. */
    ClftStatus st = r->dist ? check_same_config(r) : CLFT_OK;
    if (st == CLFT_OK) st = open_data(r);
    if (st == CLFT_OK) st = init_moco(r);
    dist_all_ok(r->dist, st == CLFT_OK, "the ranks' start"); /* returns here only if ok or to
                                                                  the rank that reports */
    if (st == CLFT_OK) {
        if (r->rank == 0) st = start_files(r);
        dist_all_ok(r->dist, st == CLFT_OK, "rank 0's start of the run");
    }
    if (st == CLFT_OK) share_start(r);
    const long first_step = r->pos.step;
    const double t_loop = clft_now();
    if (st == CLFT_OK) st = train_loop(r);
    if (st == CLFT_OK && r->dist) report_comm(r, clft_now() - t_loop);
    CsvWriter *logs[3] = {&r->train_csv, &r->scores_csv, &r->hist_csv};
    for (int i = 0; i < 3; i++) {
        if (!logs[i]->fp) continue; /* never opened */
        ClftStatus cs = csv_close(logs[i]);
        if (st == CLFT_OK) st = cs;
    }
    /* A run that failed before its first step in a directory it made leaves nothing behind. */
    if (st != CLFT_OK && r->created && r->pos.step == first_step && first_step == 0) {
        char why[2048];
        snprintf(why, sizeof why, "%s", clft_last_error());
        rundir_remove_created(r->run);
        clft_set_error("%s", why);
    }
    rundir_unlock(r->run, r->lock_fd);
    if (r->loader) loader_free(r->loader);
    if (r->mc.q.ops) moco_free(&r->mc);
    if (r->ds) dataset_free(r->ds);
    free(r->config_text);
    free(r);
    return st;
}
