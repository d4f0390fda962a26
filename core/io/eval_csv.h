/* eval_csv.h — runs/<name>/eval.csv, a run's evaluation rows: the kNN monitor's during pre-training
 * (core/train/train.c) and the protocols of `clft eval` (downstream/eval.c) write them through this
 * one writer. Columns protocol,dataset,split,metric,value,epoch; `epoch` is the epochs completed
 * by the evaluated encoder; values are percentages.
 */
#ifndef CLFT_EVAL_CSV_H
#define CLFT_EVAL_CSV_H

#include "core/common.h"
#include "core/io/config.h"

typedef struct {
    char protocol[40];
    char dataset[CONFIG_STR + 160];
    char split[16];
    char metric[24];
    double value;
    int epoch;
} EvalRow;

/* One row, the strings copied (cut to the field's capacity). */
EvalRow eval_row(const char *protocol, const char *dataset, const char *split, const char *metric,
                 double value, int epoch);

/* Appends rows (n) to `path`: a missing or empty file gets the header, an existing one must carry
 * exactly that header (CSV_APPEND). */
ClftStatus eval_csv_append(const char *path, const EvalRow *rows, int n);

#endif
