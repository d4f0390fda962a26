/* make_seeds.c — writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small
 * valid inputs of each format and a few near-misses, each prefixed with the target's selector
 * bytes (see each fuzz_*.c). Run from the source root when a format changes:
 *     build-fuzz/fuzz_make_seeds tests/fuzz/corpus
 * The configs and plot seeds are cut from configs/smoke.ini and tests/fixtures/plots. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */
#include <zlib.h>

#include "core/io/safetensors.h"

static const char *root;

static void seed(const char *target, const char *name, const void *sel, size_t nsel, const void *b,
                 size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, target);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", root, target, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(sel, 1, nsel, f) != nsel || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(1);
    }
}

/* A text seed after `nsel` selector bytes (which may be NUL). */
static void seed_text(const char *target, const char *name, const char *sel, size_t nsel,
                      const char *text)
{
    seed(target, name, sel, nsel, text, strlen(text));
}

/* gzip of b[0..n) into out (cap bytes); returns its length. */
static size_t gz(const uint8_t *b, size_t n, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(1);
    z.next_in = (Bytef *)b, z.avail_in = (uInt)n, z.next_out = out, z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) exit(1);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static void idx_seeds(void)
{
    static uint8_t raw[16 + 2 * 784], z[8192], z2[8192];
    put_be32(raw, 0x803), put_be32(raw + 4, 2), put_be32(raw + 8, 28), put_be32(raw + 12, 28);
    for (int i = 0; i < 2 * 784; i++)
        raw[16 + i] = (uint8_t)(i * 7);
    size_t n = gz(raw, sizeof raw, z, sizeof z);
    uint8_t img = 0, lab = 1 | (2 << 1);
    seed("fuzz_idx", "images2", &img, 1, z, n);
    seed("fuzz_idx", "images_truncated", &img, 1, z, n / 2);
    memcpy(z2, z, n), memcpy(z2 + n, "junk", 4);
    seed("fuzz_idx", "images_trailing", &img, 1, z2, n + 4);
    uint8_t lraw[10];
    put_be32(lraw, 0x801), put_be32(lraw + 4, 2), lraw[8] = 3, lraw[9] = 9;
    n = gz(lraw, sizeof lraw, z, sizeof z);
    seed("fuzz_idx", "labels2", &lab, 1, z, n);
    size_t m = gz(lraw, 9, z2, sizeof z2); /* two members: 9 bytes, then 1 */
    m += gz(lraw + 9, 1, z2 + m, sizeof z2 - m);
    seed("fuzz_idx", "labels2_two_members", &lab, 1, z2, m);
}

static void cifar_seeds(void)
{
    static uint8_t rec[3074];
    for (int i = 0; i < 3074; i++)
        rec[i] = (uint8_t)(i * 13);
    rec[0] = 7;
    uint8_t c10 = 0, c100 = 1;
    seed("fuzz_cifar", "cifar10_one", &c10, 1, rec, 3073);
    rec[1] = 42;
    seed("fuzz_cifar", "cifar100_one", &c100, 1, rec, 3074);
    seed("fuzz_cifar", "cifar10_short", &c10, 1, rec, 100);
}

typedef enum { J_RGB, J_GREY, J_CMYK, J_PROG } JKind;

static void jpeg_seed(const char *name, int W, int H, JKind kind, uint8_t mode, uint8_t min_side)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)W, c.image_height = (JDIMENSION)H;
    c.input_components = kind == J_GREY ? 1 : kind == J_CMYK ? 4 : 3;
    c.in_color_space = kind == J_GREY ? JCS_GRAYSCALE : kind == J_CMYK ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 75, TRUE);
    if (kind == J_PROG) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[4 * 64];
    while (c.next_scanline < c.image_height) {
        int y = (int)c.next_scanline;
        for (int x = 0; x < W * c.input_components; x++)
            row[x] = (uint8_t)(x * 9 + y * 17);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    uint8_t sel[2] = {mode, min_side};
    seed("fuzz_jpeg", name, sel, 2, buf, len);
    free(buf);
}

static void jpeg_seeds(void)
{
    jpeg_seed("rgb16", 16, 16, J_RGB, 0, 0);
    jpeg_seed("rgb24x8_scaled", 24, 8, J_RGB, 0, 4);
    jpeg_seed("grey8_luma", 8, 8, J_GREY, 1, 0);
    jpeg_seed("cmyk8", 8, 8, J_CMYK, 0, 0);
    jpeg_seed("prog16", 16, 16, J_PROG, 1, 0);
}

static void config_seeds(void)
{
    FILE *f = fopen("configs/smoke.ini", "rb");
    if (!f) {
        fprintf(stderr, "run from the source root (configs/smoke.ini)\n");
        exit(1);
    }
    static char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    seed("fuzz_config", "smoke_ini", "\x00", 1, text, n);
    seed_text("fuzz_config", "variant_ini", "\x00", 1,
              "[variant]\nname = ft\nalpha_ex = 2 ; inline\n[moco_v1.optim]\nmilestones = 3,5\n"
              "[data]\nclasses = 1, 2,3\n[eval]\nsemisup_fractions = 0.01,0.1\n");
    seed_text("fuzz_config", "sets", "\x01", 1,
              "optim.lr=0.06\nrun.name=caf\xc3\xa9\ndata.classes=3,1\nvariant.dimwise=1\n"
              "optim.schedule=step\noptim.milestones=5,3\nrun.threads=4\n");
    seed_text("fuzz_config", "unterminated", "\x00", 1, "[optim\nlr = 0.1\n");
}

