/* plot.c — see plot.h. Prepares the data directory (plot_data.c, plot_hist.c, plot_summary.c),
 * then runs gnuplot once per figure, rendering to a temporary name and renaming on success. */
#include "plots/plot.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plots/plot_internal.h"

const char *plot_format_ext(PlotFormat f)
{
    return f == PLOT_FORMAT_PDF ? "pdf" : f == PLOT_FORMAT_SVG ? "svg" : "png";
}

static int has_style(const char *dir)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/style.gp", dir);
    return access(p, R_OK) == 0;
}

ClftStatus plot_scripts_dir(char *out, size_t cap)
{
    const char *env = getenv("CLFT_PLOTS_DIR");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        if (has_style(out)) return CLFT_OK;
        clft_set_error("CLFT_PLOTS_DIR=%s: no style.gp there", env);
        return CLFT_ERR_IO;
    }
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(out, cap, "%s/../plots", exe); /* build/clft → plots/ beside build/ */
        if (has_style(out)) return CLFT_OK;
    }
    snprintf(out, cap, "%s/plots", CLFT_SOURCE_DIR);
    if (has_style(out)) return CLFT_OK;
    clft_set_error("cannot find the gnuplot scripts (style.gp) next to the executable or in %s/plots;"
                   " set CLFT_PLOTS_DIR", CLFT_SOURCE_DIR);
    return CLFT_ERR_IO;
}

static int gnuplot_on_path(void)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char dir[1200];
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s/gnuplot", (int)len, p);
        if (len && access(dir, X_OK) == 0) return 1;
        p += len + (p[len] == ':');
    }
    return 0;
}

static ClftStatus mkdir_p(const char *dir)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0') continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            clft_set_error("%s: cannot create directory (%s)", p, strerror(errno));
            return CLFT_ERR_IO;
        }
        *s = c;
        if (!c) return CLFT_OK;
    }
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1400];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

/* ---- the variables every script reads (vars.gp) ---- */

static void write_vars(PlotRun *runs, int n, const char *tmp)
{
    static const char *distinct[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                     "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
                                     "#bcbd22", "#7f7f7f", "#000000", "#000080"}; /* 12 runs */
    int clash = 0; /* two runs of one method (seeds, a momentum sweep): colour by run instead */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) clash |= !strcmp(runs[i].color, runs[j].color);
    FILE *f = pdata_open(tmp, "vars.gp");
    fprintf(f, "# written by clft plot: one entry per run\nnruns = %d\n", n);
    const char *arrays[] = {"label", "color", "runname", "pre_scores", "pre_hist", "nknn",
                            "pos_lo", "pos_hi", "neg_lo", "neg_hi", "ep_lo", "ep_hi", "nsel", "sel"};
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++)
        fprintf(f, "array %s[%d]\n", arrays[a], n);
    for (int i = 0; i < n; i++) {
        PlotRun *r = &runs[i];
        int k = i + 1;
        fprintf(f, "label[%d] = ", k), pdata_put_string(f, r->label), fputc('\n', f);
        fprintf(f, "runname[%d] = ", k), pdata_put_string(f, r->name), fputc('\n', f);
        fprintf(f, "color[%d] = \"%s\"\n", k,
                clash ? distinct[i % (int)(sizeof distinct / sizeof *distinct)] : r->color);
        fprintf(f, "pre_scores[%d] = %d; pre_hist[%d] = %d; nknn[%d] = %d\n", k, r->has_pre_scores,
                k, r->has_pre_hist, k, r->n_knn);
        fprintf(f, "pos_lo[%d] = %.9g; pos_hi[%d] = %.9g; neg_lo[%d] = %.9g; neg_hi[%d] = %.9g\n",
                k, r->pos_lo, k, r->pos_hi, k, r->neg_lo, k, r->neg_hi);
        fprintf(f, "ep_lo[%d] = %.9g; ep_hi[%d] = %.9g; nsel[%d] = %d; sel[%d] = \"", k, r->ep_lo,
                k, r->ep_hi, k, r->n_sel, k);
        for (int j = 0; j < r->n_sel; j++) fprintf(f, "%s%d", j ? " " : "", r->sel[j]);
        fprintf(f, "\"\n");
    }
    int any_pre = 0, any_knn = 0;
    for (int i = 0; i < n; i++) any_pre |= runs[i].has_pre_scores, any_knn |= runs[i].n_knn > 0;
    fprintf(f, "any_pre_scores = %d\nany_knn = %d\n", any_pre, any_knn);
    fclose(f);
}

