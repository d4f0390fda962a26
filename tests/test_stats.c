/* test_stats.c — reproduce/stats: incomplete beta, Student t CDF and quantile, mean/std/CI and
 * the paired t-test, against closed forms and published table values (SciPy's t.ppf). */
#include "tests/test_util.h"

#include "reproduce/stats.h"

#define PI 3.14159265358979323846

/* Closed-form Student t CDFs (e.g. Wikipedia "Student's t-distribution", special cases). */
static double cdf_nu1(double t)
{
    return 0.5 + atan(t) / PI;
}
static double cdf_nu2(double t)
{
    return 0.5 + t / (2.0 * sqrt(2.0 + t * t));
}
static double cdf_nu4(double t)
{
    const double u = 1.0 + t * t / 4.0;
    return 0.5 + 0.375 * t / sqrt(u) * (1.0 - t * t / (12.0 * u));
}

static void test_betai_closed_forms(void **state)
{
    (void)state;
    const double xs[] = {0.01, 0.2, 0.5, 0.77, 0.999};
    for (int i = 0; i < 5; i++) {
        const double x = xs[i];
        assert_true(fabs(stats_betai(2.5, 1.0, x) - pow(x, 2.5)) < 1e-13); /* I_x(a,1) = x^a */
        assert_true(fabs(stats_betai(1.0, 3.5, x) - (1 - pow(1 - x, 3.5))) < 1e-13); /* I_x(1,b) */
    }
    /* I_0.4(2, 3) = Σ_{j=2}^{4} C(4,j) 0.4^j 0.6^(4-j) = 0.3456 + 0.1536 + 0.0256 */
    assert_true(fabs(stats_betai(2.0, 3.0, 0.4) - 0.5248) < 1e-13);
    assert_true(stats_betai(2.0, 3.0, 0.0) == 0.0 && stats_betai(2.0, 3.0, 1.0) == 1.0);
}

static void test_t_cdf_closed_forms(void **state)
{
    (void)state;
    const double ts[] = {-30.0, -4.1, -1.0, -0.2, 0.0, 0.3, 1.7, 2.5, 9.0, 120.0};
    for (int i = 0; i < 10; i++) {
        const double t = ts[i];
        assert_true(fabs(stats_t_cdf(t, 1.0) - cdf_nu1(t)) < 1e-12);
        assert_true(fabs(stats_t_cdf(t, 2.0) - cdf_nu2(t)) < 1e-12);
        assert_true(fabs(stats_t_cdf(t, 4.0) - cdf_nu4(t)) < 1e-12);
    }
    /* Large ν approaches the normal: Φ(1.959964) = 0.975 */
    assert_true(fabs(stats_t_cdf(1.959963984540054, 1e7) - 0.975) < 1e-6);
}

/* SciPy: t.ppf(0.975, df) for df = 1, 2, 3, 4, 9, 30 (the usual two-sided 95% table). */
static void test_t_quantile_table(void **state)
{
    (void)state;
    const double df[] = {1, 2, 3, 4, 9, 30};
    const double q[] = {12.706204736174698, 4.302652729911275,  3.182446305284263,
                        2.7764451051977987, 2.2621571627409915, 2.0422724563012373};
    for (int i = 0; i < 6; i++) {
        double got = stats_t_quantile(0.975, df[i]);
        if (!(fabs(got - q[i]) < 1e-9 * q[i]))
            fail_msg("t_{0.975,%g} = %.12g, expected %.12g", df[i], got, q[i]);
        assert_true(fabs(stats_t_quantile(0.025, df[i]) + q[i]) < 1e-9 * q[i]);
    }
    /* ν = 1 is Cauchy: quantile tan(π (p - 1/2)); ν = 2: (2p - 1) / sqrt(2 p (1 - p)). */
    assert_true(fabs(stats_t_quantile(0.9, 1.0) - tan(PI * 0.4)) < 1e-10);
    assert_true(fabs(stats_t_quantile(0.7, 2.0) - 0.4 / sqrt(2 * 0.7 * 0.3)) < 1e-10);
    assert_true(stats_t_quantile(0.5, 5.0) == 0.0);
}

/* {1, 2, 3}: mean 2, std 1, ci95 = t_{0.975,2} / sqrt(3) = 4.302652729911275 / 1.7320508 */
static void test_summary_by_hand(void **state)
{
    (void)state;
    const double x[] = {1.0, 2.0, 3.0};
    StatsSummary s = stats_summarize(x, 3);
    assert_int_equal(s.n, 3);
    assert_true(fabs(s.mean - 2.0) < 1e-15);
    assert_true(fabs(s.std - 1.0) < 1e-15);
    assert_true(fabs(s.ci95 - 2.4841377118599486) < 1e-9);
    /* {0.70, 0.72, 0.71, 0.75, 0.69}: mean 0.714, Σ(x-m)² = 0.00212, std = sqrt(0.00053) */
    const double y[] = {0.70, 0.72, 0.71, 0.75, 0.69};
    assert_true(fabs(stats_mean(y, 5) - 0.714) < 1e-12);
    assert_true(fabs(stats_std(y, 5) - sqrt(0.00053)) < 1e-12);
    assert_true(fabs(stats_ci95(y, 5) - 2.7764451051977987 * sqrt(0.00053) / sqrt(5.0)) < 1e-9);
}

