/* reproduce.c — `clft reproduce --preset
 * smoke|mini|mini-ablations|mini-ft-study|mini-long|mini-bf16|in100|in1k`: runs a preset's
 * experiment matrix (reproduce/matrix.c) as subprocesses of this same binary — `clft pretrain` then
 * `clft eval` per run, --jobs at a time — skipping what is already complete, then writes
 * results/<preset>/summary.csv (copied to results/summary.csv), the figures, and RESULTS.md's
 * generated section for the preset (reproduce/results.h). A crashed run is reported and left out of
 * the statistics; it does not stop the rest of the matrix. Issue 8; DESIGN.md "Scales". With
 * --nproc N each pre-training is a data-parallel run of N processes that this command starts with
 * `mpirun -np N` (issue 17, core/dist/dist.h); the evaluations stay one process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "baselines/baseline.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "core/backend/blas.h"
#include "core/io/csv.h"
#include "core/io/rundir.h"
#include "plots/plot.h"
#include "reproduce/matrix.h"
#include "reproduce/results.h"

#define MAX_ARGS 40
#define MAX_RUNS 512

typedef struct {
    const char *preset, *data, *runs_dir, *results_dir, *results_md;
    int seeds, jobs, dry_run;
    int nproc; /* processes per pre-training (mpirun -np); 1 = one process, no mpirun */
} ReproOptions;

/* One run of the matrix and the steps it still needs. */
typedef struct {
    const MatrixArm *arm;
    int seed, epochs;
    char dir[1024], name[256], data[512];
    char sets[MATRIX_MAX_SETS + 1][128]; /* --set values (run.threads first) */
    int n_sets;
    MatrixRunState state;
    int steps[2];        /* -1 = pretrain, 0 = eval (every protocol still missing, in one process) */
    char protocols[256]; /* the eval step's --protocol list, e.g. "knn,linear" */
    int n_steps, next, failed, skipped;
    pid_t pid;
    double t_start; /* of the step running */
    double t_run;   /* of the run's first step */
} Job;

static void usage(FILE *f)
{
    fprintf(f, "usage: clft reproduce --preset NAME [--data SPEC] [--seeds N] [--jobs N]\n"
               "                      [--runs-dir DIR] [--results-dir DIR] [--results-md FILE] [--dry-run]\n"
               "  --preset NAME       the experiment matrix:\n");
    for (const MatrixPreset *const *p = matrix_all(); *p; p++)
        fprintf(f, "                        %-15s %s\n", (*p)->name, (*p)->about);
    fprintf(f, "  --data SPEC         dataset (in100/in1k: imagefolder:DIR, required)\n"
               "  --seeds N           seeds 1..N per method (default: the preset's)\n"
               "  --jobs N            runs at once, each with run.threads = cores / N (default: the\n"
               "                      preset's: 2 for mini, mini-ablations and mini-bf16, 3 for\n"
               "                      mini-long, else 1)\n"
               "  --nproc N           each pre-training as N data-parallel processes, started\n"
               "                      with mpirun -np N (one per GPU on a GPU machine;\n"
               "                      default 1);\n"
               "                      run.threads = cores / (jobs x N)\n"
               "  --runs-dir DIR      where run directories go (default runs; <DIR>/<group>/...)\n"
               "  --results-dir DIR   summary.csv and figures (default results)\n"
               "  --results-md FILE   the file whose generated section is rewritten (default RESULTS.md)\n"
               "  --dry-run           print the matrix, what is complete and the commands; run nothing\n");
}

