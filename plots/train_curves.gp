# train_curves.gp — training curves against the epoch, every run overlaid: InfoNCE loss, instance
# discrimination accuracy (the positive key ranked first among the 1 + K logits), learning rate and
# the kNN monitor's top-1 on the test split.
# Inputs (gnuplot -e): data, out, fmt, plotdir.
#   data/vars.gp: nruns, label[i], color[i], nknn[i], any_knn
#   data/train_<i>.dat: epochs_completed loss inst_acc_percent lr
#   data/knn_<i>.dat:   epochs_completed knn_top1_percent
w_in = 7.0
h_in = 4.2
load plotdir.'/style.gp'
load data.'/vars.gp'
f(i) = data.'/train_'.i.'.dat'
g(i) = data.'/knn_'.i.'.dat'

set multiplot
set xlabel 'epoch'
rlo = 0; rhi = -1e300
do for [i=1:nruns] { eval colrange(f(i), 1) }
set xrange [0:rhi]
set xtics ticstep(0, rhi, 5)

eval panel(0.115, 0.47, 0.60, 0.90)
set ylabel 'InfoNCE loss'
plot for [i=1:nruns] f(i) u 1:2 w l lc rgb color[i] lw 1.2

eval panel(0.60, 0.97, 0.60, 0.90)
set ylabel 'instance accuracy (%)'
plot for [i=1:nruns] f(i) u 1:3 w l lc rgb color[i] lw 1.2

eval panel(0.115, 0.47, 0.13, 0.43)
set ylabel 'learning rate'
set format y '%g'
plot for [i=1:nruns] f(i) u 1:4 w l lc rgb color[i] lw 1.2

eval panel(0.60, 0.97, 0.13, 0.43)
set ylabel 'kNN top-1 (%)'
if (!any_knn) { set label 1 'no kNN monitor rows in eval.csv' at graph 0.5, 0.5 center; set yrange [0:100] }
plot for [i=1:nruns] g(i) u 1:(nknn[i] ? $2 : NaN) w lp lc rgb color[i] lw 1.2 pt 7 ps 0.5
unset label 1

eval panel(0.0, 1.0, 0.94, 1.0)
eval keystrip
set key maxrows keyrows(nruns)
plot for [i=1:nruns] NaN w l lc rgb color[i] lw 1.2 title label[i]
unset multiplot
