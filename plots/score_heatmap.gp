# score_heatmap.gp — how the score distributions move over training (PAPER.md §3): for one run,
# the histogram of positive scores q·k+ and of negative scores q·k− at every epoch as a heat map
# (epoch × score, each epoch's column scaled to its own peak). A second row shows the scores
# before the feature transformation when the variant recorded them.
# Inputs (gnuplot -e): data, out, fmt, plotdir, run (the run's index in vars.gp).
#   data/vars.gp: runname[i], pre_hist[i], pos_lo/pos_hi/neg_lo/neg_hi[i], ep_lo/ep_hi[i]
#   data/heat_<run>_<pos|neg|pre_pos|pre_neg>.dat: x y xlo xhi ylo yhi density_over_epoch_peak
load data.'/vars.gp'
rows = pre_hist[run] ? 2 : 1
w_in = 7.0
h_in = rows == 2 ? 4.4 : 2.4
load plotdir.'/style.gp'
h(kind) = data.'/heat_'.run.'_'.kind.'.dat'

set multiplot
set xrange [ep_lo[run] - 0.5 : ep_hi[run] + 0.5]
set xtics ticstep(ep_lo[run], ep_hi[run], 5)
set xtics add (sprintf('%g', ep_lo[run]) ep_lo[run])
set cbrange [0:1]
set cbtics 0.5
set colorbox user size 0.012, (rows == 2 ? 0.29 : 0.61)
set grid noxtics noytics
set xlabel 'epoch'
set tics front

top = rows == 2 ? 0.86 : 0.78  # room for the figure title above the first row's titles
bot = rows == 2 ? 0.60 : 0.21
do for [r=1:rows] {
    pre = (r == 2)
    b = r == 1 ? bot : 0.12
    t = r == 1 ? top : 0.40
    set colorbox origin 0.425, b
    eval panel(0.10, 0.41, b, t)
    set yrange [pos_lo[run] : pos_hi[run]]
    set ytics ticstep(pos_lo[run], pos_hi[run], 4)
    set ylabel 'positive score q·k+'
    set title (pre ? 'positives, before FT' : rows == 2 ? 'positives, after FT' : 'positives')
    set cblabel ''
    plot h(pre ? 'pre_pos' : 'pos') u 1:2:3:4:5:6:7 w boxxyerror fs solid 1.0 noborder lc palette
    set colorbox origin 0.935, b
    eval panel(0.60, 0.92, b, t)
    set yrange [neg_lo[run] : neg_hi[run]]
    set ytics ticstep(neg_lo[run], neg_hi[run], 4)
    set ylabel 'negative score q·k−'
    set title (pre ? 'negatives, before FT' : rows == 2 ? 'negatives, after FT' : 'negatives')
    plot h(pre ? 'pre_neg' : 'neg') u 1:2:3:4:5:6:7 w boxxyerror fs solid 1.0 noborder lc palette
}
set label 1 runname[run].' — density, each epoch scaled to its peak' at screen 0.5, 0.975 center
eval panel(0.0, 1.0, 0.99, 1.0)
eval keystrip
plot NaN
unset multiplot