static int parse_options(int argc, char **argv, ReproOptions *o)
{
    *o = (ReproOptions){.runs_dir = "runs", .results_dir = "results", .results_md = "RESULTS.md",
                        .jobs = 0, .nproc = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--dry-run")) o->dry_run = 1;
        else if (!strcmp(a, "--preset")) o->preset = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--data")) o->data = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--runs-dir")) o->runs_dir = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--results-dir")) o->results_dir = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--results-md")) o->results_md = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--nproc")) {
            const char *v = cli_value(argc, argv, &i);
            if (parse_int(v, 1, 4096, &n) != CLFT_OK)
                clft_die("--nproc: '%s' is not a number of processes in [1, 4096]", v);
            o->nproc = (int)n;
        } else if (!strcmp(a, "--seeds") || !strcmp(a, "--jobs")) {
            const char *v = cli_value(argc, argv, &i);
            if (parse_int(v, 1, a[2] == 's' ? RESULTS_MAX_SEEDS : 64, &n) != CLFT_OK)
                clft_die("%s: '%s' is not an integer in range", a, v);
            if (a[2] == 's') o->seeds = (int)n;
            else o->jobs = (int)n;
        } else {
            usage(stderr);
            fprintf(stderr, "clft reproduce: unknown argument '%s'\n", a);
            return 2;
        }
    }
    if (!o->preset) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Resolves one run's config (epochs, data) and its --set list, and inspects its directory. */
static void plan_job(Job *j, const MatrixPreset *p, const MatrixArm *arm, int seed,
                     const ReproOptions *o, int threads)
{
    memset(j, 0, sizeof *j);
    j->arm = arm, j->seed = seed;
    Config cfg;
    if (config_resolve(&cfg, arm->baseline, p->config, cli_configs_dir()) != CLFT_OK ||
        (o->data && config_set_kv(&cfg, "data", "spec", o->data, "--data") != CLFT_OK))
        clft_die("%s", clft_last_error());
    /* the arm's own settings count too (an arm may change optim.epochs); "@epochs/N" ones follow */
    int deferred;
    char scratch[sizeof j->sets[0]];
    for (int i = 0; i < MATRIX_MAX_SETS && arm->sets[i]; i++)
        if (matrix_expand_set(arm->sets[i], 0, scratch, sizeof scratch, &deferred) != CLFT_OK ||
            (!deferred && config_set(&cfg, arm->sets[i]) != CLFT_OK))
            clft_die("%s", clft_last_error());
    j->epochs = cfg.optim.epochs;
    snprintf(j->data, sizeof j->data, "%s", cfg.data.spec);
    snprintf(j->sets[j->n_sets++], sizeof j->sets[0], "run.threads=%d", threads);
    for (int i = 0; i < MATRIX_MAX_SETS && arm->sets[i]; i++)
        if (matrix_expand_set(arm->sets[i], j->epochs, j->sets[j->n_sets++], sizeof j->sets[0],
                              &deferred) != CLFT_OK)
            clft_die("%s", clft_last_error());
    if (matrix_run_dir(p, arm, j->data, seed, o->runs_dir, j->dir, sizeof j->dir) != CLFT_OK ||
        matrix_run_state(p, j->dir, j->epochs, &j->state) != CLFT_OK)
        clft_die("%s", clft_last_error());
    const char *slash = strrchr(j->dir, '/');
    int w = snprintf(j->name, sizeof j->name, "%s", slash ? slash + 1 : j->dir);
    if (w < 0 || (size_t)w >= sizeof j->name) clft_die("%s: run name too long", j->dir);
    if (!j->state.pretrained) j->steps[j->n_steps++] = -1;
    /* One `clft eval` for all the missing protocols: knn and linear then share one feature
     * extraction (EvalRun's cache). Each protocol's rows are appended as it ends, so an
     * interrupted evaluation resumes at the first protocol without rows. */
    for (int i = 0; i < MATRIX_MAX_PROTOCOLS && p->protocols[i]; i++) {
        if (j->state.evaluated[i]) continue;
        size_t len = strlen(j->protocols);
        snprintf(j->protocols + len, sizeof j->protocols - len, "%s%s", len ? "," : "",
                 p->protocols[i]);
    }
    if (j->protocols[0]) j->steps[j->n_steps++] = 0;
    j->skipped = j->n_steps == 0;
}

