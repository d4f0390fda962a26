/* nn_fd.c — see nn_fd.h. */
#include "tests/nn_fd.h"

void fill_normal(Rng *r, float *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * rng_normal(r));
}

float *alloc_normal(Rng *r, size_t n, double scale)
{
    float *x = xmalloc(sizeof(float) * (n ? n : 1));
    fill_normal(r, x, n, scale);
    return x;
}

float *alloc_fill(size_t n, float v)
{
    float *x = xmalloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        x[i] = v;
    return x;
}

double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* ---- the finite-difference driver ---- */

uint64_t hash_mask(uint64_t h, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint64_t)(x[i] > 0.0f)) * 1099511628211ull + i;
    return h;
}

/* Compares grad - GRAD_PREFILL with central differences of L (step eps) in every element of param.
 * When one side crosses a kink the one-sided difference of the other side is used (truncation error
 * O(eps) instead of O(eps²)); when both do, the point is skipped. */
void fd_check_eps(const char *what, FdModel *m, float *param, const float *grad, size_t n,
                  float eps, double tol)
{
    float *fd = xmalloc(sizeof(float) * n), *an = xmalloc(sizeof(float) * n);
    const double l0 = m->forward(m->ctx);
    const uint64_t base = m->kinks ? m->kinks(m->ctx) : 0;
    size_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        an[i] = grad[i] - GRAD_PREFILL;
        const float p0 = param[i], hp = p0 + eps, hm = p0 - eps;
        param[i] = hp;
        double lp = m->forward(m->ctx);
        int ok_p = !m->kinks || m->kinks(m->ctx) == base;
        param[i] = hm;
        double lm = m->forward(m->ctx);
        int ok_m = !m->kinks || m->kinks(m->ctx) == base;
        param[i] = p0;
        if (ok_p && ok_m) {
            fd[i] = (float)((lp - lm) / ((double)hp - hm));
        } else if (ok_p) {
            fd[i] = (float)((lp - l0) / ((double)hp - p0));
        } else if (ok_m) {
            fd[i] = (float)((l0 - lm) / ((double)p0 - hm));
        } else { /* both sides cross a kink: no derivative to compare with */
            fd[i] = an[i];
            skipped++;
        }
    }
    m->forward(m->ctx); /* leave the model's buffers as they were */
    double e = rel_err(an, fd, n, 1e-3);
    if (getenv("CLFT_TEST_VERBOSE"))
        printf("  %-32s n=%4zu FD rel err %.2e, skipped %zu\n", what, n, e, skipped);
    if (!(e <= tol)) fail_msg("%s: FD relative error %.3g > %.3g", what, e, tol);
    if (skipped > FD_MAX_SKIP * n + 1)
        fail_msg("%s: %zu of %zu FD points crossed a kink on both sides", what, skipped, n);
    free(fd);
    free(an);
}

void fd_check(const char *what, FdModel *m, float *param, const float *grad, size_t n)
{
    fd_check_eps(what, m, param, grad, n, FD_EPS, FD_TOL_LAYER);
}

const float *gold(const StFile *f, const char *layer, const char *key, size_t n)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", layer, key);
    return fixture_f32(f, name, n);
}

int nn_run_groups(const char *name, const struct CMUnitTest *tests, size_t n, const Backend **be,
                  const Backend **ref)
{
    static const char *const nchw[] = {"cpu-im2col", "cpu-ref"};
    int failed = 0;
    *ref = backend_find("cpu-ref");
    for (int i = 0; i < 2; i++) {
        char group[96];
        snprintf(group, sizeof group, "%s on %s", name, nchw[i]);
        *be = backend_find(nchw[i]);
        failed += _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    }
    return failed;
}
