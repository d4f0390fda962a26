#!/usr/bin/env python3
"""make_plot_fixtures.py — writes the small fake runs that tests/test_plots.c draws.

Two runs of 10 epochs x 50 steps (MoCo v2 baseline and MoCo v2 + FT) with every CSV of a run
directory (DESIGN.md "Runs and files"), curves shaped like PAPER.md section 3 (positive score rising
0.3 -> 0.8, negative variance falling; FT lowers the positive score and records pre-transform stats),
plus a results/summary.csv and a run with one malformed value. Plain Python, seeded: rerunning it
gives the same files.  Run from the repository root: python3 tests/make_plot_fixtures.py
"""
import math
import os
import random

ROOT = os.path.join("tests", "fixtures", "plots")
EPOCHS, STEPS_PER_EPOCH, LOG_EVERY = 10, 50, 10
BINS = 40


def write_csv(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(x if isinstance(x, str) else ("%.6g" % x) for x in r) + "\n")


def gauss_hist(mean, std, n, lo=-1.0, hi=1.0):
    """Counts of n normal samples in BINS equal bins on [lo, hi), computed from the CDF."""
    cdf = lambda x: 0.5 * (1.0 + math.erf((x - mean) / (std * math.sqrt(2.0))))
    w = (hi - lo) / BINS
    return [(lo + b * w, lo + (b + 1) * w, round(n * (cdf(lo + (b + 1) * w) - cdf(lo + b * w))))
            for b in range(BINS)]


def make_run(name, baseline, variant, ft, rng):
    d = os.path.join(ROOT, name)
    total = EPOCHS * STEPS_PER_EPOCH
    train, scores, hist = [], [], []
    for step in range(LOG_EVERY, total + 1, LOG_EVERY):
        epoch = (step - 1) // STEPS_PER_EPOCH  # 0-based, as clft writes it
        t = step / total
        lr = 0.03 * 0.5 * (1 + math.cos(math.pi * t))
        loss = 8.5 - 3.0 * (1 - math.exp(-4 * t)) + (0.2 if ft else 0.0) + rng.gauss(0, 0.08)
        acc = min(1.0, 0.05 + 0.8 * (1 - math.exp(-3 * t)) + rng.gauss(0, 0.02))
        train.append((epoch, step, lr, loss, acc, 850 + rng.gauss(0, 20), step * 0.06))
        pre_pm = 0.3 + 0.5 * (1 - math.exp(-5 * t)) + rng.gauss(0, 0.02)
        pre_pv = 0.04 * math.exp(-2 * t) + 0.01
        pre_nm = 0.02 * rng.gauss(0, 1) * 0.3
        pre_nv = 0.012 + 0.03 * math.exp(-6 * t)
        if ft:
            pm, pv, nm, nv = pre_pm - 0.15, pre_pv * 1.3, pre_nm, pre_nv * 1.6
            pre = (pre_pm, pre_pv, pre_nm, pre_nv)
        else:
            pm, pv, nm, nv = pre_pm, pre_pv, pre_nm, pre_nv
            pre = ("", "", "", "")
        scores.append((epoch, step, pm, pv, nm, nv, math.exp(pm / 0.2), math.exp(nm / 0.2)) + pre)
    for epoch in range(EPOCHS):
        t = epoch / EPOCHS
        pm = 0.3 + 0.5 * (1 - math.exp(-5 * t))
        kinds = [("pos", pm - (0.15 if ft else 0), 0.2 * math.exp(-t) + 0.05, 2048),
                 ("neg", 0.0, math.sqrt(0.012 + 0.03 * math.exp(-6 * t)) * (1.26 if ft else 1), 65536)]
        if ft:
            kinds += [("pre_pos", pm, 0.2 * math.exp(-t) + 0.04, 2048),
                      ("pre_neg", 0.0, math.sqrt(0.012 + 0.03 * math.exp(-6 * t)), 65536)]
        for kind, mean, std, n in kinds:
            for lo, hi, c in gauss_hist(mean, std, n):
                hist.append((epoch, kind, lo, hi, c))
    write_csv(os.path.join(d, "train.csv"),
              ["epoch", "step", "lr", "loss", "inst_acc", "img_per_s", "elapsed_s"], train)
    write_csv(os.path.join(d, "scores.csv"),
              ["epoch", "step", "pos_mean", "pos_var", "neg_mean", "neg_var", "exp_pos_mean",
               "exp_neg_mean", "pre_pos_mean", "pre_pos_var", "pre_neg_mean", "pre_neg_var"], scores)
    write_csv(os.path.join(d, "score_hist.csv"), ["epoch", "kind", "bin_lo", "bin_hi", "count"], hist)
    ev = [("knn_monitor", "fashion-mnist", "test", "top1", 40 + 40 * (1 - math.exp(-0.3 * e))
           + (2.5 if ft else 0) + rng.gauss(0, 0.5), e) for e in range(1, EPOCHS + 1)]
    ev.append(("knn", "fashion-mnist", "test", "top1", 80.1 + (2.4 if ft else 0), EPOCHS))  # epochs completed
    ev.append(("linear", "fashion-mnist", "test", "top1", 84.3 + (1.9 if ft else 0), EPOCHS))
    write_csv(os.path.join(d, "eval.csv"), ["protocol", "dataset", "split", "metric", "value", "epoch"], ev)
    with open(os.path.join(d, "config.ini"), "w") as f:
        f.write("[run]\nname = %s\nseed = 1\n\n[moco]\nbaseline = %s\nmomentum = 0.99\n\n"
                "[variant]\nname = %s\n" % (name, baseline, variant))


def make_summary(rng):
    rows = []
    for baseline, base_acc in (("moco_v1", 78.0), ("moco_v2", 82.5)):
        for protocol, off in (("knn", 0.0), ("linear", 3.5), ("semisup", -6.0)):
            base = base_acc + off
            for variant, gain in (("none", 0.0), ("ft", 1.6)):
                std = 0.4 + rng.random() * 0.4
                rows.append((baseline, variant, "fashion-mnist", protocol, "top1", 3, base + gain, std,
                             4.303 * std / math.sqrt(3), gain if gain else 0.0,
                             0.02 if gain else "" ))
    write_csv(os.path.join(ROOT, "summary.csv"),
              ["baseline", "variant", "dataset", "protocol", "metric", "n_seeds", "mean", "std", "ci95",
               "delta_vs_baseline", "p_value"], rows)


def main():
    rng = random.Random(7)
    make_run("moco_v2_base", "moco_v2", "none", False, rng)
    make_run("moco_v2_ft", "moco_v2", "ft", True, rng)
    make_summary(rng)
    # A run whose scores.csv holds one non-numeric value (line 5, column neg_var).
    src = os.path.join(ROOT, "moco_v2_base")
    bad = os.path.join(ROOT, "bad_value")
    os.makedirs(bad, exist_ok=True)
    for name in ("train.csv", "scores.csv", "score_hist.csv", "eval.csv", "config.ini"):
        with open(os.path.join(src, name)) as f:
            lines = f.readlines()
        if name == "scores.csv":
            cells = lines[4].split(",")
            cells[5] = "abc"
            lines = lines[:4] + [",".join(cells)] + lines[5:]
        if name == "config.ini":
            lines = [l.replace("moco_v2_base", "bad_value") for l in lines]
        with open(os.path.join(bad, name), "w") as f:
            f.writelines(lines)


if __name__ == "__main__":
    main()