/* argv of step `step` of job j (exe = this binary); returns argc. */
static int step_argv(const Job *j, const MatrixPreset *p, const ReproOptions *o, int step,
                     const char *exe, char **av)
{
    int n = 0;
    if (step < 0 && o->nproc > 1) { /* mpirun starts the pre-training's processes */
        static char np[16];
        snprintf(np, sizeof np, "%d", o->nproc);
        av[n++] = "mpirun", av[n++] = "-np", av[n++] = np;
        /* the ranks' threads are set by run.threads: no binding to one core each */
        av[n++] = "--bind-to", av[n++] = "none";
        if ((long)o->nproc * (o->jobs > 0 ? o->jobs : 1) > sysconf(_SC_NPROCESSORS_ONLN))
            av[n++] = "--oversubscribe";
        if (geteuid() == 0) av[n++] = "--allow-run-as-root"; /* CI containers run as root */
    }
    av[n++] = (char *)exe;
    if (step < 0) {
        const char *fixed[] = {"pretrain", "--baseline", j->arm->baseline, "--variant",
                               j->arm->variant, "--preset", p->config, "--out", j->dir, "--resume",
                               "auto"};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) av[n++] = (char *)fixed[i];
        if (o->data) av[n++] = "--data", av[n++] = (char *)o->data;
        static char seed[16];
        snprintf(seed, sizeof seed, "%d", j->seed);
        av[n++] = "--seed", av[n++] = seed;
        for (int i = 0; i < j->n_sets; i++) av[n++] = "--set", av[n++] = (char *)j->sets[i];
    } else {
        av[n++] = "eval", av[n++] = "--run", av[n++] = (char *)j->dir;
        av[n++] = "--protocol", av[n++] = (char *)j->protocols;
        if (p->cached && strstr(j->protocols, "linear")) av[n++] = "--cached";
        /* The floors (raw pixels, random encoder) do not depend on the method: computed on the
         * reference arms' runs only, which halves the evaluation time of the matrix. */
        if (j->arm->reference) av[n++] = "--no-baselines";
    }
    av[n] = NULL;
    ASSERT(n < MAX_ARGS);
    return n;
}

static const char *step_name(int step)
{
    return step < 0 ? "pretrain" : "eval";
}

static void log_path(const Job *j, const MatrixPreset *p, const ReproOptions *o, int step, char *out,
                     size_t cap)
{
    snprintf(out, cap, "%s/%s/logs/%s.%s.log", o->runs_dir, p->group, j->name, step_name(step));
}

/* Starts the job's next step as a child process writing to its log file. */
static void start_step(Job *j, const MatrixPreset *p, const ReproOptions *o, const char *exe,
                       int threads)
{
    char *av[MAX_ARGS];
    const int step = j->steps[j->next];
    step_argv(j, p, o, step, exe, av);
    char log[2048];
    log_path(j, p, o, step, log, sizeof log);
    fflush(NULL);
    j->t_start = clft_now();
    j->pid = fork();
    if (j->pid < 0) clft_die("reproduce: fork: %s", strerror(errno));
    if (j->pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0) _exit(126);
        char t[16];
        snprintf(t, sizeof t, "%d", threads);
        setenv("OPENBLAS_NUM_THREADS", t, 1);
        setenv("OMP_NUM_THREADS", t, 1);
        execvp(av[0], av); /* this binary, or mpirun from PATH (--nproc) */
        fprintf(stderr, "exec %s: %s\n", av[0], strerror(errno));
        _exit(127);
    }
    printf("  start  %-44s %s\n", j->name, step_name(step));
}

/* The last progress line `epoch E/EE  step S/SS` a running pretraining wrote to its log: the
 * fraction of its steps done, or -1 when it has printed none yet. */