static void st_seeds(void)
{
    const char *tmp = "/tmp/clft-make-seeds.safetensors";
    float a[6] = {1, 2, 3, 4, 5, 6};
    int64_t b[3] = {1, 2, 3}, sa[2] = {2, 3}, sb[1] = {3}, s0[1] = {0};
    int32_t c[2] = {7, 8};
    StWriter w;
    st_writer_init(&w);
    st_writer_add(&w, "encoder_q.conv1.weight", ST_F32, 2, sa, a);
    st_writer_add(&w, "position", ST_I64, 1, sb, b);
    st_writer_add(&w, "i32", ST_I32, 1, (int64_t[]){2}, c);
    st_writer_add(&w, "empty", ST_F64, 1, s0, a);
    st_writer_meta(&w, "config", "[run]\nname = caf\xc3\xa9\n");
    st_writer_meta(&w, "format", "clft-checkpoint-1");
    if (st_write(&w, tmp) != CLFT_OK) exit(1);
    st_writer_free(&w);
    FILE *f = fopen(tmp, "rb");
    static uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    remove(tmp);
    seed("fuzz_safetensors", "checkpoint", "", 0, buf, n);
    static const char hdr[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    uint8_t ov[8 + sizeof hdr - 1 + 12] = {sizeof hdr - 1};
    memcpy(ov + 8, hdr, sizeof hdr - 1);
    seed("fuzz_safetensors", "overlap", "", 0, ov, sizeof ov);
}

static void csv_seeds(void)
{
    static const char summary[] =
        "baseline,variant,dataset,protocol,metric,n_seeds,mean,std,ci95,delta_vs_baseline,p_value\n"
        "moco_v2,none,fashion-mnist,knn,top1,3,83.82,0.08,0.2,,\n"
        "moco_v2,ft,fashion-mnist,knn,top1,3,81.71,0.58,1.44,-2.11,0.012\n"
        "moco_v2,ft,\"fashion, \"\"mnist\"\"\",linear,top1,1,85.04,nan,nan,nan,nan\n";
    static const char train[] = "epoch,step,loss\n0,10,8.2\n0,20,8.0\n1,30,7.9\n";
    seed_text("fuzz_csv", "summary", "\x00", 1, summary);
    seed_text("fuzz_csv", "train_truncate", "\x01\x14", 2, train);
    seed_text("fuzz_csv", "train_append_torn", "\x02\x00", 2, "epoch,step,loss\n0,10,8.2\n0,2");
}

static void plot_seeds(void)
{
    seed_text("fuzz_plot_csv", "scores", "\x00\x00", 2,
              "epoch,step,pos_mean,pos_var,neg_mean,neg_var,exp_pos_mean,exp_neg_mean,pre_pos_mean,"
              "pre_pos_var,pre_neg_mean,pre_neg_var\n0,10,0.34,0.048,-0.005,0.038,5.5,0.97,,,,\n"
              "0,20,0.41,0.046,0.001,0.035,7.8,1.0,0.4,0.05,0.0,0.03\n");
    seed_text("fuzz_plot_csv", "train", "\x01\x01", 2,
              "epoch,step,lr,loss,inst_acc,img_per_s,elapsed_s\n0,10,0.03,8.2,0.1,845,0.6\n"
              "1,20,0.02,8.0,16.2,858,1.2\n");
    seed_text("fuzz_plot_csv", "hist", "\x02\x88", 2,
              "epoch,kind,bin_lo,bin_hi,count\n0,pos,-1,-0.95,0\n0,pos,-0.95,-0.9,3\n"
              "0,neg,-0.95,-0.9,5\n1,pre_pos,0,0.05,2\n1,pre_neg,0.05,0.1,1\n");
    seed_text("fuzz_plot_csv", "summary", "\x03\x00", 2,
              "baseline,variant,dataset,protocol,metric,n_seeds,mean,std,ci95,delta_vs_baseline,"
              "p_value\nmoco_v2,none,fashion-mnist,knn,top1,3,83.8,0.1,0.2,,\n"
              "moco_v2,ft,fashion-mnist,knn,top1,3,81.7,0.6,1.4,-2.1,0.01\n"
              "moco_v2,ft,fashion-mnist,knn_pixels,top1,1,82.1,nan,nan,nan,nan\n");
    seed_text(
        "fuzz_plot_csv", "eval", "\x04\x00", 2,
        "protocol,dataset,split,metric,value,epoch\nknn_monitor,fashion-mnist,test,top1,49.7,1\n"
        "linear,fashion-mnist,test,top1,85.0,\nknn,fashion-mnist,test,top5,99.1,3\n");
    seed_text("fuzz_plot_csv", "config", "\x05\x00", 2,
              "# clft\n[run]\nname = mini run\nseed = 2\n[moco]\nbaseline = moco_v1\n[variant]\n"
              "name = ft_pos\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR (e.g. tests/fuzz/corpus)\n");
        return 2;
    }
    root = argv[1];
    mkdir(root, 0755);
    idx_seeds();
    cifar_seeds();
    jpeg_seeds();
    config_seeds();
    st_seeds();
    csv_seeds();
    plot_seeds();
    return 0;
}
