# score_hist.gp — the score distributions of one run at a few epochs, overlaid (PAPER.md §3):
# probability density of the positive scores q·k+ (left) and the negative scores q·k− (right),
# one line per epoch from light (early) to dark (late); dashed: before the feature transformation.
# Inputs (gnuplot -e): data, out, fmt, plotdir, run.
#   data/vars.gp: runname[i], pre_hist[i], nsel[i], sel[i] (the epochs, space separated), pos_lo...
#   data/hsel_<run>_<kind>_<j>.dat: score density (step outline of the histogram)
load data.'/vars.gp'
w_in = 7.0
h_in = 2.7
load plotdir.'/style.gp'
s(kind, j) = data.'/hsel_'.run.'_'.kind.'_'.j.'.dat'
n = nsel[run]
# Early epochs light, late epochs dark, one hue ramp.
set palette defined (0 "#fdae6b", 0.5 "#d94801", 1 "#3f007d")
ecol(j) = n > 1 ? (j - 1.0) / (n - 1.0) : 1.0

set multiplot
unset colorbox
set label 1 runname[run].': score distributions over training' at screen 0.5, 0.965 center
set ylabel 'probability density'
set style fill transparent solid 0.10 noborder

eval panel(0.10, 0.48, 0.20, 0.78)
set xlabel 'positive score q·k+'
set xrange [pos_lo[run] : pos_hi[run]]
set xtics ticstep(pos_lo[run], pos_hi[run], 5)
plot for [j=1:n] s('pos', j) u 1:2 w l lw 1.2 lc palette frac ecol(j), \
     for [j=1:n] s('pre_pos', j) u 1:(pre_hist[run] ? $2 : NaN) w l lw 0.8 dt 2 lc palette frac ecol(j)

eval panel(0.58, 0.97, 0.20, 0.78)
set xlabel 'negative score q·k−'
unset ylabel
unset label 1
set xrange [neg_lo[run] : neg_hi[run]]
set xtics ticstep(neg_lo[run], neg_hi[run], 5)
plot for [j=1:n] s('neg', j) u 1:2 w l lw 1.2 lc palette frac ecol(j), \
     for [j=1:n] s('pre_neg', j) u 1:(pre_hist[run] ? $2 : NaN) w l lw 0.8 dt 2 lc palette frac ecol(j)

eval panel(0.0, 1.0, 0.81, 0.92)
eval keystrip
set key maxrows 1
plot for [j=1:n] NaN w l lw 1.2 lc palette frac ecol(j) title 'epoch '.word(sel[run], j), \
     NaN w l lw 0.8 dt 2 lc rgb "#555555" title (pre_hist[run] ? 'before FT' : '')
unset multiplot
unset colorbox
set label 1 runname[run].': score distributions over training' at screen 0.5, 0.965 center