static double log_progress(const char *log, char *what, size_t cap)
{
    FILE *f = fopen(log, "rb");
    if (!f) return -1;
    char buf[4097];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > 4096 ? size - 4096 : 0, SEEK_SET);
    size_t got = fread(buf, 1, 4096, f);
    fclose(f);
    buf[got] = '\0';
    double frac = -1;
    for (char *at = buf; (at = strstr(at, "epoch ")); at++) {
        int e, ee;
        long st, sst;
        if (sscanf(at, "epoch %d/%d step %ld/%ld", &e, &ee, &st, &sst) == 4 && sst > 0) {
            frac = (double)st / sst;
            snprintf(what, cap, "epoch %d/%d step %ld/%ld", e, ee, st, sst);
        }
    }
    return frac;
}

/* A line on how far the matrix is, every PROGRESS_EVERY_S seconds: runs done of all, each running
 * run's epoch and step, and the projected finish — from the pace of the running pre-trainings and
 * the measured length of the finished runs. */
#define PROGRESS_EVERY_S 30.0
static void print_progress(const Job *js, int n, const MatrixPreset *p, const ReproOptions *o,
                           int done, int todo, double t0, double run_s_sum, int runs_timed,
                           FILE *log)
{
    const double now = clft_now();
    char line[2048];
    int len = snprintf(line, sizeof line, "progress: %d/%d runs done", done, todo);
    double remaining = 0, per_run = runs_timed ? run_s_sum / runs_timed : -1;
    int queued = 0;
    for (int i = 0; i < n; i++) {
        const Job *j = &js[i];
        if (j->skipped || j->failed) continue;
        if (!j->pid) {
            queued += j->t_run == 0; /* not started yet */
            continue;
        }
        char logf[2048], what[96] = "starting";
        log_path(j, p, o, j->steps[j->next], logf, sizeof logf);
        const double spent = now - j->t_start;
        double frac = j->steps[j->next] < 0 ? log_progress(logf, what, sizeof what) : -1;
        if (j->steps[j->next] >= 0) snprintf(what, sizeof what, "evaluating");
        if (frac > 0.01) {
            const double total = spent / frac;
            remaining += total - spent;
            if (per_run < 0) per_run = total;
        }
        if (len < (int)sizeof line - 200)
            len += snprintf(line + len, sizeof line - len, "; %s: %s", j->name, what);
    }
    /* queued runs take about a finished (or a running) run's time each, o->jobs at a time */
    if (per_run > 0) {
        remaining = (remaining + queued * per_run) / (o->jobs > 0 ? o->jobs : 1);
        time_t eta = time(NULL) + (time_t)remaining;
        char when[32];
        strftime(when, sizeof when, "%H:%M", localtime(&eta));
        snprintf(line + len, sizeof line - len, "; %.0f min elapsed, about %.0f min left (ETA %s)",
                 (now - t0) / 60, remaining / 60, when);
    } else {
        snprintf(line + len, sizeof line - len, "; %.0f min elapsed", (now - t0) / 60);
    }
    printf("%s\n", line);
    if (log) {
        fprintf(log, "%s\n", line);
        fflush(log);
    }
}

