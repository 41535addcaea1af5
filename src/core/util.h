/* Errors, atomic file output, timing: the small things every module needs. */
#ifndef IB_UTIL_H
#define IB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (docs/ARCHITECTURE.md, "Errors"): 2 for bad input or usage, 1 for internal failure. */
enum { IB_OK = 0, IB_EXIT_INTERNAL = 1, IB_EXIT_USAGE = 2 };

/* An error carried up to the command layer, which prints it once and exits with `code`.
 * Library functions return 0 on success, non-zero on failure after filling the error. */
typedef struct ib_err {
    int code;        /* IB_EXIT_USAGE or IB_EXIT_INTERNAL */
    char msg[1024];
} ib_err;

/* Fill err (printf-style) and return its code, so `return ib_fail(err, ...)` reads naturally. */
int ib_fail(ib_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Print "initbench: <msg>" to stderr and exit with the error's code. */
_Noreturn void ib_exit_err(const ib_err *err);
_Noreturn void ib_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* snprintf for text whose truncation is intended (messages, labels): a function call, so gcc's
 * -Wformat-truncation does not flag it. */
int ib_snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* qsort comparator for doubles, ascending (NaN compares equal to everything: keep them out). */
int ib_cmp_double(const void *a, const void *b);

/* A number read from a file as an integer: def when it is not finite or outside [lo, hi]
 * (a plain cast of such a value is undefined behaviour). */
static inline long long ib_num_to_ll(double v, long long lo, long long hi, long long def) {
    return v >= (double)lo && v <= (double)hi ? (long long)v : def;
}

/* Allocation that cannot fail silently: aborts with a message on OOM. */
void *ib_xmalloc(size_t n);
void *ib_xcalloc(size_t n, size_t size);
char *ib_xstrdup(const char *s);

/* Atomic output: write to "<path>.tmp.<pid>", fsync, rename over <path>, fsync the directory.
 * A killed process therefore leaves either the old file or the new one, never half of one. */
typedef struct ib_atomic_file {
    FILE *fp;
    char path[4096];
    char tmp_path[4120];
} ib_atomic_file;

int ib_atomic_open(ib_atomic_file *af, const char *path, ib_err *err);
int ib_atomic_commit(ib_atomic_file *af, ib_err *err); /* closes; on failure removes the temp file */
void ib_atomic_abort(ib_atomic_file *af);               /* closes and removes the temp file */
int ib_write_file_atomic(const char *path, const void *data, size_t len, ib_err *err);

/* Outputs only into initbench's own directories (docs/RELIABILITY.md, "Outputs"). DIR is created
 * when missing; an empty directory, or one whose marker file DIR/.initbench names the same kind, is
 * taken; anything else (a user's directory, a run directory given as a report's) is refused with
 * IB_EXIT_USAGE and nothing in it touched. The marker is written before any other output, so every
 * directory initbench writes into carries it. kind: a short word, "run" or "report". */
int ib_outdir_claim(const char *dir, const char *kind, ib_err *err);
/* 1 when DIR carries initbench's marker of this kind, 0 otherwise. */
int ib_outdir_is(const char *dir, const char *kind);
#define IB_OUTDIR_MARKER ".initbench"

/* Read a whole file into memory (NUL-terminated for convenience). */
int ib_read_file(const char *path, uint8_t **data, size_t *len, ib_err *err);

/* mkdir -p; fails with a clear message if a component is not a directory or not writable. */
int ib_mkdir_p(const char *path, ib_err *err);
int ib_path_exists(const char *path);

/* Remove the temporary files a killed writer left in dir (ib_atomic_open's names,
 * "<name>.tmp.<pid>.<6 random>", plain files owned by this user; names starting with prefix when
 * given), never following a link. Only while holding the lock that guards those files: a live writer's
 * temporary file looks the same. Returns how many were removed. */
int ib_remove_stale_temps(const char *dir, const char *prefix);
/* The same where a lock does not tell a dead writer's file from a live one's: only the files for
 * which stale(directory descriptor, name, its lstat, arg) returns non-zero are removed. */
struct stat;
typedef int (*ib_temp_stale_fn)(int dfd, const char *name, const struct stat *st, void *arg);
int ib_remove_temps_if(const char *dir, const char *prefix, ib_temp_stale_fn stale, void *arg);

/* Monotonic wall-clock seconds, and process CPU seconds. */
double ib_now(void);
double ib_cpu_time(void);

#endif
