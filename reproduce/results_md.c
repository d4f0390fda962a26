/* results_md.c — RESULTS.md's generated sections (results.h): the machine line, the mean ± std
 * table, the paired method − baseline table beside the paper's published gains (PAPER.md §6), and
 * the marker splice that leaves the rest of the file untouched. */
#include "reproduce/results.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io/atomic.h"

/* A growable string. */
typedef struct {
    char *s;
    size_t n, cap;
} Str;

static void str_printf(Str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void str_printf(Str *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        ASSERT(w >= 0);
        if (b->s && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        b->cap = 2 * (b->cap + (size_t)w + 256);
        b->s = xrealloc(b->s, b->cap);
    }
}

void results_machine(char *out, size_t cap, const char *blas_core)
{
    char model[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            const char *c = strchr(line, ':');
            if (strncmp(line, "model name", 10) || !c) continue;
            snprintf(model, sizeof model, "%s", c + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
        fclose(f);
    }
    snprintf(out, cap, "%ld cores, %s, OpenBLAS core %s", sysconf(_SC_NPROCESSORS_ONLN), model,
             blas_core);
}

/* PAPER.md §6: published FT − baseline gains in IN-1K linear top-1 (ResNet-50, 200 epochs). */
static const char *paper_gain(const ResultsRow *r)
{
    if (strcmp(r->variant, "ft") || strcmp(r->protocol, "linear") || strcmp(r->metric, "top1"))
        return "–";
    if (!strcmp(r->baseline, "moco_v1")) return "+1.3 (60.6 → 61.9)";
    if (!strcmp(r->baseline, "moco_v2")) return "+2.1 (67.5 → 69.6)";
    return "–";
}

/* Values in [0, 1] are fractions (4 decimals), larger ones percentages (2 decimals). */
static int decimals(double ref)
{
    return fabs(ref) <= 1.0 ? 4 : 2;
}

static void method_name(char *out, size_t cap, const ResultsRow *r)
{
    if (!strcmp(r->variant, "none")) snprintf(out, cap, "%s", r->baseline);
    else snprintf(out, cap, "%s + %s", r->baseline, r->variant);
}

/* Main protocols are the pre-trained encoders' (knn, linear); names with a suffix (knn_pixels,
 * linear_random, ...) are floors that do not depend on the method. */
static int is_floor(const ResultsRow *r)
{
    return strchr(r->protocol, '_') != NULL;
}

/* The pre-training statistics (results.h): in summary.csv for `clft check`, not in the tables. */
static int is_pretrain(const ResultsRow *r)
{
    return !strcmp(r->protocol, "pretrain");
}

static int same_key(const ResultsRow *a, const ResultsRow *b)
{
    return !strcmp(a->dataset, b->dataset) && !strcmp(a->protocol, b->protocol) &&
           !strcmp(a->metric, b->metric);
}

/* Table 1: one line per method, one column per main (protocol, metric). */
static void md_means(Str *b, const ResultsSummary *s)
{
    const ResultsRow *cols[32];
    int nc = 0;
    for (int i = 0; i < s->n && nc < 32; i++) {
        int seen = is_floor(&s->rows[i]) || is_pretrain(&s->rows[i]);
        for (int c = 0; c < nc && !seen; c++) seen = same_key(cols[c], &s->rows[i]);
        if (!seen) cols[nc++] = &s->rows[i];
    }
    str_printf(b, "**Mean ± std over seeds** (n seeds in parentheses)\n\n| method |");
    for (int c = 0; c < nc; c++) str_printf(b, " %s %s |", cols[c]->protocol, cols[c]->metric);
    str_printf(b, "\n|---|");
    for (int c = 0; c < nc; c++) str_printf(b, "---|");
    str_printf(b, "\n");
    for (int i = 0; i < s->n; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = strcmp(s->rows[j].baseline, s->rows[i].baseline) ||
                    strcmp(s->rows[j].variant, s->rows[i].variant);
        if (!first) continue;
        char name[160];
        method_name(name, sizeof name, &s->rows[i]);
        str_printf(b, "| %s |", name);
        for (int c = 0; c < nc; c++) {
            const ResultsRow *r = NULL;
            for (int j = 0; j < s->n && !r; j++)
                if (!strcmp(s->rows[j].baseline, s->rows[i].baseline) &&
                    !strcmp(s->rows[j].variant, s->rows[i].variant) && same_key(&s->rows[j], cols[c]))
                    r = &s->rows[j];
            if (!r) str_printf(b, " – |");
            else if (r->n < 2) str_printf(b, " %.*f (1) |", decimals(r->mean), r->mean);
            else str_printf(b, " %.*f ± %.*f (%d) |", decimals(r->mean), r->mean, decimals(r->mean),
                            r->std, r->n);
        }
        str_printf(b, "\n");
    }
}

static const char *reading(const ResultsRow *r)
{
    if (r->n_paired < 2 || isnan(r->delta_ci95)) return "too few paired seeds for an interval";
    if (r->delta - r->delta_ci95 > 0) return "gain (95% CI excludes 0)";
    if (r->delta + r->delta_ci95 < 0) return "loss (95% CI excludes 0)";
    return "no detectable difference (95% CI includes 0)";
}

/* Table 2: each compared method − its reference, paired by seed; none when no method is compared
 * (a one-method preset such as mini-long). */
static void md_deltas(Str *b, const ResultsSummary *s)
{
    int compared = 0;
    for (int i = 0; i < s->n && !compared; i++)
        compared = s->rows[i].reference[0] && !is_floor(&s->rows[i]) && !is_pretrain(&s->rows[i]);
    if (!compared) return;
    str_printf(
        b, "\n**Method − baseline, paired by seed** (Δ = mean of per-seed differences; 95%% CI "
           "with Student t; p = two-sided paired t-test; the paper's gain is IN-1K linear "
           "top-1, ResNet-50, 200 epochs; p (Holm) = p adjusted across the methods compared "
           "with the same baseline)\n\n"
           "| method | vs | protocol | metric | Δ | 95%% CI of Δ | p | p (Holm) | n | reading | "
           "paper |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < s->n; i++) {
        const ResultsRow *r = &s->rows[i];
        if (!r->reference[0] || is_floor(r) || is_pretrain(r)) continue;
        char name[160];
        method_name(name, sizeof name, r);
        const int d = decimals(r->mean);
        str_printf(b,
                   "| %s | %s | %s | %s | %+.*f | [%+.*f, %+.*f] | %.3g | %.3g | %d | %s | %s |\n",
                   name, strcmp(r->reference, "none") ? r->reference : r->baseline, r->protocol,
                   r->metric, d, r->delta, d, r->delta - r->delta_ci95, d, r->delta + r->delta_ci95,
                   r->p_value, r->p_holm, r->n_paired, reading(r), paper_gain(r));
    }
}

static const ResultsRow *arm_row(const ResultsSummary *s, const ResultsRow *like,
                                 const char *metric)
{
    for (int i = 0; i < s->n; i++) {
        const ResultsRow *r = &s->rows[i];
        if (!strcmp(r->baseline, like->baseline) && !strcmp(r->variant, like->variant) &&
            !strcmp(r->dataset, like->dataset) && !strcmp(r->protocol, like->protocol) &&
            !strcmp(r->metric, metric))
            return r;
    }
    return NULL;
}

/* Table 3: the early collapse of the encoder's negative scores (results_collapse), per method. */
static void md_collapse(Str *b, const ResultsSummary *s)
{
    int any = 0;
    for (int i = 0; i < s->n; i++) {
        const ResultsRow *peak = &s->rows[i];
        if (!is_pretrain(peak) || strcmp(peak->metric, "collapse_peak")) continue;
        const ResultsRow *iters = arm_row(s, peak, "collapse_iters");
        const ResultsRow *back = arm_row(s, peak, "collapse_recovered");
        if (!iters || !back) continue;
        if (!any)
            str_printf(b,
                       "\n**Early collapse of the negative scores** (the encoder's own mean cosine "
                       "q·queue before any transformation: its peak in the first epoch — for "
                       "an arm that starts FT later, the epoch it starts — and the iterations "
                       "from there until it is back below %g: 0 when it never rose above, all "
                       "that were left when it never came back)\n\n"
                       "| method | peak | iterations until back below %g | seeds back below |\n"
                       "|---|---|---|---|\n",
                       RESULTS_COLLAPSE_BELOW, RESULTS_COLLAPSE_BELOW);
        any = 1;
        char name[160];
        method_name(name, sizeof name, peak);
        int recovered = 0;
        for (int k = 0; k < back->n; k++)
            recovered += back->values[k] > 0.5;
        str_printf(b, "| %s | %.3f", name, peak->mean);
        if (peak->n >= 2) str_printf(b, " ± %.3f", peak->std);
        str_printf(b, " | %.0f", iters->mean);
        if (iters->n >= 2) str_printf(b, " ± %.0f", iters->std);
        str_printf(b, " | %d of %d |\n", recovered, back->n);
    }
}

/* ---- "When does FT help?": written from the numbers, never by hand (issue 18) ---- */

static const ResultsRow *find_metric(const ResultsSummary *s, const char *baseline,
                                     const char *variant, const char *protocol, const char *metric)
{
    for (int i = 0; i < s->n; i++) {
        const ResultsRow *r = &s->rows[i];
        if (!strcmp(r->baseline, baseline) && !strcmp(r->variant, variant) &&
            !strcmp(r->protocol, protocol) && !strcmp(r->metric, metric))
            return r;
    }
    return NULL;
}

static int is_ft_arm(const ResultsRow *r)
{
    return r->reference[0] && !strncmp(r->variant, "ft", 2) && !strcmp(r->protocol, "knn") &&
           !strcmp(r->metric, "top1");
}

/* -1: a loss (95% CI below 0), +1: a gain (above), 0: no detectable difference or no interval */
static int verdict(const ResultsRow *r)
{
    if (!r || r->n_paired < 2 || isnan(r->delta_ci95)) return 0;
    return r->delta - r->delta_ci95 > 0 ? 1 : r->delta + r->delta_ci95 < 0 ? -1 : 0;
}

static void say_delta(Str *b, const ResultsRow *r)
{
    static const char *const word[] = {"a loss", "no detectable difference", "a gain"};
    str_printf(b, "%+.2f [%+.2f, %+.2f], %s", r->delta, r->delta - r->delta_ci95,
               r->delta + r->delta_ci95, word[verdict(r) + 1]);
}

/* The collapse's iterations (mean over seeds) of an arm, NaN when not recorded. */
static double collapse_iters(const ResultsSummary *s, const char *baseline, const char *variant)
{
    const ResultsRow *r = find_metric(s, baseline, variant, "pretrain", "collapse_iters");
    return r ? r->mean : NAN;
}

static void md_ft_help(Str *b, const ResultsSummary *s)
{
    int n_ft = 0;
    for (int i = 0; i < s->n; i++)
        n_ft += is_ft_arm(&s->rows[i]);
    if (n_ft == 0) return;
    str_printf(b,
               "\n**When does FT help?** (written by the code from the tables above: kNN top-1 "
               "Δ vs each arm's reference, 95%% CI; a loss or a gain when the CI excludes 0)\n\n");
    /* 1. which component costs accuracy: each half of FT alone, per baseline */
    for (int i = 0; i < s->n; i++) {
        const ResultsRow *ft = &s->rows[i];
        if (!is_ft_arm(ft) || strcmp(ft->variant, "ft")) continue;
        const ResultsRow *pos = find_metric(s, ft->baseline, "ft_pos", "knn", "top1");
        const ResultsRow *neg = find_metric(s, ft->baseline, "ft_neg", "knn", "top1");
        str_printf(b, "- %s + FT: ", ft->baseline);
        say_delta(b, ft);
        if (pos && neg) {
            str_printf(b, ". Its positive extrapolation alone (ft_pos): ");
            say_delta(b, pos);
            str_printf(b, "; its negative interpolation alone (ft_neg): ");
            say_delta(b, neg);
            const int vp = verdict(pos), vn = verdict(neg);
            str_printf(b, ". %s",
                       vp < 0 && vn < 0  ? "Both halves cost accuracy here"
                       : vp < 0          ? "The cost comes from the positive extrapolation"
                       : vn < 0          ? "The cost comes from the negative interpolation"
                       : verdict(ft) < 0 ? "Neither half alone costs accuracy; together they do"
                                         : "Neither half costs accuracy");
        }
        str_printf(b, ".\n");
    }
    /* 2. does the collapse explain it: collapse length against Δ over the arms (references at 0) */
    double x[RESULTS_MAX_SEEDS], y[RESULTS_MAX_SEEDS];
    int n = 0;
    for (int i = 0; i < s->n && n < RESULTS_MAX_SEEDS - 1; i++) {
        const ResultsRow *r = &s->rows[i];
        if (!is_ft_arm(r) || isnan(r->delta)) continue;
        const double it = collapse_iters(s, r->baseline, r->variant);
        const double it0 = collapse_iters(s, r->baseline, r->reference);
        if (isnan(it) || isnan(it0)) continue;
        x[n] = it - it0, y[n++] = r->delta;
    }
    if (n >= 3) {
        double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
        for (int k = 0; k < n; k++)
            mx += x[k] / n, my += y[k] / n;
        for (int k = 0; k < n; k++)
            sxy += (x[k] - mx) * (y[k] - my), sxx += (x[k] - mx) * (x[k] - mx),
                syy += (y[k] - my) * (y[k] - my);
        const double rho = sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
        str_printf(b,
                   "- The collapse: over the %d FT arms, the extra iterations the encoder's "
                   "negative scores take to come back below %g (arm − reference) and the kNN Δ "
                   "correlate at r = %.2f: %s.\n",
                   n, RESULTS_COLLAPSE_BELOW, rho,
                   isnan(rho)    ? "undefined (no spread)"
                   : rho <= -0.5 ? "the longer the collapse, the larger the loss"
                   : rho >= 0.5  ? "a longer collapse goes with a smaller loss"
                                 : "the collapse's length does not track the loss");
    } else {
        str_printf(b,
                   "- The collapse: %d FT arm%s with collapse statistics, too few to relate its "
                   "length to the loss (the table above lists each).\n",
                   n, n == 1 ? "" : "s");
    }
    /* 3. what recovers the baseline's accuracy: the arms below their reference and the others,
     * each with its collapse, so "does avoiding the collapse recover it" reads off one line */
    int eligible = 0;
    for (int i = 0; i < s->n; i++)
        eligible += is_ft_arm(&s->rows[i]) && s->rows[i].n_paired >= 2;
    if (!eligible)
        str_printf(b, "- Too few paired seeds (fewer than 2) to tell which FT arms are below their "
                      "reference.\n");
    for (int below = 1; eligible && below >= 0; below--) {
        str_printf(b, "%s", below ? "- Below its reference (95% CI):" : "- Not below it:");
        int any = 0;
        for (int i = 0; i < s->n; i++) {
            const ResultsRow *r = &s->rows[i];
            if (!is_ft_arm(r) || r->n_paired < 2 || (verdict(r) < 0) != below) continue;
            const double it = collapse_iters(s, r->baseline, r->variant);
            str_printf(b, "%s %s + %s (%+.2f", any ? "," : "", r->baseline, r->variant, r->delta);
            if (!isnan(it)) str_printf(b, "; collapse %.0f iterations", it);
            str_printf(b, ")");
            any = 1;
        }
        str_printf(b, "%s.\n",
                   any     ? ""
                   : below ? " none"
                           : " none — every FT arm here costs kNN accuracy");
    }
    /* 4. the paper's claim */
    const ResultsRow *lin = find_metric(s, "moco_v2", "ft", "linear", "top1");
    if (lin && lin->reference[0] && !isnan(lin->delta)) {
        const int v = verdict(lin);
        str_printf(b, "- The paper: MoCo v2 + FT +2.1 linear top-1 (IN-1K, ResNet-50, 200 epochs). "
                      "Here: ");
        say_delta(b, lin);
        str_printf(b, " — %s.\n",
                   v > 0   ? "a gain, as the paper"
                   : v < 0 ? "a loss: the paper's gain does not reproduce at this scale"
                           : "the paper's gain is not seen at this scale");
    }
}

/* Floors: protocols that do not depend on the method, as measured on the first method's runs. */
static void md_floors(Str *b, const ResultsSummary *s)
{
    int any = 0;
    for (int i = 0; i < s->n; i++) {
        const ResultsRow *r = &s->rows[i];
        if (!is_floor(r) || strcmp(r->baseline, s->rows[0].baseline) ||
            strcmp(r->variant, s->rows[0].variant))
            continue;
        if (!any) str_printf(b, "\nFloors (encoders not pre-trained; on the runs of the first method):");
        str_printf(b, "%s %s %s %.*f", any ? ";" : "", r->protocol, r->metric, decimals(r->mean),
                   r->mean);
        if (r->n >= 2) str_printf(b, " ± %.*f", decimals(r->mean), r->std);
        any = 1;
    }
    if (any) str_printf(b, ".\n");
}

static void md_context(Str *b, const ResultsContext *c)
{
    str_printf(b, "### Preset `%s` — %s\n\n", c->preset, c->about);
    str_printf(b, "Generated by `%s` on %s. Everything between this section's markers is written by "
                  "the code; do not edit it by hand.\n\n| | |\n|---|---|\n", c->command, c->date);
    str_printf(b, "| data | %s |\n| seeds | %d per method (seeds 1..%d) |\n", c->data, c->n_seeds,
               c->n_seeds);
    str_printf(b, "| runs | %d (%d already complete and skipped, %d failed) |\n", c->n_runs,
               c->n_skipped, c->n_failed);
    str_printf(b, "| machine | %s |\n| commit | %s |\n", c->machine, c->commit);
    str_printf(b, "| wall time | %.0f s for this invocation", c->wall_s);
    if (c->compute_s >= 0) str_printf(b, "; pre-training %.0f s summed over runs", c->compute_s);
    str_printf(b, " |\n| raw summary | [%s](%s) |\n\n", c->summary_path, c->summary_path);
}

char *results_md_section(const ResultsSummary *s, const ResultsContext *ctx)
{
    Str b = {0};
    str_printf(&b, "<!-- clft:begin preset=%s -->\n", ctx->preset);
    md_context(&b, ctx);
    if (s->n == 0) str_printf(&b, "No evaluation results yet.\n");
    else {
        md_means(&b, s);
        md_deltas(&b, s);
        md_floors(&b, s);
        md_collapse(&b, s);
        md_ft_help(&b, s);
    }
    if (ctx->figures[0]) {
        str_printf(&b, "\nFigures:");
        for (int i = 0; i < 16 && ctx->figures[i]; i++) {
            const char *base = strrchr(ctx->figures[i], '/');
            str_printf(&b, "%s [%s](%s)", i ? " ·" : "", base ? base + 1 : ctx->figures[i],
                       ctx->figures[i]);
        }
        str_printf(&b, "\n");
    }
    str_printf(&b, "<!-- clft:end preset=%s -->\n", ctx->preset);
    return b.s;
}

char *results_md_splice(const char *text, const char *preset, const char *section)
{
    char begin[160], end[160];
    snprintf(begin, sizeof begin, "<!-- clft:begin preset=%s -->", preset);
    snprintf(end, sizeof end, "<!-- clft:end preset=%s -->", preset);
    Str b = {0};
    const char *p = strstr(text, begin);
    if (!p) {
        size_t n = strlen(text);
        str_printf(&b, "%s%s%s%s", text, n && text[n - 1] != '\n' ? "\n" : "", n ? "\n" : "",
                   section);
        return b.s;
    }
    const char *q = strstr(p, end);
    if (!q) {
        clft_set_error("'%s' has no matching '%s'", begin, end);
        return NULL;
    }
    q += strlen(end);
    if (*q == '\n') q++;
    str_printf(&b, "%.*s%s%s", (int)(p - text), text, section, q);
    return b.s;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    Str b = {0};
    str_printf(&b, "%s", "");
    if (!f) return b.s;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) str_printf(&b, "%.*s", (int)got, chunk);
    fclose(f);
    return b.s;
}

ClftStatus results_md_replace(const char *path, const char *preset, const char *section)
{
    char *old = read_all(path);
    char *text = results_md_splice(old, preset, section);
    free(old);
    if (!text) {
        char why[512];
        snprintf(why, sizeof why, "%s", clft_last_error());
        clft_set_error("%s: %s", path, why);
        return CLFT_ERR_FORMAT;
    }
    AtomicFile af;
    ClftStatus st = atomic_open(&af, path);
    if (st == CLFT_OK) {
        fputs(text, af.fp);
        st = atomic_commit(&af);
    }
    free(text);
    return st;
}