/* Runs every job's steps, `jobs` runs at a time; returns the number of failed runs. */
static int run_jobs(Job *js, int n, const MatrixPreset *p, const ReproOptions *o, const char *exe,
                    int threads, FILE *progress_log)
{
    int running = 0, next = 0, failed = 0, done = 0, todo = 0, runs_timed = 0;
    double t0 = clft_now(), last_progress = t0, run_s_sum = 0;
    for (int i = 0; i < n; i++) todo += !js[i].skipped;
    for (;;) {
        while (running < o->jobs && next < n) {
            if (!js[next].skipped) {
                start_step(&js[next], p, o, exe, threads);
                js[next].t_run = clft_now();
                running++;
            }
            next++;
        }
        if (running == 0) break;
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0) clft_die("reproduce: waitpid: %s", strerror(errno));
        if (pid == 0) { /* nothing finished: report now and then, wait a little */
            if (clft_now() - last_progress >= PROGRESS_EVERY_S) {
                print_progress(js, n, p, o, done, todo, t0, run_s_sum, runs_timed, progress_log);
                last_progress = clft_now();
            }
            usleep(200 * 1000);
            continue;
        }
        Job *j = NULL;
        for (int i = 0; i < n && !j; i++)
            if (js[i].pid == pid) j = &js[i];
        if (!j) continue;
        const int step = j->steps[j->next];
        const int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        char log[2048];
        log_path(j, p, o, step, log, sizeof log);
        printf("  %s %-44s %s (%.1f s)", ok ? "done  " : "FAILED", j->name, step_name(step),
               clft_now() - j->t_start);
        if (!ok)
            printf(": %s %d, see %s", WIFEXITED(status) ? "exit status" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), log);
        j->pid = 0;
        if (ok && ++j->next < j->n_steps) {
            printf("\n");
            start_step(j, p, o, exe, threads);
            continue;
        }
        failed += !ok;
        j->failed = !ok;
        running--;
        if (ok && j->steps[0] < 0) run_s_sum += clft_now() - j->t_run, runs_timed++;
        printf("   [%d/%d runs]\n", ++done, todo);
    }
    return failed;
}

static void print_plan(const Job *js, int n, const MatrixPreset *p, const ReproOptions *o,
                       int seeds, int threads)
{
    int complete = 0;
    for (int i = 0; i < n; i++) complete += js[i].skipped;
    printf("preset %s: %s\n  pretrain preset configs/%s.ini, %d seeds, %d arms, %d runs (%d complete, "
           "%d to run), --jobs %d with run.threads=%d",
           p->name, p->about, p->config, seeds, p->n_arms, n, complete, n - complete, o->jobs, threads);
    if (o->nproc > 1) printf(", %d processes per pre-training (mpirun -np %d)", o->nproc, o->nproc);
    printf("\n");
    for (int i = 0; i < n && o->dry_run; i++) {
        const Job *j = &js[i];
        const char *ref = j->arm->reference;
        printf("%-9s %s  [%s %s, seed %d, %d epochs%s%s]\n", j->skipped ? "complete" : "to run",
               j->dir, j->arm->baseline, j->arm->label, j->seed, j->epochs, ref ? ", vs " : "",
               ref ? ref : "");
        for (int s = 0; s < j->n_steps; s++) {
            char *av[MAX_ARGS];
            int ac = step_argv(j, p, o, j->steps[s], "clft", av);
            printf("    ");
            for (int a = 0; a < ac; a++) printf("%s%s", a ? " " : "", av[a]);
            printf("\n");
        }
    }
}

/* Pre-training seconds of a run: the last elapsed_s of its train.csv (-1 if unknown). */
static double run_compute_s(const char *dir)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/train.csv", dir);
    CsvTable t;
    if (access(path, R_OK) != 0 || csv_read(path, &t) != CLFT_OK) return -1;
    double v = -1;
    int c = csv_col(&t, "elapsed_s");
    if (c < 0 || t.nrow == 0 || csv_cell_num(&t, t.nrow - 1, c, &v) != CLFT_OK) v = -1;
    csv_table_free(&t);
    return v;
}

static int has_train_log(const char *dir)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/train.csv", dir);
    return access(path, R_OK) == 0;
}

