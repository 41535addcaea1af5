/* IDX parsing, gzip reading, dataset loading and placement: valid files parse to the right
 * values; every kind of bad file is rejected with IB_EXIT_USAGE and a message that names the file
 * and the problem. If real MNIST / Fashion-MNIST is in the data directory, it is checked too. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* nftw() for cleaning up the temporary directory */
#endif
#include "check.h"
#include "tmpdir.h"
#include "data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifndef IB_SOURCE_DIR /* as in src/data/dataset.c */
#define IB_SOURCE_DIR "."
#endif

static char tmp_dir[256];

/* ---- helpers ---- */

static void path_in_tmp(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp_dir, name);
}

static void write_bytes(const char *path, const uint8_t *buf, size_t len) {
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL, "cannot create %s", path);
    if (!fp) return;
    CHECK(len == 0 || fwrite(buf, 1, len, fp) == len, "short write to %s", path);
    CHECK(fclose(fp) == 0, "close %s", path);
}

static void write_gz(const char *path, const uint8_t *buf, size_t len) {
    gzFile gz = gzopen(path, "wb");
    CHECK(gz != NULL, "cannot gzopen %s", path);
    if (!gz) return;
    CHECK(gzwrite(gz, buf, (unsigned)len) == (int)len, "gzwrite %s", path);
    CHECK(gzclose(gz) == Z_OK, "gzclose %s", path);
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An idx3 image file: header then n*rows*cols pixels, pixel k = (k*7 + seed) & 255. */
static uint8_t *make_images(uint32_t n, uint32_t rows, uint32_t cols, int seed, size_t *len) {
    size_t payload = (size_t)n * rows * cols;
    uint8_t *buf = ib_xmalloc(16 + payload);
    put_be32(buf, 0x00000803);
    put_be32(buf + 4, n);
    put_be32(buf + 8, rows);
    put_be32(buf + 12, cols);
    for (size_t k = 0; k < payload; k++) buf[16 + k] = (uint8_t)(k * 7 + (size_t)seed);
    *len = 16 + payload;
    return buf;
}

/* An idx1 label file: label i = (i * 3 + seed) % 10. */
static uint8_t *make_labels(uint32_t n, int seed, size_t *len) {
    uint8_t *buf = ib_xmalloc(8 + (size_t)n);
    put_be32(buf, 0x00000801);
    put_be32(buf + 4, n);
    for (uint32_t i = 0; i < n; i++) buf[8 + i] = (uint8_t)((i * 3 + (uint32_t)seed) % 10);
    *len = 8 + (size_t)n;
    return buf;
}

/* Each rejected input must be a usage error naming the file and the problem. */
#define EXPECT_REJECT(rc_expr, err, name, keyword)                                                   \
    do {                                                                                             \
        int rc_ = (rc_expr);                                                                         \
        CHECK(rc_ == IB_EXIT_USAGE && (err).code == IB_EXIT_USAGE, "rc %d code %d for %s (%s)", rc_, \
              (err).code, name, keyword);                                                            \
        CHECK(strstr((err).msg, name) != NULL, "message does not name '%s': %s", name, (err).msg);  \
        CHECK(strstr((err).msg, keyword) != NULL, "message lacks '%s': %s", keyword, (err).msg);    \
    } while (0)

static int read_images_file(const char *name, ib_err *err) {
    char path[512];
    path_in_tmp(path, sizeof path, name);
    int n = -1, rows = -1, cols = -1;
    uint8_t *px = (uint8_t *)1;
    memset(err, 0, sizeof *err);
    int rc = ib_idx_read_images(path, &n, &rows, &cols, &px, err);
    if (rc) CHECK(px == NULL && n == 0, "outputs not cleared on failure for %s", name);
    free(px);
    return rc;
}

static int read_labels_file(const char *name, ib_err *err) {
    char path[512];
    path_in_tmp(path, sizeof path, name);
    int n = -1;
    uint8_t *lab = (uint8_t *)1;
    memset(err, 0, sizeof *err);
    int rc = ib_idx_read_labels(path, 10, &n, &lab, err);
    if (rc) CHECK(lab == NULL && n == 0, "outputs not cleared on failure for %s", name);
    free(lab);
    return rc;
}

/* Writes `buf` as tmp/name and expects the image reader to reject it. */
static void reject_images(const char *name, const uint8_t *buf, size_t len, const char *keyword) {
    char path[512];
    ib_err err;
    path_in_tmp(path, sizeof path, name);
    write_bytes(path, buf, len);
    EXPECT_REJECT(read_images_file(name, &err), err, name, keyword);
}

static void reject_labels(const char *name, const uint8_t *buf, size_t len, const char *keyword) {
    char path[512];
    ib_err err;
    path_in_tmp(path, sizeof path, name);
    write_bytes(path, buf, len);
    EXPECT_REJECT(read_labels_file(name, &err), err, name, keyword);
}

/* ---- tests ---- */

static void test_valid(void) {
    size_t len;
    uint8_t *img = make_images(3, 2, 4, 5, &len);
    char path[512];
    path_in_tmp(path, sizeof path, "ok-images");
    write_bytes(path, img, len);
    int n, rows, cols;
    uint8_t *px = NULL;
    ib_err err = {0, ""};
    CHECK(ib_idx_read_images(path, &n, &rows, &cols, &px, &err) == 0, "valid images: %s", err.msg);
    CHECK(n == 3 && rows == 2 && cols == 4, "dims %d %d %d", n, rows, cols);
    int same = px != NULL;
    for (int k = 0; same && k < 24; k++) same = px[k] == (uint8_t)(k * 7 + 5);
    CHECK(same, "pixel values differ");
    free(px);

    /* The same file gzipped, as Fashion-MNIST ships. */
    path_in_tmp(path, sizeof path, "ok-images.gz");
    write_gz(path, img, len);
    px = NULL;
    CHECK(ib_idx_read_images(path, &n, &rows, &cols, &px, &err) == 0, "valid gz images: %s", err.msg);
    CHECK(n == 3 && rows == 2 && cols == 4, "gz dims %d %d %d", n, rows, cols);
    CHECK(px && memcmp(px, img + 16, 24) == 0, "gz pixel values differ");
    free(px);
    free(img);

    uint8_t *lab = make_labels(7, 2, &len);
    path_in_tmp(path, sizeof path, "ok-labels.gz");
    write_gz(path, lab, len);
    uint8_t *got = NULL;
    CHECK(ib_idx_read_labels(path, 10, &n, &got, &err) == 0, "valid gz labels: %s", err.msg);
    CHECK(n == 7 && got && memcmp(got, lab + 8, 7) == 0, "labels differ (n %d)", n);
    free(got);
    /* In memory, without a file. */
    got = NULL;
    CHECK(ib_idx_parse_labels(lab, len, "mem", 10, &n, &got, &err) == 0, "parse labels: %s", err.msg);
    CHECK(n == 7 && got && got[1] == 5, "parsed labels differ");
    free(got);
    free(lab);
}

static void test_bad_headers(void) {
    size_t len;
    uint8_t *img = make_images(3, 2, 4, 0, &len);
    uint8_t *bad = ib_xmalloc(len + 16);

    memcpy(bad, img, len);
    bad[0] = 0x01;
    reject_images("bad-magic", bad, len, "magic");

    memcpy(bad, img, len);
    bad[2] = 0x09; /* signed byte */
    reject_images("bad-type", bad, len, "type 0x09");

    memcpy(bad, img, len);
    bad[3] = 0x02;
    reject_images("bad-rank", bad, len, "rank 2");

    memcpy(bad, img, len);
    put_be32(bad + 8, 0);
    reject_images("zero-rows", bad, len, "zero dimension");

    memcpy(bad, img, len);
    put_be32(bad + 4, 0);
    reject_images("zero-count", bad, len, "zero dimension");

    memcpy(bad, img, len);
    put_be32(bad + 12, 5000);
    reject_images("huge-cols", bad, len, "too large");

    memcpy(bad, img, len);
    put_be32(bad + 4, 200000000u);
    reject_images("huge-count", bad, len, "too many");

    /* The largest header allowed claims ~1.7e15 bytes: must be a clean size error, no allocation. */
    memcpy(bad, img, len);
    put_be32(bad + 4, 100000000u);
    put_be32(bad + 8, 4096);
    put_be32(bad + 12, 4096);
    reject_images("max-dims", bad, len, "truncated: header says 100000000 x 4096 x 4096");

    memcpy(bad, img, len);
    put_be32(bad + 4, 0xffffffffu);
    put_be32(bad + 8, 0xffffffffu);
    put_be32(bad + 12, 0xffffffffu);
    reject_images("all-ones-dims", bad, len, "too many");

    reject_images("truncated", img, len - 1, "truncated: header says 3 x 2 x 4 = 40 bytes, file has 39");
    reject_images("header-only-part", img, 10, "truncated");
    reject_images("tiny", img, 2, "truncated");
    reject_images("empty", img, 0, "truncated");

    memcpy(bad, img, len);
    memset(bad + len, 0xab, 5);
    reject_images("trailing", bad, len + 5, "trailing garbage");

    /* A label file given to the image reader, and an image file to the label reader. */
    size_t lab_len;
    uint8_t *lab = make_labels(4, 0, &lab_len);
    reject_images("labels-as-images", lab, lab_len, "rank 1");
    reject_labels("images-as-labels", img, len, "rank 3");

    uint8_t *lbad = ib_xmalloc(lab_len + 4);
    memcpy(lbad, lab, lab_len);
    lbad[8 + 2] = 10;
    reject_labels("label-10", lbad, lab_len, "label 10 at index 2 is out of range");
    memcpy(lbad, lab, lab_len);
    lbad[8 + 3] = 255;
    reject_labels("label-255", lbad, lab_len, "out of range");
    reject_labels("labels-truncated", lab, lab_len - 1, "truncated");
    memcpy(lbad, lab, lab_len);
    lbad[lab_len] = 0;
    reject_labels("labels-trailing", lbad, lab_len + 1, "trailing garbage");
    memcpy(lbad, lab, lab_len);
    put_be32(lbad + 4, 0);
    reject_labels("labels-zero", lbad, 8, "zero dimension");
    memcpy(lbad, lab, lab_len);
    lbad[1] = 0x08;
    reject_labels("labels-magic", lbad, lab_len, "magic");

    free(lbad);
    free(lab);
    free(bad);
    free(img);

    ib_err err;
    EXPECT_REJECT(read_images_file("does-not-exist", &err), err, "does-not-exist", "cannot open");
}

static void test_gzip(void) {
    size_t len;
    uint8_t *img = make_images(20, 10, 10, 1, &len);
    char path[512];
    path_in_tmp(path, sizeof path, "gz-src.gz");
    write_gz(path, img, len);
    uint8_t *gz = NULL;
    size_t gz_len = 0;
    ib_err err = {0, ""};
    CHECK(ib_read_file(path, &gz, &gz_len, &err) == 0, "read back gz: %s", err.msg);
    if (!gz) return;
    uint8_t *bad = ib_xmalloc(2 * gz_len + 16);

    reject_images("gz-truncated.gz", gz, gz_len / 2, "truncated gzip");
    reject_images("gz-no-trailer.gz", gz, gz_len - 4, "truncated gzip");

    memcpy(bad, gz, gz_len);
    bad[gz_len - 6] ^= 0x55; /* inside the CRC-32 trailer */
    reject_images("gz-bad-crc.gz", bad, gz_len, "corrupt gzip");

    memcpy(bad, gz, gz_len);
    for (size_t i = 12; i < gz_len - 8; i++) bad[i] = 0xff; /* no valid deflate stream */
    reject_images("gz-garbage.gz", bad, gz_len, "gzip");

    memcpy(bad, gz, gz_len);
    memcpy(bad + gz_len, "junk", 4);
    reject_images("gz-trailing.gz", bad, gz_len + 4, "trailing bytes");

    /* Two gzip members concatenated decompress to the two payloads back to back. */
    memcpy(bad, gz, gz_len);
    memcpy(bad + gz_len, gz, gz_len);
    uint8_t *out = NULL;
    size_t out_len = 0;
    CHECK(ib_gunzip(bad, 2 * gz_len, IB_GUNZIP_MAX_BYTES, "two-members", &out, &out_len, &err) == 0,
          "two members: %s", err.msg);
    CHECK(out_len == 2 * len && out && memcmp(out, img, len) == 0 && memcmp(out + len, img, len) == 0,
          "two members: %zu bytes", out_len);
    free(out);

    /* The decompressed-size cap: a small cap turns this file into a clean "zip bomb" error. */
    out = NULL;
    memset(&err, 0, sizeof err);
    EXPECT_REJECT(ib_gunzip(gz, gz_len, 1000, "bomb.gz", &out, &out_len, &err), err, "bomb.gz",
                  "more than 1000 bytes");
    CHECK(out == NULL, "no output on failure");
    /* Exactly at the cap is fine. */
    CHECK(ib_gunzip(gz, gz_len, len, "exact.gz", &out, &out_len, &err) == 0 && out_len == len,
          "exact cap: %s", err.msg);
    free(out);

    /* A lying ISIZE trailer (4 GiB - 1) must not drive the allocation: still decodes, or fails
     * cleanly on the length check, without a huge malloc. */
    memcpy(bad, gz, gz_len);
    memset(bad + gz_len - 4, 0xff, 4);
    out = NULL;
    memset(&err, 0, sizeof err);
    EXPECT_REJECT(ib_gunzip(bad, gz_len, IB_GUNZIP_MAX_BYTES, "isize.gz", &out, &out_len, &err), err,
                  "isize.gz", "corrupt gzip");

    free(bad);
    free(gz);
    free(img);
}

/* Deterministic random mutations of valid inputs through every parser: nothing may crash
 * (this is what ASan/UBSan builds check), and failures must be usage errors. */
static void test_mutations(void) {
    size_t img_len, lab_len;
    uint8_t *img = make_images(4, 3, 3, 2, &img_len);
    uint8_t *lab = make_labels(6, 1, &lab_len);
    char path[512];
    path_in_tmp(path, sizeof path, "mut-src.gz");
    write_gz(path, img, img_len);
    uint8_t *gz = NULL;
    size_t gz_len = 0;
    ib_err err;
    CHECK(ib_read_file(path, &gz, &gz_len, &err) == 0, "read gz: %s", err.msg);
    CHECK(gz_len <= 256, "gz test input is %zu bytes, more than the mutation buffer", gz_len);
    if (gz_len > 256) gz_len = 0;
    uint32_t state = 12345;
    int bad_codes = 0;
    for (int iter = 0; iter < 3000 && gz && gz_len; iter++) {
        const uint8_t *src = iter % 3 == 0 ? img : iter % 3 == 1 ? lab : gz;
        size_t len = iter % 3 == 0 ? img_len : iter % 3 == 1 ? lab_len : gz_len;
        uint8_t buf[256];
        memcpy(buf, src, len);
        state = state * 1664525u + 1013904223u;
        int flips = 1 + (int)(state >> 28) % 4;
        for (int f = 0; f < flips; f++) {
            state = state * 1664525u + 1013904223u;
            buf[(state >> 8) % len] ^= (uint8_t)(1u << (state % 8));
        }
        state = state * 1664525u + 1013904223u;
        size_t cut = (state >> 20) % 8 == 0 ? (state >> 8) % (len + 1) : len;
        int n, rows, cols, rc;
        uint8_t *out = NULL;
        size_t out_len;
        if (iter % 3 == 2) {
            rc = ib_gunzip(buf, cut, 1 << 20, "mut", &out, &out_len, &err);
            if (!rc) {
                uint8_t *px = NULL;
                rc = ib_idx_parse_images(out, out_len, "mut", &n, &rows, &cols, &px, &err);
                free(px);
            }
        } else {
            rc = ib_idx_parse_images(buf, cut, "mut", &n, &rows, &cols, &out, &err);
            free(out);
            out = NULL;
            int rc2 = ib_idx_parse_labels(buf, cut, "mut", 10, &n, &out, &err);
            if (rc2 && rc2 != IB_EXIT_USAGE) rc = rc2;
        }
        free(out);
        if (rc && rc != IB_EXIT_USAGE) bad_codes++;
    }
    CHECK(bad_codes == 0, "%d mutated inputs gave a non-usage error", bad_codes);
    free(gz);
    free(lab);
    free(img);
}

/* A small dataset directory: dir/mini/{train,t10k}-... with the test images gzipped. */
static void write_dataset(const char *dir, uint32_t train_n, uint32_t train_labels_n, uint32_t test_rows) {
    char path[600];
    size_t len;
    uint8_t *buf;
    snprintf(path, sizeof path, "%s/mnist", dir);
    ib_err err;
    CHECK(ib_mkdir_p(path, &err) == 0, "mkdir %s: %s", path, err.msg);
    buf = make_images(train_n, 4, 3, 0, &len);
    snprintf(path, sizeof path, "%s/mnist/train-images-idx3-ubyte", dir);
    write_bytes(path, buf, len);
    free(buf);
    buf = make_labels(train_labels_n, 0, &len);
    snprintf(path, sizeof path, "%s/mnist/train-labels-idx1-ubyte", dir);
    write_bytes(path, buf, len);
    free(buf);
    buf = make_images(2, test_rows, 3, 9, &len);
    snprintf(path, sizeof path, "%s/mnist/t10k-images-idx3-ubyte.gz", dir);
    write_gz(path, buf, len);
    free(buf);
    buf = make_labels(2, 4, &len);
    snprintf(path, sizeof path, "%s/mnist/t10k-labels-idx1-ubyte.gz", dir);
    write_gz(path, buf, len);
    free(buf);
}

static void test_dataset_load(void) {
    char dir[512];
    ib_dataset ds;
    ib_err err = {0, ""};

    path_in_tmp(dir, sizeof dir, "ds-ok");
    write_dataset(dir, 5, 5, 4);
    CHECK(ib_dataset_load(dir, "mnist", &ds, &err) == 0, "load: %s", err.msg);
    CHECK(ds.train.n == 5 && ds.train.rows == 4 && ds.train.cols == 3, "train dims");
    CHECK(ds.test.n == 2 && ds.test.rows == 4 && ds.test.cols == 3, "test dims");
    CHECK(ds.num_classes == 10 && strcmp(ds.name, "mnist") == 0, "name/classes");
    CHECK(ds.train.labels && ds.train.labels[4] == 2 && ds.test.labels && ds.test.labels[1] == 7,
          "label values");
    CHECK(ds.test.pixels && ds.test.pixels[1] == 16, "test pixel value");
    ib_dataset_free(&ds);
    CHECK(ds.train.pixels == NULL && ds.test.labels == NULL, "free clears pointers");

    path_in_tmp(dir, sizeof dir, "ds-count");
    write_dataset(dir, 5, 4, 4);
    EXPECT_REJECT(ib_dataset_load(dir, "mnist", &ds, &err), err, "train-labels-idx1-ubyte",
                  "count mismatch: 4 labels");
    CHECK(ds.train.pixels == NULL, "nothing left allocated after a failed load");

    path_in_tmp(dir, sizeof dir, "ds-size");
    write_dataset(dir, 5, 5, 5);
    EXPECT_REJECT(ib_dataset_load(dir, "mnist", &ds, &err), err, "ds-size", "image size mismatch");

    path_in_tmp(dir, sizeof dir, "ds-missing");
    write_dataset(dir, 5, 5, 4);
    char path[600];
    snprintf(path, sizeof path, "%s/mnist/t10k-labels-idx1-ubyte.gz", dir);
    CHECK(unlink(path) == 0, "unlink %s", path);
    EXPECT_REJECT(ib_dataset_load(dir, "mnist", &ds, &err), err, "t10k-labels-idx1-ubyte",
                  "missing; run `initbench data fetch --dataset mnist");

    path_in_tmp(dir, sizeof dir, "ds-ok");
    EXPECT_REJECT(ib_dataset_load(dir, "cifar", &ds, &err), err, "cifar", "unknown dataset");
    CHECK(ib_dataset_check_name("mnist", &err) == 0 && ib_dataset_check_name("fashion-mnist", &err) == 0,
          "known names");
}

static void test_data_dir(void) {
    const char *saved = getenv("INITBENCH_DATA");
    char *saved_copy = saved ? ib_xstrdup(saved) : NULL;
    CHECK(strcmp(ib_data_dir_resolve("/x/flag"), "/x/flag") == 0, "flag wins");
    CHECK(setenv("INITBENCH_DATA", "/x/env", 1) == 0, "setenv");
    CHECK(strcmp(ib_data_dir_resolve(NULL), "/x/env") == 0, "env used");
    CHECK(strcmp(ib_data_dir_resolve("/x/flag"), "/x/flag") == 0, "flag beats env");
    CHECK(unsetenv("INITBENCH_DATA") == 0, "unsetenv");
    CHECK(strcmp(ib_data_dir_resolve(NULL), IB_SOURCE_DIR "/data") == 0, "default: %s",
          ib_data_dir_resolve(NULL));
    if (saved_copy) CHECK(setenv("INITBENCH_DATA", saved_copy, 1) == 0, "restore env");
    free(saved_copy);
}

static void test_place_verified(void) {
    char src[512], dst[512], path[600], hex[65];
    ib_err err = {0, ""};
    path_in_tmp(src, sizeof src, "place-src");
    path_in_tmp(dst, sizeof dst, "place-dst/sub");
    CHECK(ib_mkdir_p(src, &err) == 0, "mkdir: %s", err.msg);
    snprintf(path, sizeof path, "%s/a.bin", src);
    write_bytes(path, (const uint8_t *)"abc", 3);
    snprintf(path, sizeof path, "%s/b.bin", src);
    write_bytes(path, (const uint8_t *)"", 0);

    snprintf(path, sizeof path, "%s/a.bin", src);
    CHECK(ib_sha256_file(path, hex, &err) == 0, "sha256: %s", err.msg);
    const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const char *empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    CHECK(strcmp(hex, abc) == 0, "sha256(abc) = %s", hex);

    const char *files[] = {"a.bin", "b.bin"};
    const char *wrong[] = {abc, abc}; /* b.bin's hash is wrong: nothing may be placed */
    EXPECT_REJECT(ib_data_place_verified(src, dst, files, wrong, 2, "test", &err), err, "b.bin",
                  "sha256 mismatch: expected ba7816bf");
    CHECK(strstr(err.msg, empty) != NULL, "message gives the actual hash: %s", err.msg);
    snprintf(path, sizeof path, "%s/a.bin", dst);
    CHECK(!ib_path_exists(path), "a.bin placed despite b.bin's mismatch");

    const char *right[] = {abc, empty};
    CHECK(ib_data_place_verified(src, dst, files, right, 2, "test", &err) == 0, "place: %s", err.msg);
    CHECK(ib_sha256_file(path, hex, &err) == 0 && strcmp(hex, abc) == 0, "placed a.bin hash");
    CHECK(ib_data_place_verified(src, dst, files, right, 2, "test", &err) == 0, "place again: %s", err.msg);
}

/* The real datasets, when fetched into the data directory. */
static void test_real(const char *name, const long *train_counts) {
    const char *dir = ib_data_dir_resolve(NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/train-images-idx3-ubyte", dir, name);
    char gz_path[4300];
    snprintf(gz_path, sizeof gz_path, "%s.gz", path);
    if (!ib_path_exists(path) && !ib_path_exists(gz_path)) {
        printf("SKIP real %s check: %s not found (run `initbench data fetch --dataset %s`)\n", name,
               path, name);
        return;
    }
    ib_dataset ds;
    ib_err err = {0, ""};
    double t0 = ib_now();
    int rc = ib_dataset_load(dir, name, &ds, &err);
    CHECK(rc == 0, "load real %s: %s", name, err.msg);
    if (rc) return;
    CHECK(ds.train.n == 60000 && ds.test.n == 10000, "%s counts %d %d", name, ds.train.n, ds.test.n);
    CHECK(ds.train.rows == 28 && ds.train.cols == 28 && ds.test.rows == 28 && ds.test.cols == 28,
          "%s image size", name);
    long train_hist[10] = {0}, test_hist[10] = {0}, train_sum = 0, test_sum = 0;
    for (int i = 0; i < ds.train.n; i++) train_hist[ds.train.labels[i]]++;
    for (int i = 0; i < ds.test.n; i++) test_hist[ds.test.labels[i]]++;
    int counts_match = 1;
    for (int c = 0; c < 10; c++) {
        train_sum += train_hist[c];
        test_sum += test_hist[c];
        counts_match &= train_hist[c] == train_counts[c];
    }
    CHECK(train_sum == 60000 && test_sum == 10000, "%s histogram sums %ld %ld", name, train_sum, test_sum);
    CHECK(counts_match, "%s per-class training counts differ from the published ones", name);
    if (strcmp(name, "mnist") == 0) {
        double sum = 0, sum_sq = 0, count = (double)ds.train.n * 784;
        for (size_t k = 0; k < (size_t)ds.train.n * 784; k++) {
            double v = ds.train.pixels[k] / 255.0;
            sum += v;
            sum_sq += v * v;
        }
        double mean = sum / count, sd = sqrt(sum_sq / count - mean * mean);
        CHECK_REL(mean, 0.1307, 1e-3, 1e-6);
        CHECK_REL(sd, 0.3081, 1e-3, 1e-6);
    }
    printf("real %s: train %d, test %d, 28x28, loaded in %.2f s\n", name, ds.train.n, ds.test.n,
           ib_now() - t0);
    ib_dataset_free(&ds);
}

int main(void) {
    if (test_tmpdir_make(tmp_dir, sizeof tmp_dir, "test_idx")) return 1;
    test_valid();
    test_bad_headers();
    test_gzip();
    test_mutations();
    test_dataset_load();
    test_data_dir();
    test_place_verified();
    static const long mnist_counts[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    static const long fashion_counts[10] = {6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000};
    test_real("mnist", mnist_counts);
    test_real("fashion-mnist", fashion_counts);
    test_tmpdir_remove(tmp_dir);
    return check_finish("test_idx");
}
