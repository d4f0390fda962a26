/* fuzz_plot_csv.c — libFuzzer target for what `clft plot` reads (plots/plot_csv.c and the readers
 * of plot_data.c, plot_hist.c, plot_summary.c): a run's scores.csv, train.csv, score_hist.csv,
 * eval.csv, config.ini and a results summary.csv, each turned into the data files gnuplot draws
 * (written to a scratch directory on tmpfs; gnuplot itself is not run).
 * Input: byte 0 % 6 picks the file (0 scores.csv, 1 train.csv, 2 score_hist.csv, 3 summary.csv,
 * 4 eval.csv, 5 config.ini); byte 1 picks --smooth (0 = automatic) and, for score_hist.csv, the
 * --epochs list (bit 7: epoch byte1 & 7); the rest is the file. The other files of the run are
 * small valid ones. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plots/plot_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64], run[128], out[128];

static void put(const char *dir, const char *name, const void *b, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) abort();
}

static void put_text(const char *dir, const char *name, const char *text)
{
    put(dir, name, text, strlen(text));
}

static void remove_root(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
}

static const char *const valid_train = "epoch,step,lr,loss,inst_acc,img_per_s,elapsed_s\n"
                                       "0,10,0.03,8.2,0.1,800,0.6\n0,20,0.03,8.0,0.2,850,1.2\n";
static const char *const valid_eval = "protocol,dataset,split,metric,value,epoch\n"
                                      "knn_monitor,fashion-mnist,test,top1,49.75,1\n";

/* The scratch run directory, made once; every file reset to a valid one. */
static void reset_run(void)
{
    if (!root[0]) {
        snprintf(root, sizeof root, "/dev/shm/clft-fuzz-plot-XXXXXX");
        if (!mkdtemp(root)) abort();
        snprintf(run, sizeof run, "%s/run", root);
        snprintf(out, sizeof out, "%s/out", root);
        if (mkdir(run, 0755) != 0 || mkdir(out, 0755) != 0) abort();
        atexit(remove_root);
    }
    put_text(run, "train.csv", valid_train);
    put_text(run, "eval.csv", valid_eval);
    put_text(run, "config.ini",
             "[moco]\nbaseline = moco_v2\n[variant]\nname = ft\n[run]\nseed = 1\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const files[6] = {"scores.csv",  "train.csv", "score_hist.csv",
                                         "summary.csv", "eval.csv",  "config.ini"};
    if (size < 2) return 0;
    int which = data[0] % 6;
    reset_run();
    put(run, files[which], data + 2, size - 2);
    PlotRun r;
    PlotOptions opt = {.smooth = data[1] & 7};
    if (data[1] & 0x80) opt.n_epochs = 1, opt.epochs[0] = (data[1] >> 3) & 7;
    ClftStatus st = pdata_run_info(&r, run);
    if (st == CLFT_OK) {
        switch (which) {
        case 0:
            st = pdata_scores(&r, 0, out, opt.smooth);
            break;
        case 1:
        case 4:
            st = pdata_train(&r, 0, out, opt.smooth);
            break;
        case 2:
            st = pdata_hist(&r, 0, out, &opt);
            break;
        case 3: {
            char p[256];
            snprintf(p, sizeof p, "%s/summary.csv", run);
            st = pdata_summary(p, out);
            break;
        }
        default:
            break; /* config.ini: pdata_run_info above */
        }
    }
    if (st != CLFT_OK) ASSERT(clft_last_error()[0]);
    return 0;
}
