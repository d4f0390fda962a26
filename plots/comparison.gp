# comparison.gp — the results table as a chart: for each protocol (and dataset/metric when they
# vary), every method's mean over seeds with its 95% confidence interval, each baseline beside
# its +FT run, in the same colours as the run figures.
# Inputs (gnuplot -e): data, out, fmt, plotdir.
#   data/cmp_vars.gp: nmethods, ngroups, mlabel[m], mcolor[m], glabel[g], ylab, cmp_title
#   data/cmp_<m>.dat: x mean ci95
load data.'/cmp_vars.gp'
w_in = nmethods * ngroups > 8 ? 7.0 : 3.5
h_in = 2.6
load plotdir.'/style.gp'
c(m) = data.'/cmp_'.m.'.dat'

set multiplot
rlo = 1e300; rhi = -1e300
do for [m=1:nmethods] {
    stats c(m) u ($2 - $3) nooutput; rlo = STATS_min < rlo ? STATS_min : rlo
    stats c(m) u ($2 + $3) nooutput; rhi = STATS_max > rhi ? STATS_max : rhi
}
# Accuracies live in [0, 100]: a wide interval (2 seeds: t = 12.7) must not stretch the axis past.
rlo = rlo < 0 ? 0 : rlo; rhi = rhi > 100 ? 100 : rhi
step = ticstep(rlo, rhi, 4)
set yrange [floor(rlo / step) * step : ceil(rhi / step) * step]
set ytics step
set xrange [0.5 : ngroups + 0.5]
set xtics () scale 0
do for [g=1:ngroups] { set xtics add (glabel[g] g) }
set grid noxtics ytics
do for [g=1:ngroups-1] { set arrow g from g + 0.5, graph 0 to g + 0.5, graph 1 nohead lc rgb "#cccccc" lw 0.6 }
set ylabel ylab
set title cmp_title
lm = w_in > 5 ? 0.085 : 0.19  # room for the y label at 3.5 in (looked at: it was clipped)
eval panel(lm, 0.98, 0.16, 0.72)
plot for [m=1:nmethods] c(m) u 1:2:3 w yerrorbars lc rgb mcolor[m] lw 1.2 pt 7 ps 0.5

eval panel(0.0, 1.0, 0.80, 1.0)
eval keystrip
set key maxrows (nmethods > 2 ? 2 : 1)
plot for [m=1:nmethods] NaN w p lc rgb mcolor[m] pt 7 ps 0.6 title mlabel[m]
unset multiplot
