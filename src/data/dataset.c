/* Dataset directories: DATA_DIR/<name>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. */
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef IB_SOURCE_DIR
#define IB_SOURCE_DIR "."
#endif

#define IB_NUM_CLASSES 10

static const char *const known_datasets[] = {"mnist", "fashion-mnist"};

int ib_dataset_check_name(const char *name, ib_err *err) {
    if (name)
        for (size_t i = 0; i < sizeof known_datasets / sizeof known_datasets[0]; i++)
            if (strcmp(name, known_datasets[i]) == 0) return 0;
    return ib_fail(err, IB_EXIT_USAGE, "unknown dataset '%s' (known: mnist, fashion-mnist)",
                   name ? name : "(null)");
}

const char *ib_data_dir_resolve(const char *flag_value) {
    if (flag_value && flag_value[0]) return flag_value;
    const char *env = getenv("INITBENCH_DATA");
    if (env && env[0]) return env;
    return IB_SOURCE_DIR "/data";
}

static int is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds DATA_DIR/name/base, or base.gz, and says how to get it when neither exists. */
static int find_idx_file(const char *data_dir, const char *name, const char *base,
                         char *path, size_t cap, ib_err *err) {
    int len = snprintf(path, cap, "%s/%s/%s", data_dir, name, base);
    if (len < 0 || (size_t)len + 3 >= cap)
        return ib_fail(err, IB_EXIT_USAGE, "%s: data directory path too long", data_dir);
    if (is_regular_file(path)) return 0;
    snprintf(path + len, cap - (size_t)len, ".gz");
    if (is_regular_file(path)) return 0;
    path[len] = 0;
    /* Point the hint at the same directory when it is not the one fetch would use anyway. */
    if (strcmp(data_dir, ib_data_dir_resolve(NULL)) == 0)
        return ib_fail(err, IB_EXIT_USAGE, "%s (or .gz) missing; run `initbench data fetch "
                       "--dataset %s`", path, name);
    return ib_fail(err, IB_EXIT_USAGE, "%s (or .gz) missing; run `initbench data fetch "
                   "--dataset %s --data-dir %s`", path, name, data_dir);
}

/* Loads one split (images + labels) and checks the two files describe the same items. */
static int load_split(const char *data_dir, const char *name, const char *prefix, int num_classes,
                      ib_images *out, ib_err *err) {
    char img_path[4200], lab_path[4200], base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    if (find_idx_file(data_dir, name, base, img_path, sizeof img_path, err)) return err->code;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    if (find_idx_file(data_dir, name, base, lab_path, sizeof lab_path, err)) return err->code;
    if (ib_idx_read_images(img_path, &out->n, &out->rows, &out->cols, &out->pixels, err))
        return err->code;
    int n_labels;
    if (ib_idx_read_labels(lab_path, num_classes, &n_labels, &out->labels, err)) return err->code;
    if (n_labels != out->n)
        return ib_fail(err, IB_EXIT_USAGE, "%s: count mismatch: %d labels, but %s has %d images",
                       lab_path, n_labels, img_path, out->n);
    return 0;
}

int ib_dataset_load(const char *data_dir, const char *name, ib_dataset *out, ib_err *err) {
    memset(out, 0, sizeof *out);
    if (ib_dataset_check_name(name, err)) return err->code;
    snprintf(out->name, sizeof out->name, "%s", name);
    out->num_classes = IB_NUM_CLASSES;
    int rc = load_split(data_dir, name, "train", out->num_classes, &out->train, err);
    if (!rc) rc = load_split(data_dir, name, "t10k", out->num_classes, &out->test, err);
    if (!rc && (out->train.rows != out->test.rows || out->train.cols != out->test.cols))
        rc = ib_fail(err, IB_EXIT_USAGE, "%s/%s: image size mismatch: training images are %d x %d, "
                     "test images are %d x %d", data_dir, name, out->train.rows, out->train.cols,
                     out->test.rows, out->test.cols);
    if (rc) ib_dataset_free(out);
    return rc;
}

static void images_free(ib_images *im) {
    free(im->pixels);
    free(im->labels);
    memset(im, 0, sizeof *im);
}

void ib_dataset_free(ib_dataset *ds) {
    if (!ds) return;
    images_free(&ds->train);
    images_free(&ds->test);
}