/* ---- running gnuplot ---- */

/* Appends `s` to buf as a gnuplot single-quoted string ('' stands for a quote). */
static void put_quoted(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    if (n + 1 < cap) buf[n++] = '\'';
    for (; *s && n + 2 < cap; s++) {
        if (*s == '\'') buf[n++] = '\'';
        buf[n++] = *s;
    }
    if (n + 1 < cap) buf[n++] = '\'';
    buf[n] = '\0';
}

/* The first gnuplot line that reports an error, else the last non-empty line of its stderr. */
static void gnuplot_reason(const char *err_path, char *out, size_t cap)
{
    FILE *f = fopen(err_path, "r");
    char line[512];
    snprintf(out, cap, "exited with an error");
    if (!f) return;
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line || strspn(line, " ^") == strlen(line)) continue;
        if (!found) snprintf(out, cap, "%s", line + strspn(line, " "));
        if (strstr(line, "rror")) found = 1;
    }
    fclose(f);
}

static void pass_warnings(const char *err_path, const char *script)
{
    FILE *f = fopen(err_path, "r");
    char line[512];
    if (!f) return;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "arning")) fprintf(stderr, "clft: note: %s: gnuplot %s", script, line);
    fclose(f);
}

typedef struct {
    const char *scripts; /* plots/ */
    const char *tmp;     /* the data directory */
    const char *out_dir;
    PlotFormat format;
    int quiet;
} Renderer;

