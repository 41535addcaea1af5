#define _GNU_SOURCE /* mkostemp */
#include "util.h"
#include "lock.h"

#include <errno.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ib_fail(ib_err *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int ib_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int ib_snprintf(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

_Noreturn void ib_exit_err(const ib_err *err) {
    fprintf(stderr, "initbench: %s\n", err->msg[0] ? err->msg : "unknown error");
    exit(err->code ? err->code : IB_EXIT_INTERNAL);
}

_Noreturn void ib_die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("initbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

void *ib_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) ib_die(IB_EXIT_INTERNAL, "out of memory allocating %zu bytes", n);
    return p;
}

void *ib_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) ib_die(IB_EXIT_INTERNAL, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

char *ib_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = ib_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

static void fsync_parent_dir(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some filesystems refuse fsync on directories */
        close(fd);
    }
}

/* Permission bits for a new output file: 0666 less the umask (mkstemp creates 0600, and files of
 * a sweep on a shared filesystem are meant to be read by collaborators). */
static mode_t output_mode_bits;
static void read_umask(void) {
    mode_t m = umask(0); /* the only way to read it; set back at once, before any thread writes */
    umask(m);
    output_mode_bits = 0666 & ~m;
}
static mode_t output_mode(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_umask);
    return output_mode_bits;
}

int ib_atomic_open(ib_atomic_file *af, const char *path, ib_err *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    /* An unpredictable name created with O_EXCL: a file or symlink planted at the name is never
     * opened, so nothing outside initbench's own temporary file is written (docs/RELIABILITY.md). */
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld.XXXXXX", path, (long)getpid());
    int fd = mkostemp(af->tmp_path, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        af->tmp_path[0] = 0;
        return ib_fail(err, IB_EXIT_USAGE, "cannot write %s: %s", path, strerror(e));
    }
    (void)fchmod(fd, output_mode());
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        unlink(af->tmp_path);
        af->tmp_path[0] = 0;
        return ib_fail(err, IB_EXIT_INTERNAL, "cannot write %s: %s", path, strerror(errno));
    }
    return 0;
}

/* Test hook (docs/RELIABILITY.md): IB_FAULT_KILL_WRITING=NAME:N makes the Nth atomic write of a
 * file named NAME in this process die by SIGKILL with half its bytes in the temporary file and
 * before the rename: the worst moment for a crash, which the kill/resume tests aim at. */
static void fault_kill_writing(ib_atomic_file *af) {
    static int writes_seen;
    const char *spec = getenv("IB_FAULT_KILL_WRITING");
    if (!spec || !*spec) return;
    const char *colon = strrchr(spec, ':');
    const char *base = strrchr(af->path, '/');
    base = base ? base + 1 : af->path;
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (strlen(base) != name_len || strncmp(base, spec, name_len)) return;
    if (++writes_seen != (colon ? atoi(colon + 1) : 1)) return;
    fflush(af->fp);
    struct stat st;
    if (fstat(fileno(af->fp), &st) == 0 && ftruncate(fileno(af->fp), st.st_size / 2) == 0) fsync(fileno(af->fp));
    raise(SIGKILL);
}

int ib_atomic_commit(ib_atomic_file *af, ib_err *err) {
    if (!af->fp) return ib_fail(err, IB_EXIT_INTERNAL, "%s: atomic file not open", af->path);
    fault_kill_writing(af);
    int failed = 0, saved = 0;
    if (fflush(af->fp) != 0 || ferror(af->fp)) { failed = 1; saved = errno; }
    if (!failed && fsync(fileno(af->fp)) != 0 && errno != EINVAL) { failed = 1; saved = errno; }
    if (fclose(af->fp) != 0 && !failed) { failed = 1; saved = errno; }
    af->fp = NULL;
    /* a copy whose claim another copy took over publishes nothing (lock.h): it stops here */
    if (!failed && ib_lock_lost()) {
        unlink(af->tmp_path);
        ib_lock_check_held();
    }
    if (!failed && rename(af->tmp_path, af->path) != 0) { failed = 1; saved = errno; }
    if (failed) {
        unlink(af->tmp_path);
        return ib_fail(err, IB_EXIT_INTERNAL, "cannot write %s: %s (previous contents kept)", af->path,
                       strerror(saved ? saved : EIO));
    }
    fsync_parent_dir(af->path);
    return 0;
}

void ib_atomic_abort(ib_atomic_file *af) {
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    if (af->tmp_path[0]) unlink(af->tmp_path);
}

int ib_write_file_atomic(const char *path, const void *data, size_t len, ib_err *err) {
    ib_atomic_file af;
    if (ib_atomic_open(&af, path, err)) return err->code;
    if (len && fwrite(data, 1, len, af.fp) != len) {
        int e = errno;
        ib_atomic_abort(&af);
        return ib_fail(err, IB_EXIT_INTERNAL, "cannot write %s: %s (previous contents kept)", path, strerror(e));
    }
    return ib_atomic_commit(&af, err);
}