/* Draws each figure group (first seed of every arm in it) into DIR/<group>/; lists the images. */
static int draw_figures(const Job *js, int n, const MatrixPreset *p, const char *fig_dir,
                        const char *summary, char links[][1300], int max_links)
{
    int n_links = 0;
    for (int a = 0; a < p->n_arms; a++) {
        const char *g = p->arms[a].figures;
        int seen = 0;
        for (int b = 0; b < a && !seen; b++) seen = !strcmp(p->arms[b].figures, g);
        if (seen) continue;
        const char *runs[PLOT_MAX_RUNS];
        int nr = 0;
        for (int i = 0; i < n && nr < PLOT_MAX_RUNS; i++)
            if (!strcmp(js[i].arm->figures, g) && js[i].seed == 1 && has_train_log(js[i].dir))
                runs[nr++] = js[i].dir;
        if (nr == 0) continue;
        char out[1200];
        snprintf(out, sizeof out, "%s/%s", fig_dir, g);
        PlotOptions po = {.out_dir = out, .format = PLOT_FORMAT_PNG, .summary = summary, .quiet = 1};
        if (plot_runs(runs, nr, &po) != CLFT_OK) {
            fprintf(stderr, "clft reproduce: figures for %s not drawn: %s\n", g, clft_last_error());
            continue;
        }
        const char *names[] = {"comparison.png", "forest.png", "score_curves.png",
                               "train_curves.png"};
        for (int k = 0; k < 4 && n_links < max_links; k++) {
            snprintf(links[n_links], 1300, "%s/%s", out, names[k]);
            if (access(links[n_links], R_OK) == 0) n_links++;
        }
    }
    return n_links;
}

static ClftStatus copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) {
        clft_set_error("%s: %s", from, strerror(errno));
        return CLFT_ERR_IO;
    }
    AtomicFile af;
    ClftStatus st = atomic_open(&af, to);
    if (st == CLFT_OK) {
        char buf[8192];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, got, af.fp);
        st = atomic_commit(&af);
    }
    fclose(in);
    return st;
}

/* summary.csv, figures and the RESULTS.md section; returns 0 or 1 on an error. */
static int write_results(const Job *js, int n, const MatrixPreset *p, const ReproOptions *o,
                         int seeds, double t0)
{
    ResultsRun runs[MAX_RUNS];
    int nr = 0, skipped = 0, failed = 0;
    double compute = 0;
    for (int i = 0; i < n; i++) {
        skipped += js[i].skipped, failed += js[i].failed;
        double c = run_compute_s(js[i].dir);
        compute = (c < 0 || compute < 0) ? -1 : compute + c;
        if (js[i].failed) continue; /* a crashed run's partial rows stay out of the statistics */
        runs[nr++] = (ResultsRun){js[i].arm->baseline, js[i].arm->label, js[i].arm->reference,
                                  js[i].seed, js[i].dir};
    }
    char dir[1024], summary[1100], figs[1100], top[1100];
    snprintf(dir, sizeof dir, "%s/%s", o->results_dir, p->name);
    snprintf(summary, sizeof summary, "%s/summary.csv", dir);
    snprintf(figs, sizeof figs, "%s/figures", dir);
    snprintf(top, sizeof top, "%s/summary.csv", o->results_dir);
    ResultsSummary s;
    ClftStatus st = rundir_create(dir);
    if (st == CLFT_OK) st = results_summarize(runs, nr, &s);
    if (st != CLFT_OK) {
        fprintf(stderr, "clft reproduce: %s\n", clft_last_error());
        return 1;
    }
    if ((st = results_write_summary(&s, summary)) == CLFT_OK) st = copy_file(summary, top);
    static char links[16][1300];
    int n_links = st == CLFT_OK ? draw_figures(js, n, p, figs, summary, links, 15) : 0;
    char machine[512], command[512], date[64];
    results_machine(machine, sizeof machine, blas_core_name());
    snprintf(command, sizeof command, "clft reproduce --preset %s%s%s --seeds %d", p->name,
             o->data ? " --data " : "", o->data ? o->data : "", seeds);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    ResultsContext ctx = {.preset = p->name, .about = p->about, .data = js[0].data,
                          .command = command, .n_seeds = seeds, .n_runs = n, .n_skipped = skipped,
                          .n_failed = failed, .wall_s = clft_now() - t0, .compute_s = compute,
                          .machine = machine, .commit = CLFT_GIT_COMMIT, .date = date,
                          .summary_path = summary};
    for (int i = 0; i < n_links; i++) ctx.figures[i] = links[i];
    if (st == CLFT_OK) {
        char *section = results_md_section(&s, &ctx);
        st = results_md_replace(o->results_md, p->name, section);
        free(section);
    }
    if (st != CLFT_OK) fprintf(stderr, "clft reproduce: %s\n", clft_last_error());
    else printf("wrote %s (and %s), %s section '%s', figures in %s\n", summary, top, o->results_md,
                p->name, figs);
    if (s.n_runs_missing) printf("note: %d runs have no evaluation rows\n", s.n_runs_missing);
    results_summary_free(&s);
    return st != CLFT_OK;
}

