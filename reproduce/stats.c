/* stats.c — mean, std, Student-t CI and paired t-test (definitions and references in stats.h). */
#include "reproduce/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/common.h"

/* Continued-fraction convergence: relative change of one term below STATS_EPS, at most
 * STATS_MAXIT terms (converges in O(sqrt(max(a, b))) terms where it is used, NR §6.4). */
#define STATS_EPS 1e-15
#define STATS_MAXIT 10000
#define STATS_FPMIN 1e-300

double stats_mean(const double *x, int n)
{
    if (n <= 0) return NAN;
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += x[i];
    return s / n;
}

double stats_std(const double *x, int n)
{
    if (n < 2) return NAN;
    const double m = stats_mean(x, n);
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (n - 1));
}

double stats_ci95(const double *x, int n)
{
    if (n < 2) return NAN;
    return stats_t_quantile(0.975, n - 1) * stats_std(x, n) / sqrt((double)n);
}

StatsSummary stats_summarize(const double *x, int n)
{
    return (StatsSummary){
        .n = n, .mean = stats_mean(x, n), .std = stats_std(x, n), .ci95 = stats_ci95(x, n)};
}

/* The continued fraction of I_x(a, b) (NR betacf), by the modified Lentz method. */
static double betacf(double a, double b, double x)
{
    const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < STATS_FPMIN) d = STATS_FPMIN;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= STATS_MAXIT; m++) {
        const int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2)); /* even step d_{2m} */
        d = 1.0 + aa * d;
        if (fabs(d) < STATS_FPMIN) d = STATS_FPMIN;
        c = 1.0 + aa / c;
        if (fabs(c) < STATS_FPMIN) c = STATS_FPMIN;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)); /* odd step d_{2m+1} */
        d = 1.0 + aa * d;
        if (fabs(d) < STATS_FPMIN) d = STATS_FPMIN;
        c = 1.0 + aa / c;
        if (fabs(c) < STATS_FPMIN) c = STATS_FPMIN;
        d = 1.0 / d;
        const double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < STATS_EPS) return h;
    }
    clft_die("stats: incomplete beta continued fraction did not converge (a=%g b=%g x=%g)", a, b,
             x);
}

double stats_betai(double a, double b, double x)
{
    ASSERT(a > 0.0 && b > 0.0);
    if (isnan(x)) return NAN;
    ASSERT(x >= 0.0 && x <= 1.0);
    if (x == 0.0 || x == 1.0) return x;
    /* x^a (1-x)^b / B(a, b) */
    const double bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    /* The fraction converges fast for x < (a+1)/(a+b+2); otherwise use I_x(a,b) = 1 - I_{1-x}(b,a).
     */
    if (x < (a + 1.0) / (a + b + 2.0)) return bt * betacf(a, b, x) / a;
    return 1.0 - bt * betacf(b, a, 1.0 - x) / b;
}

double stats_t_cdf(double t, double nu)
{
    ASSERT(nu > 0.0);
    if (isnan(t)) return NAN;
    if (isinf(t)) return t > 0 ? 1.0 : 0.0;
    /* P(T <= -|t|) = I_{ν/(ν+t²)}(ν/2, 1/2) / 2 */
    const double tail = 0.5 * stats_betai(0.5 * nu, 0.5, nu / (nu + t * t));
    return t > 0 ? 1.0 - tail : tail;
}

double stats_t_quantile(double p, double nu)
{
    ASSERT(nu > 0.0);
    ASSERT(p > 0.0 && p < 1.0);
    if (p == 0.5) return 0.0;
    if (p < 0.5) return -stats_t_quantile(1.0 - p, nu);
    double lo = 0.0, hi = 1.0;
    while (stats_t_cdf(hi, nu) < p) {
        lo = hi;
        hi *= 2.0;
        ASSERT(hi < 1e300);
    }
    for (int it = 0; it < 400 && hi - lo > 1e-13 * hi; it++) {
        const double mid = 0.5 * (lo + hi);
        if (stats_t_cdf(mid, nu) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

double stats_paired_t_pvalue(const double *a, const double *b, int n)
{
    if (n < 2) return NAN;
    double md = 0.0, ss = 0.0;
    for (int i = 0; i < n; i++)
        md += a[i] - b[i];
    md /= n;
    for (int i = 0; i < n; i++)
        ss += (a[i] - b[i] - md) * (a[i] - b[i] - md);
    const double sd = sqrt(ss / (n - 1));
    if (sd == 0.0) return md == 0.0 ? NAN : 0.0;
    const double t = md / (sd / sqrt((double)n)), nu = n - 1.0;
    return stats_betai(0.5 * nu, 0.5, nu / (nu + t * t));
}

StatsPaired stats_paired(const double *a, const double *b, int n)
{
    ASSERT(n >= 0);
    double *d = xmalloc((size_t)n * sizeof *d); /* (n) differences */
    for (int i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    StatsSummary s = stats_summarize(d, n);
    free(d);
    return (StatsPaired){.n = n,
                         .delta = s.mean,
                         .delta_std = s.std,
                         .delta_ci95 = s.ci95,
                         .p_value = stats_paired_t_pvalue(a, b, n)};
}

void stats_holm(const double *p, int n, double *adj)
{
    ASSERT(n >= 0);
    int *order = xmalloc((size_t)(n ? n : 1) * sizeof *order); /* (m) finite p by index, sorted */
    int m = 0;
    for (int i = 0; i < n; i++) {
        adj[i] = NAN;
        if (isnan(p[i])) continue;
        int j = m++; /* insertion sort, stable: n is a study's arm count */
        while (j > 0 && p[order[j - 1]] > p[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    double running = 0.0;
    for (int k = 0; k < m; k++) {
        double a = (double)(m - k) * p[order[k]];
        if (a > 1.0) a = 1.0;
        if (a > running) running = a;
        adj[order[k]] = running;
    }
    free(order);
}

char *stats_format(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "nan");
    else
        snprintf(buf, cap, "%.6g", v);
    return buf;
}