int ib_read_file(const char *path, uint8_t **data, size_t *len, ib_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return ib_fail(err, IB_EXIT_USAGE, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return ib_fail(err, IB_EXIT_USAGE, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = ib_xmalloc(n + 1);
    size_t got = fread(buf, 1, n, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || got != n) {
        free(buf);
        return ib_fail(err, IB_EXIT_USAGE, "%s: read failed (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

int ib_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int ib_mkdir_p(const char *path, ib_err *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char saved = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return ib_fail(err, IB_EXIT_USAGE, "cannot create directory %s: %s", buf, strerror(errno));
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
                return ib_fail(err, IB_EXIT_USAGE, "%s exists and is not a directory", buf);
            *p = saved;
            if (!saved) break;
        }
    }
    if (access(path, W_OK) != 0)
        return ib_fail(err, IB_EXIT_USAGE, "directory %s is not writable: %s", path, strerror(errno));
    return 0;
}

double ib_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ib_cpu_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "<name>.tmp.<pid>.<6 letters or digits>": the names ib_atomic_open makes, and only those. */
static int is_our_temp_name(const char *name) {
    size_t n = strlen(name);
    if (n < 7 + 5 + 1 + 1) return 0;
    const char *rnd = name + n - 6;
    for (int i = 0; i < 6; i++)
        if (!isalnum((unsigned char)rnd[i])) return 0;
    if (rnd[-1] != '.') return 0;
    const char *d = rnd - 1; /* the dot before the random part; digits precede it */
    const char *p = d;
    while (p > name && isdigit((unsigned char)p[-1])) p--;
    if (p == d || p - name < 5 + 1 || strncmp(p - 5, ".tmp.", 5)) return 0;
    return 1;
}

int ib_remove_temps_if(const char *dir, const char *prefix, ib_temp_stale_fn stale, void *arg) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0, dfd = dirfd(d);
    size_t plen = prefix ? strlen(prefix) : 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_our_temp_name(e->d_name) || (plen && strncmp(e->d_name, prefix, plen))) continue;
        /* a plain file of ours, looked at without following links, removed through the directory
         * already open (a directory swapped in between cannot redirect the unlink) */
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
            continue;
        if (stale && !stale(dfd, e->d_name, &st, arg)) continue;
        removed += unlinkat(dfd, e->d_name, 0) == 0;
    }
    closedir(d);
    return removed;
}

int ib_remove_stale_temps(const char *dir, const char *prefix) { return ib_remove_temps_if(dir, prefix, NULL, NULL); }

int ib_outdir_is(const char *dir, const char *kind) {
    char path[4200], want[64], got[64];
    if (snprintf(path, sizeof path, "%s/" IB_OUTDIR_MARKER, dir) >= (int)sizeof path) return 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return 0;
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, got, sizeof got - 1) : -1;
    close(fd);
    if (n < 0) return 0;
    got[n] = 0;
    snprintf(want, sizeof want, "initbench %s\n", kind);
    return strcmp(got, want) == 0;
}

int ib_outdir_claim(const char *dir, const char *kind, ib_err *err) {
    struct stat st;
    if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
        return ib_fail(err, IB_EXIT_USAGE, "%s exists and is not a directory", dir);
    int rc = ib_mkdir_p(dir, err);
    if (rc) return rc;
    if (ib_outdir_is(dir, kind)) return 0;
    DIR *d = opendir(dir);
    if (!d) return ib_fail(err, IB_EXIT_USAGE, "cannot read directory %s: %s", dir, strerror(errno));
    char first[256] = "";
    for (struct dirent *e; (e = readdir(d));)
        /* the marker's own temporary file, left by a process killed while writing it, does not
         * make the directory someone else's (the next lock holder removes it) */
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            !(is_our_temp_name(e->d_name) && !strncmp(e->d_name, IB_OUTDIR_MARKER ".tmp.", strlen(IB_OUTDIR_MARKER) + 5))) {
            snprintf(first, sizeof first, "%s", e->d_name);
            break;
        }
    closedir(d);
    if (first[0]) {
        char other[32] = "";
        static const char *const kinds[] = {"run", "report", "sweep", "probe"};
        for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
            if (strcmp(kinds[i], kind) && ib_outdir_is(dir, kinds[i])) snprintf(other, sizeof other, "%s", kinds[i]);
        if (other[0])
            return ib_fail(err, IB_EXIT_USAGE, "%s is an initbench %s directory, not a %s directory; choose another",
                           dir, other, kind);
        return ib_fail(err, IB_EXIT_USAGE,
                       "%s is not empty and was not made by initbench (no %s marker; it holds e.g. '%s'); refusing "
                       "to write into it: give a new or empty directory",
                       dir, IB_OUTDIR_MARKER, first);
    }
    char path[4200], text[64];
    snprintf(path, sizeof path, "%s/" IB_OUTDIR_MARKER, dir);
    int n = snprintf(text, sizeof text, "initbench %s\n", kind);
    return ib_write_file_atomic(path, text, (size_t)n, err);
}
