/* stats.h — the statistics of results/summary.csv (issue 8): mean, sample std, 95% confidence
 * interval with Student's t, and the two-sided paired t-test of FT − baseline over seeds.
 *
 * Definitions (n values x_i; for the paired test d_i = a_i − b_i, paired by seed):
 *   mean = Σ x_i / n;  std = sqrt(Σ (x_i − mean)² / (n − 1))  (sample std, as numpy ddof=1);
 *   ci95 = t_{0.975, n−1} · std / sqrt(n)  — the half-width: the interval is mean ± ci95;
 *   paired t = mean(d) / (std(d) / sqrt(n)), ν = n − 1, p = P(|T_ν| ≥ |t|) = I_{ν/(ν+t²)}(ν/2, 1/2)
 *   (scipy.stats.ttest_rel(a, b)).
 * The t CDF uses the regularized incomplete beta function I_x(a, b), evaluated by its continued
 * fraction with the modified Lentz method (Numerical Recipes in C, 2nd ed., §6.4); the quantile
 * inverts the CDF by bisection to ~1e-12 relative.
 *
 * Undefined values are NaN, and stats_format() writes NaN as "nan" (what Python's float() and
 * pandas read back): std and ci95 with n < 2; the p-value with n < 2, and also when every
 * difference is identical and zero (0/0, as SciPy). Identical non-zero differences give t = ±inf,
 * p = 0 (as SciPy). The mean of n = 0 values is NaN.
 */
#ifndef CLFT_REPRODUCE_STATS_H
#define CLFT_REPRODUCE_STATS_H

#include <stddef.h>

typedef struct {
    int n;
    double mean;
    double std;  /* sample std, NaN when n < 2 */
    double ci95; /* half-width of the 95% t interval, NaN when n < 2 */
} StatsSummary;

double stats_mean(const double *x, int n);
double stats_std(const double *x, int n);
double stats_ci95(const double *x, int n);
StatsSummary stats_summarize(const double *x, int n);

/* Regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1]. */
double stats_betai(double a, double b, double x);
/* Student t with nu > 0 degrees of freedom: CDF and quantile (p in (0, 1)). */
double stats_t_cdf(double t, double nu);
double stats_t_quantile(double p, double nu);
/* Two-sided p-value of the paired t-test of a (n) against b (n). */
double stats_paired_t_pvalue(const double *a, const double *b, int n);

/* The paired comparison of a (n) against b (n) by seed, as results/summary.csv and RESULTS.md
 * report it: the mean difference a − b, the std and 95% CI half-width of the differences, and the
 * two-sided paired t-test p-value (all NaN-by-the-rules above for n < 2). */
typedef struct {
    int n;
    double delta;      /* mean(a − b) */
    double delta_std;  /* sample std of a − b */
    double delta_ci95; /* half-width of the 95% t interval of the mean difference */
    double p_value;    /* two-sided paired t-test */
} StatsPaired;
StatsPaired stats_paired(const double *a, const double *b, int n);

/* Holm's step-down adjustment of the m finite p-values among p (n) for testing them as one family
 * (NaN entries are not tests: they stay NaN and do not count in m). With the finite ones sorted
 * p(1) <= ... <= p(m), adj(i) = max over j <= i of min(1, (m − j + 1) · p(j)); ties keep their
 * input order. Controls the family-wise error rate at any alpha (Holm 1979). */
void stats_holm(const double *p, int n, double *adj);

/* Writes v as "%.6g", or "nan" for NaN, into buf (cap bytes); returns buf. */
char *stats_format(char *buf, size_t cap, double v);

#endif
