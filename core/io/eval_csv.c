/* eval_csv.c — see eval_csv.h. */
#include "core/io/eval_csv.h"

#include <stdio.h>

#include "core/io/csv.h"

static const char *const EVAL_COLS[] = {"protocol", "dataset", "split", "metric", "value", "epoch"};

EvalRow eval_row(const char *protocol, const char *dataset, const char *split, const char *metric,
                 double value, int epoch)
{
    EvalRow row = {.value = value, .epoch = epoch};
    snprintf(row.protocol, sizeof row.protocol, "%s", protocol);
    snprintf(row.dataset, sizeof row.dataset, "%s", dataset);
    snprintf(row.split, sizeof row.split, "%s", split);
    snprintf(row.metric, sizeof row.metric, "%s", metric);
    return row;
}

ClftStatus eval_csv_append(const char *path, const EvalRow *rows, int n)
{
    CsvWriter w;
    ClftStatus st = csv_open(&w, path, EVAL_COLS, 6, CSV_APPEND);
    if (st != CLFT_OK) return st;
    for (int i = 0; i < n && st == CLFT_OK; i++) {
        csv_put_str(&w, rows[i].protocol);
        csv_put_str(&w, rows[i].dataset);
        csv_put_str(&w, rows[i].split);
        csv_put_str(&w, rows[i].metric);
        csv_put_num(&w, rows[i].value);
        csv_put_int(&w, rows[i].epoch);
        st = csv_end_row(&w);
    }
    ClftStatus st2 = csv_close(&w);
    return st != CLFT_OK ? st : st2;
}