static int spawn_gnuplot(const Renderer *rd, const char *script, const char *vars, const char *err)
{
    char gp[1200];
    snprintf(gp, sizeof gp, "%s/%s", rd->scripts, script);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        FILE *e = freopen(err, "w", stderr);
        if (!e || dup2(fileno(stderr), STDOUT_FILENO) < 0) _exit(126);
        execlp("gnuplot", "gnuplot", "-e", vars, gp, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Renders plots/<script> into OUT_DIR/<figure>.<ext>; `run` is passed as the variable run (0: none). */
static ClftStatus render(const Renderer *rd, const char *script, const char *figure, int run)
{
    char out[1400], part[1500], err[1400], vars[6000] = "data=";
    const char *ext = plot_format_ext(rd->format);
    snprintf(out, sizeof out, "%s/%s.%s", rd->out_dir, figure, ext);
    snprintf(part, sizeof part, "%s/.%s.%s.part%ld", rd->out_dir, figure, ext, (long)getpid());
    snprintf(err, sizeof err, "%s/gnuplot.err", rd->tmp);
    put_quoted(vars, sizeof vars, rd->tmp);
    strncat(vars, "; out=", sizeof vars - strlen(vars) - 1);
    put_quoted(vars, sizeof vars, part);
    strncat(vars, "; plotdir=", sizeof vars - strlen(vars) - 1);
    put_quoted(vars, sizeof vars, rd->scripts);
    snprintf(vars + strlen(vars), sizeof vars - strlen(vars), "; fmt='%s'; run=%d", ext, run);
    int rc = spawn_gnuplot(rd, script, vars, err);
    struct stat sb;
    if (rc != 0 || stat(part, &sb) != 0 || sb.st_size == 0) {
        char why[512];
        gnuplot_reason(err, why, sizeof why);
        unlink(part);
        clft_set_error("%s/%s: gnuplot failed drawing %s: %s", rd->scripts, script, out,
                       rc == 127 ? "gnuplot could not be run (apt-get install gnuplot-nox)" : why);
        return CLFT_ERR_IO;
    }
    pass_warnings(err, script);
    if (rename(part, out) != 0) {
        clft_set_error("%s: cannot rename into place (%s)", out, strerror(errno));
        unlink(part);
        return CLFT_ERR_IO;
    }
    if (!rd->quiet) printf("wrote %s\n", out);
    return CLFT_OK;
}

/* ---- the whole job ---- */

static ClftStatus prepare(PlotRun *runs, const char *const *dirs, int n, const char *tmp,
                          const PlotOptions *opt, int *n_forest)
{
    ClftStatus st = CLFT_OK;
    for (int i = 0; i < n && st == CLFT_OK; i++) {
        st = pdata_run_info(&runs[i], dirs[i]);
        if (st == CLFT_OK) st = pdata_scores(&runs[i], i + 1, tmp, opt->smooth);
        if (st == CLFT_OK) st = pdata_train(&runs[i], i + 1, tmp, opt->smooth);
        if (st == CLFT_OK) st = pdata_hist(&runs[i], i + 1, tmp, opt);
    }
    if (st == CLFT_OK) pdata_distinguish(runs, n);
    if (st == CLFT_OK && opt->summary) st = pdata_summary(opt->summary, tmp);
    if (st == CLFT_OK && opt->summary) st = pdata_forest(opt->summary, tmp, n_forest);
    if (st == CLFT_OK) write_vars(runs, n, tmp);
    return st;
}

static ClftStatus draw_all(const Renderer *rd, const PlotRun *runs, int n, int with_summary,
                           int with_forest)
{
    ClftStatus st = render(rd, "score_curves.gp", "score_curves", 0);
    if (st == CLFT_OK) st = render(rd, "train_curves.gp", "train_curves", 0);
    for (int i = 0; i < n && st == CLFT_OK; i++) {
        char fig[200];
        snprintf(fig, sizeof fig, "score_heatmap_%s", runs[i].tag);
        st = render(rd, "score_heatmap.gp", fig, i + 1);
        snprintf(fig, sizeof fig, "score_hist_%s", runs[i].tag);
        if (st == CLFT_OK) st = render(rd, "score_hist.gp", fig, i + 1);
    }
    if (st == CLFT_OK && with_summary) st = render(rd, "comparison.gp", "comparison", 0);
    if (st == CLFT_OK && with_forest) st = render(rd, "forest.gp", "forest", 0);
    return st;
}

ClftStatus plot_runs(const char *const *dirs, int n, const PlotOptions *opt)
{
    ASSERT(n >= 1 && n <= PLOT_MAX_RUNS && opt->out_dir);
    char scripts[1024], tmp[1024];
    if (opt->scripts_dir)
        snprintf(scripts, sizeof scripts, "%s", opt->scripts_dir);
    else if (plot_scripts_dir(scripts, sizeof scripts) != CLFT_OK)
        return CLFT_ERR_IO;
    if (!gnuplot_on_path()) {
        clft_set_error("gnuplot not found on PATH: install it with apt-get install gnuplot-nox");
        return CLFT_ERR_IO;
    }
    const char *td = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/clft-plot-XXXXXX", td && *td ? td : "/tmp");
    if (!mkdtemp(tmp)) {
        clft_set_error("%s: cannot create a temporary directory (%s)", tmp, strerror(errno));
        return CLFT_ERR_IO;
    }
    PlotRun *runs = xcalloc((size_t)n, sizeof *runs);
    int n_forest = 0;
    ClftStatus st = prepare(runs, dirs, n, tmp, opt, &n_forest);
    if (st == CLFT_OK) st = mkdir_p(opt->out_dir);
    if (st == CLFT_OK) {
        Renderer rd = {scripts, tmp, opt->out_dir, opt->format, opt->quiet};
        st = draw_all(&rd, runs, n, opt->summary != NULL, n_forest > 0);
    }
    const char *keep = getenv("CLFT_PLOTS_KEEP_DATA");
    if (keep && *keep == '1')
        fprintf(stderr, "clft: plot data kept in %s\n", tmp);
    else
        remove_tree(tmp);
    free(runs);
    return st;
}
