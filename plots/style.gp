# style.gp — the shared look of every clft figure (loaded by the other scripts, never run alone).
# Reads: w_in, h_in (figure size in inches, set by the calling script), fmt ('png'|'pdf'|'svg'),
# out (output file). PNG is drawn at 300 dpi with fonts and lines scaled to match, so a 7 in wide
# figure is 2100 px wide and reads like the PDF at print size.
dpi = 300.0
pt_scale = dpi / 72.0
if (fmt eq 'pdf') {
    set terminal pdfcairo size w_in*1.0 in, h_in*1.0 in font "DejaVu Sans,7" linewidth 1 noenhanced
} else {
    if (fmt eq 'svg') {
        set terminal svg size int(w_in*72), int(h_in*72) font "DejaVu Sans,7" linewidth 1 noenhanced
    } else {
        set terminal pngcairo size int(w_in*dpi+0.5), int(h_in*dpi+0.5) font "DejaVu Sans,7" \
            fontscale pt_scale linewidth pt_scale pointscale pt_scale noenhanced
    }
}
set output out
set encoding utf8

# Light grid behind the data, axes on the left and bottom only, ticks outwards.
set border 3 lw 0.8 lc rgb "#444444"
set tics nomirror out scale 0.6
set grid back lw 0.5 lc rgb "#dddddd"
set key noautotitle
set key samplen 2.5 spacing 1.1 noopaque

# Heat maps: white (nothing) through yellow and orange to dark red (the most probable score).
set palette defined (0 "#ffffff", 0.15 "#fff3b0", 0.4 "#fdb44b", 0.7 "#e34a33", 1 "#7f0000")

# panel(l, r, b, t): eval it to put the next plot's axes in that box of screen coordinates.
panel(l, r, b, t) = sprintf("set lmargin at screen %g; set rmargin at screen %g; \
set bmargin at screen %g; set tmargin at screen %g", l, r, b, t)

# ticstep(lo, hi, n): a 1-2-5 tic step that cuts [lo, hi] into about n intervals. gnuplot's own
# choice aims at many more tics than a 2 in wide panel can label.
ticstep(lo, hi, n) = (hi > lo) ? (_s = (hi - lo) / (1.0 * n), _p = 10**floor(log10(_s)), _m = _s / _p, \
    (_m < 1.5 ? 1 : _m < 3.5 ? 2 : _m < 7.5 ? 5 : 10) * _p) : 1

# colrange(file, col): eval it after setting rlo/rhi to widen [rlo, rhi] to cover that column.
colrange(file, col) = sprintf("stats '%s' u %d nooutput; rlo = STATS_min < rlo ? STATS_min : rlo; \
rhi = STATS_max > rhi ? STATS_max : rhi", file, col)

# keystrip: eval it, then plot NaN with titles, to draw one legend across the whole figure
# (in the box placed by the last panel()) instead of over any panel's data.
keystrip = "unset border; unset tics; unset xlabel; unset ylabel; unset title; unset grid; \
unset colorbox; set xrange [0:1]; set yrange [0:1]; set key center center horizontal Left reverse width 1"
# keycols(n), keyrows(n): the legend of n entries, one per row: labels like "MoCo v2 + FT, seed 1 |
# kNN top-1 81.2%" do not fit two to a row at 7 in (gnuplot then drops to one column and clips what
# the strip has no room for — seen); a script makes its figure taller by keyrow_in per legend row.
keycols(n) = 1
keyrows(n) = n
keyrow_in = 0.17
