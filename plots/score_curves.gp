# score_curves.gp — the paper's motivating figure (PAPER.md §3): against the training iteration,
# the positive score q·k+ (mean ± 1 std band), the mean and the variance of the negative scores
# q·k−, one panel each, every run overlaid. Dashed: the same statistics before the feature
# transformation, for runs that recorded them.
# Inputs (gnuplot -e): data (directory written by clft plot), out, fmt, plotdir.
#   data/vars.gp: nruns, label[i], color[i], pre_scores[i], any_pre_scores
#   data/scores_<i>.dat: step pos_mean pos_lo pos_hi neg_mean neg_var pre_pos_mean pre_lo pre_hi
#                        pre_neg_mean pre_neg_var
load data.'/vars.gp'
w_in = 7.0
nkey = nruns + 1 + any_pre_scores
# 2.06 in plus 0.17 in per legend row (the same rows as keyrows() in style.gp, which is loaded
# after the size is known): 2.74 in for two runs with a pre-FT line
h_in = 2.06 + nkey * 0.17
load plotdir.'/style.gp'
rows = keyrows(nkey)
top = 1 - (0.04 + rows * keyrow_in) / h_in
bot = 0.5 / h_in
f(i) = data.'/scores_'.i.'.dat'

set multiplot
set xlabel 'training iteration'
set format x '%.0s%c'
rlo = 1e300; rhi = -1e300
do for [i=1:nruns] { eval colrange(f(i), 1) }
set xtics ticstep(rlo, rhi, 4)
set xrange [rlo:rhi]

# Panel 1: positive score, mean and ±1 std band.
eval panel(0.095, 0.32, bot, top)
set ylabel 'positives q·k+: mean'
rlo = 1e300; rhi = -1e300
do for [i=1:nruns] { eval colrange(f(i), 3); eval colrange(f(i), 4) }
set ytics ticstep(rlo, rhi, 4)
plot for [i=1:nruns] f(i) u 1:3:4 w filledcurves lc rgb color[i] fs transparent solid 0.18 noborder, \
     for [i=1:nruns] f(i) u 1:2 w l lc rgb color[i] lw 1.2, \
     for [i=1:nruns] f(i) u 1:(pre_scores[i] ? $7 : NaN) w l lc rgb color[i] lw 0.8 dt 2

# Panel 2: mean negative score.
eval panel(0.43, 0.655, bot, top)
set ylabel 'negatives q·k−: mean'
rlo = 1e300; rhi = -1e300
do for [i=1:nruns] { eval colrange(f(i), 5) }
set ytics ticstep(rlo, rhi, 4)
set format y '%g'
plot for [i=1:nruns] f(i) u 1:5 w l lc rgb color[i] lw 1.2, \
     for [i=1:nruns] f(i) u 1:(pre_scores[i] ? $10 : NaN) w l lc rgb color[i] lw 0.8 dt 2

# Panel 3: variance of the negative scores.
eval panel(0.755, 0.975, bot, top)
set ylabel 'negatives q·k−: variance'
rlo = 1e300; rhi = -1e300
do for [i=1:nruns] { eval colrange(f(i), 6) }
set ytics ticstep(rlo, rhi, 4)
plot for [i=1:nruns] f(i) u 1:6 w l lc rgb color[i] lw 1.2, \
     for [i=1:nruns] f(i) u 1:(pre_scores[i] ? $11 : NaN) w l lc rgb color[i] lw 0.8 dt 2

# The legend, one strip across the top.
eval panel(0.0, 1.0, 1 - rows * keyrow_in / h_in, 1.0)
eval keystrip
set key maxcols keycols(nkey) maxrows rows
plot for [i=1:nruns] NaN w l lc rgb color[i] lw 1.2 title label[i], \
     NaN w filledcurves lc rgb "#999999" fs transparent solid 0.3 noborder title '±1 std', \
     NaN w l lc rgb "#555555" lw 0.8 dt 2 title (any_pre_scores ? 'before FT' : '')
unset multiplot