/* n = 1: std, ci95 and p are NaN and are written "nan". */
static void test_single_seed_is_nan(void **state)
{
    (void)state;
    const double x[] = {0.8}, y[] = {0.7};
    StatsSummary s = stats_summarize(x, 1);
    assert_true(s.mean == 0.8 && isnan(s.std) && isnan(s.ci95));
    assert_true(isnan(stats_paired_t_pvalue(x, y, 1)));
    char buf[32];
    assert_string_equal(stats_format(buf, sizeof buf, s.std), "nan");
    assert_string_equal(stats_format(buf, sizeof buf, 0.8125), "0.8125");
}

/* Paired test, p-values by hand with the closed-form CDFs:
 *   d = a - b = {1, 2, 3}: mean 2, sd 1, t = 2 / (1/√3) = 2√3, t² = 12, ν = 2:
 *       p = 1 - |t| / sqrt(2 + t²) = 1 - sqrt(12/14) = 0.0741799002274...
 *   d = {1, 2, 3, 4, 5}: mean 3, sd √2.5, t = 3 / (√2.5/√5) = 3√2, t² = 18, ν = 4:
 *       p = 2 (1 - F4(3√2)) with F4 the ν = 4 closed form, = 0.01324...
 *   scipy.stats.ttest_rel gives the same two numbers. */
static void test_paired_pvalue_by_hand(void **state)
{
    (void)state;
    const double a3[] = {11.0, 12.5, 10.0}, b3[] = {10.0, 10.5, 7.0};
    const double p3 = 1.0 - sqrt(12.0 / 14.0);
    assert_true(fabs(stats_paired_t_pvalue(a3, b3, 3) - p3) < 1e-12);
    assert_true(fabs(p3 - 0.0741799002274) < 1e-12);
    assert_true(fabs(stats_paired_t_pvalue(b3, a3, 3) - p3) < 1e-12); /* two-sided: symmetric */
    const double a5[] = {2, 4, 6, 8, 10}, b5[] = {1, 2, 3, 4, 5};
    const double p5 = 2.0 * (1.0 - cdf_nu4(3.0 * sqrt(2.0)));
    assert_true(fabs(stats_paired_t_pvalue(a5, b5, 5) - p5) < 1e-12);
    assert_true(fabs(p5 - 0.013236) < 1e-6);
    /* identical differences: non-zero → p = 0; all zero → NaN (as SciPy) */
    const double c3[] = {11.0, 11.5, 8.0}; /* b3 + 1 exactly */
    assert_true(stats_paired_t_pvalue(c3, b3, 3) == 0.0);
    assert_true(isnan(stats_paired_t_pvalue(a3, a3, 3)));
    /* the summary row: delta 2, std 1, ci95 = t_{0.975,2} / √3, p as above */
    StatsPaired sp = stats_paired(a3, b3, 3);
    assert_true(sp.n == 3 && fabs(sp.delta - 2.0) < 1e-15 && fabs(sp.delta_std - 1.0) < 1e-15);
    assert_true(fabs(sp.delta_ci95 - 2.4841377118599486) < 1e-9 && fabs(sp.p_value - p3) < 1e-12);
    sp = stats_paired(a3, b3, 1);
    assert_true(sp.delta == 1.0 && isnan(sp.delta_std) && isnan(sp.delta_ci95) &&
                isnan(sp.p_value));
}

/* Holm by hand: p = {0.01, 0.04, 0.03, 0.005, NaN}: m = 4 finite; sorted 0.005, 0.01, 0.03, 0.04
 * times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 → running max 0.02, 0.03, 0.06, 0.06 (the last is
 * raised to keep the order, as Holm's procedure rejects in sequence). */
static void test_holm_by_hand(void **state)
{
    (void)state;
    const double p[] = {0.01, 0.04, 0.03, 0.005, NAN};
    const double want[] = {0.03, 0.06, 0.06, 0.02};
    double adj[5];
    stats_holm(p, 5, adj);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(adj[i] - want[i]) < 1e-15);
    assert_true(isnan(adj[4]));
    /* {0.9, 0.3}: 0.3 · 2 = 0.6, then 0.9 · 1; {0.6, 0.7}: 0.6 · 2 capped at 1, and 0.7 raised to
     * it; one test is its own adjustment; an empty family writes nothing */
    const double q[] = {0.9, 0.3}, r[] = {0.6, 0.7};
    stats_holm(q, 2, adj);
    assert_true(fabs(adj[0] - 0.9) < 1e-15 && fabs(adj[1] - 0.6) < 1e-15);
    stats_holm(r, 2, adj);
    assert_true(adj[0] == 1.0 && adj[1] == 1.0);
    stats_holm(q, 1, adj);
    assert_true(adj[0] == 0.9);
    stats_holm(q, 0, adj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_betai_closed_forms), cmocka_unit_test(test_t_cdf_closed_forms),
        cmocka_unit_test(test_t_quantile_table),   cmocka_unit_test(test_summary_by_hand),
        cmocka_unit_test(test_single_seed_is_nan), cmocka_unit_test(test_paired_pvalue_by_hand),
        cmocka_unit_test(test_holm_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
