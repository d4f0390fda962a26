/* test_csv.c — the CSV writer and reader (core/io/csv.c): exact bytes of written files (checked
 * against hand-written text), quoting, number round trip, append with header check, torn-line
 * repair, truncate_after for exact resume, write errors (/dev/full) and malformed input. */
#include "tests/test_util.h"

#include <unistd.h>

#include "core/io/csv.h"

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    return path;
}

static char *read_all(const char *path)
{
    static char buf[8192];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

#define ASSERT_ERR_HAS(substr)                                                                     \
    do {                                                                                           \
        if (!strstr(clft_last_error(), (substr)))                                                  \
            fail_msg("error '%s' does not mention '%s'", clft_last_error(), (substr));             \
    } while (0)

static const char *const eval_cols[] = {"protocol", "dataset", "metric", "value", "epoch"};

static void test_format_num(void **state)
{
    (void)state;
    char b[40];
    csv_format_num(0.1, b, sizeof b);
    assert_string_equal(b, "0.1");
    csv_format_num(3.0, b, sizeof b);
    assert_string_equal(b, "3");
    csv_format_num(1.0 / 3.0, b, sizeof b);
    assert_string_equal(b, "0.3333333333333333");
    csv_format_num((double)0.1f, b, sizeof b); /* a float widened to double keeps its digits */
    assert_string_equal(b, "0.10000000149011612");
    csv_format_num(-2.5e-7, b, sizeof b);
    assert_string_equal(b, "-2.5e-07");
}

/* Written bytes equal the hand-written file; the reader gives back the strings and numbers. */
static void test_write_read_round_trip(void **state)
{
    (void)state;
    const char *path = tmp_path("eval.csv");
    CsvWriter w;
    assert_int_equal(csv_open(&w, path, eval_cols, 5, CSV_CREATE), CLFT_OK);
    assert_int_equal(access(path, F_OK), -1); /* nothing visible before close */
    csv_put_str(&w, "knn");
    csv_put_str(&w, "fashion, mnist");
    csv_put_str(&w, "say \"top-1\"");
    csv_put_num(&w, 1.0 / 3.0);
    csv_put_int(&w, 7);
    assert_int_equal(csv_end_row(&w), CLFT_OK);
    csv_put_str(&w, "two\nlines");
    csv_put_str(&w, " pad ");
    csv_put_str(&w, "");
    csv_put_num(&w, 1e-300);
    csv_put_int(&w, -1);
    assert_int_equal(csv_end_row(&w), CLFT_OK);
    assert_int_equal(csv_close(&w), CLFT_OK);
    assert_string_equal(read_all(path),
                        "protocol,dataset,metric,value,epoch\n"
                        "knn,\"fashion, mnist\",\"say \"\"top-1\"\"\",0.3333333333333333,7\n"
                        "\"two\nlines\",\" pad \",,1e-300,-1\n");
    CsvTable t;
    assert_int_equal(csv_read(path, &t), CLFT_OK);
    assert_int_equal(t.ncol, 5);
    assert_int_equal(t.nrow, 2);
    assert_int_equal(csv_col(&t, "metric"), 2);
    assert_int_equal(csv_col(&t, "nope"), -1);
    assert_string_equal(csv_cell(&t, 0, 1), "fashion, mnist");
    assert_string_equal(csv_cell(&t, 0, 2), "say \"top-1\"");
    assert_string_equal(csv_cell(&t, 1, 0), "two\nlines");
    assert_string_equal(csv_cell(&t, 1, 1), " pad ");
    assert_string_equal(csv_cell(&t, 1, 2), "");
    double v;
    assert_int_equal(csv_cell_num(&t, 0, 3, &v), CLFT_OK);
    assert_true(v == 1.0 / 3.0);
    assert_int_equal(csv_cell_num(&t, 1, 3, &v), CLFT_OK);
    assert_true(v == 1e-300);
    assert_int_equal(csv_cell_num(&t, 0, 0, &v), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS("protocol");
    ASSERT_ERR_HAS("knn");
    csv_table_free(&t);
}

static const char *const train_cols[] = {"epoch", "step", "loss"};

static void append_rows(const char *path, int from, int to, ClftStatus want_open)
{
    CsvWriter w;
    assert_int_equal(csv_open(&w, path, train_cols, 3, CSV_APPEND), want_open);
    if (want_open != CLFT_OK) return;
    for (int s = from; s < to; s++) {
        double row[3] = {s / 2, s, 1.0 / (s + 1)};
        assert_int_equal(csv_row(&w, row), CLFT_OK);
    }
    assert_int_equal(csv_close(&w), CLFT_OK);
}

static void test_append_and_truncate(void **state)
{
    (void)state;
    const char *path = tmp_path("train.csv");
    append_rows(path, 0, 2, CLFT_OK);
    append_rows(path, 2, 4, CLFT_OK); /* header written once */
    const char *want = "epoch,step,loss\n0,0,1\n0,1,0.5\n1,2,0.3333333333333333\n1,3,0.25\n";
    assert_string_equal(read_all(path), want);

    /* A different header is refused, naming the file; the file is untouched. */
    static const char *const other[] = {"epoch", "step", "lr"};
    CsvWriter w;
    assert_int_equal(csv_open(&w, path, other, 3, CSV_APPEND), CLFT_ERR_FORMAT);
    ASSERT_ERR_HAS(path);
    ASSERT_ERR_HAS("epoch,step,loss");
    assert_string_equal(read_all(path), want);

    /* Exact resume: keep rows with step <= 1, then append again. */
    assert_int_equal(csv_truncate_after(path, "step", 1), CLFT_OK);
    assert_string_equal(read_all(path), "epoch,step,loss\n0,0,1\n0,1,0.5\n");
    append_rows(path, 2, 4, CLFT_OK);
    assert_string_equal(read_all(path), want);

    /* A torn last line (SIGKILL mid-write) is cut before appending ... */
    FILE *fp = fopen(path, "ab");
    fputs("2,4,0.2", fp);
    fclose(fp);
    append_rows(path, 4, 5, CLFT_OK);
    assert_string_equal(read_all(path), "epoch,step,loss\n0,0,1\n0,1,0.5\n1,2,0.3333333333333333\n"
                                        "1,3,0.25\n2,4,0.2\n");
    /* ... and by truncate_after. */
    fp = fopen(path, "ab");
    fputs("2,5,0.1", fp);
    fclose(fp);
    assert_int_equal(csv_truncate_after(path, "step", 100), CLFT_OK);
    assert_string_equal(read_all(path), "epoch,step,loss\n0,0,1\n0,1,0.5\n1,2,0.3333333333333333\n"
                                        "1,3,0.25\n2,4,0.2\n");
    assert_int_equal(csv_truncate_after(path, "step", -1), CLFT_OK);
    assert_string_equal(read_all(path), "epoch,step,loss\n");
    assert_int_equal(csv_truncate_after(path, "nope", 1), CLFT_ERR_FORMAT);
    ASSERT_ERR_HAS("nope");
    assert_int_equal(csv_truncate_after(tmp_path("missing.csv"), "step", 1), CLFT_ERR_IO);
    ASSERT_ERR_HAS("missing.csv");

    /* A log whose complete rows are damaged is refused, not appended to: here the torn-line cut
     * (at the last newline) would leave a quoted field open, and the appended rows inside it. */
    path = tmp_path("damaged.csv"); /* tmp_path's buffer is shared: path follows it */
    write_text(path, "epoch,step,loss\n0,0,\"a\nb\",1");
    append_rows(path, 1, 2, CLFT_ERR_FORMAT);
    ASSERT_ERR_HAS(path);
    write_text(path, "epoch,step,loss\n0,0\n");
    append_rows(path, 1, 2, CLFT_ERR_FORMAT);
    ASSERT_ERR_HAS(":2: 2 fields, but the header has 3");
    assert_string_equal(read_all(path), "epoch,step,loss\n0,0\n"); /* untouched */
    /* a directory in place of a CSV */
    assert_int_equal(csv_truncate_after(test_tmpdir(), "step", 1), CLFT_ERR_IO);
    ASSERT_ERR_HAS("not a regular file (a directory)");
}

static void test_write_errors(void **state)
{
    (void)state;
    /* /dev/full accepts the open and fails the first flush with ENOSPC. */
    CsvWriter w;
    assert_int_equal(csv_open(&w, "/dev/full", train_cols, 3, CSV_APPEND), CLFT_ERR_IO);
    ASSERT_ERR_HAS("/dev/full");
    ASSERT_ERR_HAS("No space left");
    /* CSV_CREATE in a directory that does not exist */
    assert_int_equal(csv_open(&w, "/nonexistent/dir/eval.csv", eval_cols, 5, CSV_CREATE),
                     CLFT_ERR_IO);
    ASSERT_ERR_HAS("/nonexistent/dir/eval.csv");
    /* an aborted CSV_CREATE leaves nothing behind */
    const char *path = tmp_path("aborted.csv");
    assert_int_equal(csv_open(&w, path, eval_cols, 5, CSV_CREATE), CLFT_OK);
    csv_abort(&w);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_malformed(void **state)
{
    (void)state;
    CsvTable t;
    const char *path = tmp_path("bad.csv");
    write_text(path, "a,b,c\n1,2,3\n4,5\n6,7,8\n");
    assert_int_equal(csv_read(path, &t), CLFT_ERR_FORMAT);
    ASSERT_ERR_HAS(path);
    ASSERT_ERR_HAS(":3:");
    ASSERT_ERR_HAS("2 fields");
    write_text(path, "a,b\n1,\"unterminated\n");
    assert_int_equal(csv_read(path, &t), CLFT_ERR_FORMAT);
    ASSERT_ERR_HAS(path);
    write_text(path, "a,b\n1,x\"y\n");
    assert_int_equal(csv_read(path, &t), CLFT_ERR_FORMAT);
    write_text(path, "");
    assert_int_equal(csv_read(path, &t), CLFT_ERR_FORMAT);
    ASSERT_ERR_HAS("empty");
    assert_int_equal(csv_read(tmp_path("missing.csv"), &t), CLFT_ERR_IO);
    /* CRLF line ends and a missing final newline are fine */
    write_text(path, "a,b\r\n1,2\r\n3,4");
    assert_int_equal(csv_read(path, &t), CLFT_OK);
    assert_int_equal(t.nrow, 2);
    assert_string_equal(csv_cell(&t, 1, 1), "4");
    csv_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_num),          cmocka_unit_test(test_write_read_round_trip),
        cmocka_unit_test(test_append_and_truncate), cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, tmpdir_setup, NULL);
}
