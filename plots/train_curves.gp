# train_curves.gp — training curves against the epoch, every run overlaid: InfoNCE loss, instance
# discrimination accuracy (the positive key ranked first among the 1 + K logits), learning rate and
# the kNN monitor's top-1 on the test split.
# Inputs (gnuplot -e): data, out, fmt, plotdir.
#   data/vars.gp: nruns, label[i], color[i], nknn[i], any_knn
#   data/train_<i>.dat: epochs_completed loss inst_acc_percent lr
#   data/knn_<i>.dat:   epochs_completed knn_top1_percent
load data.'/vars.gp'
w_in = 7.0
# 4.03 in plus 0.17 in per legend row (one per run, as keyrows() in style.gp): 4.37 in for two runs
h_in = 4.03 + nruns * 0.17
load plotdir.'/style.gp'
rows = keyrows(nruns)
# rows of panels, in inches from the bottom: [0.55, 1.8] and [2.52, top]
t2 = h_in - 0.25 - rows * keyrow_in
f(i) = data.'/train_'.i.'.dat'
g(i) = data.'/knn_'.i.'.dat'

set multiplot
set xlabel 'epoch'
rlo = 0; rhi = -1e300
do for [i=1:nruns] { eval colrange(f(i), 1) }
set xrange [0:rhi]
set xtics ticstep(0, rhi, 5)

eval panel(0.115, 0.47, 2.52 / h_in, t2 / h_in)
set ylabel 'InfoNCE loss'
plot for [i=1:nruns] f(i) u 1:2 w l lc rgb color[i] lw 1.2

eval panel(0.60, 0.97, 2.52 / h_in, t2 / h_in)
set ylabel 'instance accuracy (%)'
plot for [i=1:nruns] f(i) u 1:3 w l lc rgb color[i] lw 1.2

eval panel(0.115, 0.47, 0.55 / h_in, 1.8 / h_in)
set ylabel 'learning rate'
set format y '%g'
plot for [i=1:nruns] f(i) u 1:4 w l lc rgb color[i] lw 1.2

eval panel(0.60, 0.97, 0.55 / h_in, 1.8 / h_in)
set ylabel 'kNN top-1 (%)'
if (!any_knn) { set label 1 'no kNN monitor rows in eval.csv' at graph 0.5, 0.5 center; set yrange [0:100] }
plot for [i=1:nruns] g(i) u 1:(nknn[i] ? $2 : NaN) w lp lc rgb color[i] lw 1.2 pt 7 ps 0.5
unset label 1

eval panel(0.0, 1.0, 1 - (0.08 + rows * keyrow_in) / h_in, 1.0)
eval keystrip
set key maxcols keycols(nruns) maxrows rows
plot for [i=1:nruns] NaN w l lc rgb color[i] lw 1.2 title label[i]
unset multiplot
