# forest.gp — each compared method's top-1 difference to its reference (mean over seeds of the
# paired differences, with its 95% CI), kNN and linear probe side by side; a solid line at 0 (no
# difference) and, when an FT arm is drawn (show_paper), a dashed one at the paper's gain (MoCo v2 +
# FT, IN-1K linear top-1, +2.1).
# Inputs (gnuplot -e): data, out, fmt, plotdir.
#   data/forest_vars.gp: narms, alabel[a], acolor[a], xlo, xhi, paper_gain, show_paper
#   data/forest_{knn,linear}.dat: y delta ci95 (method a at y = narms - a + 1: the first on top)
load data.'/forest_vars.gp'
w_in = 7.0
h_in = 1.3 + 0.22 * narms
load plotdir.'/style.gp'
f(p) = data.'/forest_'.p.'.dat'

span = xhi - xlo
xl = xlo - 0.06 * span; xr = xhi + 0.06 * span
step = ticstep(xl, xr, 5)
set xrange [floor(xl / step) * step : ceil(xr / step) * step]
set xtics step
set yrange [0.4 : narms + 0.6]
set grid xtics noytics
set arrow 1 from 0, graph 0 to 0, graph 1 nohead back lc rgb "#444444" lw 0.8
if (show_paper) set arrow 2 from paper_gain, graph 0 to paper_gain, graph 1 nohead back lc rgb "#b2182b" lw 0.8 dt 2
set xlabel "Δ top-1 vs baseline (points)"
bm = 0.56 / h_in; tm = 1.0 - 0.5 / h_in

set multiplot
caption = "bar: 95% CI of the mean paired Δ over seeds".(show_paper ? "; dashed: the paper's +2.1 (MoCo v2 + FT, IN-1K linear)" : "")
set label 1 caption at screen 0.5, screen 1.0 - 0.12 / h_in center front
set ytics () scale 0
do for [a=1:narms] { set ytics add (alabel[a] narms - a + 1) }
set title "kNN"
eval panel(0.24, 0.59, bm, tm)
plot for [a=1:narms] f('knn') u 2:($1 == narms - a + 1 ? $1 : NaN):3 w xerrorbars \
     lc rgb acolor[a] lw 1.2 pt 7 ps 0.5

set ytics () scale 0
do for [a=1:narms] { set ytics add ("" narms - a + 1) }
set title "linear probe"
unset label 1
eval panel(0.66, 0.98, bm, tm)
plot for [a=1:narms] f('linear') u 2:($1 == narms - a + 1 ? $1 : NaN):3 w xerrorbars \
     lc rgb acolor[a] lw 1.2 pt 7 ps 0.5

unset multiplot