/* 1 when `name` is an executable file in a directory of PATH. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    for (const char *p = path; p && *p;) {
        size_t len = strcspn(p, ":");
        char file[4096];
        snprintf(file, sizeof file, "%.*s/%s", (int)len, p, name);
        if (access(file, X_OK) == 0) return 1;
        p += len + (p[len] == ':');
    }
    return 0;
}

static const MatrixPreset *checked_preset(const ReproOptions *o)
{
    const MatrixPreset *p = matrix_find(o->preset);
    if (!p) {
        usage(stderr);
        clft_die("reproduce: unknown preset '%s'", o->preset);
    }
    if (p->needs_imagefolder && (!o->data || strncmp(o->data, "imagefolder:", 12)))
        clft_die("reproduce: preset %s needs --data imagefolder:DIR (the ImageNet JPEG folders, "
                 "DIR/train/<class>/*.JPEG and DIR/val/<class>/*.JPEG) and GPUs; see README",
                 p->name);
    return p;
}

int cmd_reproduce(int argc, char **argv)
{
    /* One line per step, as it happens, also when stdout is a log file (a mini run takes an hour). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    ReproOptions o;
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc;
    const MatrixPreset *p = checked_preset(&o);
    if (!o.jobs) o.jobs = p->jobs > 0 ? p->jobs : 1;
    const double t0 = clft_now();
    const int seeds = o.seeds ? o.seeds : p->seeds;
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const long share = cores / ((long)o.jobs * o.nproc); /* cores per process */
    const int threads = share > 0 ? (int)share : 1;
    if (o.nproc > 1 && !o.dry_run && !on_path("mpirun"))
        clft_die("reproduce: --nproc %d needs mpirun (apt-get install openmpi-bin) and a clft "
                 "built with MPI (clft --version: data parallel)",
                 o.nproc);
    const int n = p->n_arms * seeds;
    if (n > MAX_RUNS) clft_die("reproduce: %d runs is more than %d", n, MAX_RUNS);
    Job *js = xcalloc((size_t)n, sizeof *js);
    for (int a = 0; a < p->n_arms; a++)
        for (int s = 0; s < seeds; s++) plan_job(&js[a * seeds + s], p, &p->arms[a], s + 1, &o, threads);
    print_plan(js, n, p, &o, seeds, threads);
    if (o.dry_run) {
        free(js);
        return 0;
    }
    char logs[1100], exe[4096];
    snprintf(logs, sizeof logs, "%s/%s/logs", o.runs_dir, p->group);
    if (rundir_create(logs) != CLFT_OK) clft_die("%s", clft_last_error());
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) clft_die("reproduce: cannot find this executable (/proc/self/exe)");
    exe[len] = '\0';
    char log_file[1200];
    snprintf(log_file, sizeof log_file, "%s/reproduce.log", logs);
    FILE *log = fopen(log_file, "a"); /* the progress lines, also where no one watches stdout */
    const int failed = run_jobs(js, n, p, &o, exe, threads, log);
    if (log) fclose(log);
    rc = write_results(js, n, p, &o, seeds, t0);
    printf("reproduce %s: %d runs, %d failed, %.0f s\n", p->name, n, failed, clft_now() - t0);
    free(js);
    return failed || rc ? 1 : 0;
}
