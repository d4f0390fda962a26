/* dist_common.c — what every build of the dist layer shares (see dist.h). */
#include "core/dist/dist.h"

void dist_combine_moments(const double *mean, const double *var, int R, long n, double *mean_out,
                          double *var_out)
{
    double m = 0;
    for (int r = 0; r < R; r++) m += mean[r];
    m /= R;
    double ss = 0; /* Σ over all R·n values of (x − m)² */
    for (int r = 0; r < R; r++) {
        const double dm = mean[r] - m;
        ss += (double)(n - 1) * var[r] + (double)n * dm * dm;
    }
    *mean_out = m;
    *var_out = (long)R * n > 1 ? ss / ((double)R * n - 1) : 0.0;
}
