#define _GNU_SOURCE /* mkostemp */
#include "lock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

/* ---- who holds a claim ---------------------------------------------------------------------- */

typedef ib_claim claim;

/* Host names and job ids are read from files others may write: only these characters pass. */
static int token_ok(const char *s, const char *extra) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s)) return 0;
    return 1;
}

/* Field 22 of /proc/PID/stat; 0 when the process does not exist or has ended (a zombie, never
 * reaped where nobody waits for orphans, still answers kill(pid, 0)), or /proc is unreadable. */
static unsigned long long proc_start_time(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p || !p[1] || p[2] == 'Z' || p[2] == 'X') return 0;
    unsigned long long v = 0;
    for (int field = 2; *p && field < 22; p++)
        if (*p == ' ') field++;
    if (sscanf(p, "%llu", &v) != 1) return 0;
    return v;
}

static void self_claim(claim *c) {
    memset(c, 0, sizeof *c);
    if (gethostname(c->host, sizeof c->host - 1) != 0 || !token_ok(c->host, ".-_")) snprintf(c->host, sizeof c->host, "unknown");
    c->pid = (long)getpid();
    c->start = proc_start_time(c->pid);
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID"), *j = getenv("SLURM_JOB_ID");
    if (aj && at && token_ok(aj, "") && token_ok(at, "")) snprintf(c->job, sizeof c->job, "%.30s_%.30s", aj, at);
    else if (j && token_ok(j, "")) snprintf(c->job, sizeof c->job, "%.60s", j);
    c->beat = ib_claim_beat_s();
}

static int claim_format(const claim *c, char *buf, size_t len) {
    return snprintf(buf, len, "host=%s pid=%ld start=%llu job=%s beat=%d\n", c->host, c->pid, c->start,
                    c->job[0] ? c->job : "-", c->beat);
}

void ib_claim_describe_self(char *buf, size_t len) {
    claim c;
    self_claim(&c);
    claim_format(&c, buf, len);
    buf[strcspn(buf, "\n")] = 0;
}

/* Parse "host=H pid=P start=S job=J[ beat=B]": 0, or -1 when the text is not a claim. A claim
 * without beat= (an initbench from before the heartbeat) never goes stale by its heartbeat. */
static int claim_parse(const char *text, claim *c) {
    memset(c, 0, sizeof *c);
    char host[256], job[64];
    long pid;
    unsigned long long start;
    int used = 0, beat = 0, used2 = 0;
    if (sscanf(text, "host=%255s pid=%ld start=%llu job=%63s%n", host, &pid, &start, job, &used) != 4) return -1;
    if (!strncmp(text + used, " beat=", 6)) {
        if (sscanf(text + used, " beat=%4d%n", &beat, &used2) != 1 || beat < 0 || beat > IB_CLAIM_BEAT_MAX) return -1;
        used += used2;
    }
    if (text[used] != '\n' || text[used + 1] != 0 || pid <= 0 || !token_ok(host, ".-_")) return -1;
    if (strcmp(job, "-") && !token_ok(job, "_")) return -1;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->pid = pid;
    c->start = start;
    snprintf(c->job, sizeof c->job, "%s", strcmp(job, "-") ? job : "");
    c->beat = beat;
    return 0;
}

static void claim_words(const claim *c, char *buf, size_t len) {
    snprintf(buf, len, "host %s, pid %ld%s%s", c->host, c->pid, c->job[0] ? ", Slurm job " : "", c->job);
}
void ib_claim_words(const ib_claim *c, char *buf, size_t len) { claim_words(c, buf, len); }

/* ---- the heartbeat's settings ----------------------------------------------------------------- */

/* A whole number in lo..hi from the environment variable name, else dflt; anything else there is
 * a usage error, said once, rather than a silently different wait. */
static int env_seconds(const char *name, int lo, int hi, int dflt) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        ib_die(IB_EXIT_USAGE, "%s must be a whole number of seconds in %d..%d, got '%.40s'", name, lo, hi, s);
    return (int)v;
}

int ib_claim_beat_s(void) { return env_seconds("IB_CLAIM_BEAT", 0, IB_CLAIM_BEAT_MAX, IB_CLAIM_BEAT_DEFAULT); }
int ib_lock_wait_s(int dflt) { return env_seconds("IB_LOCK_WAIT", 0, 30 * 86400, dflt); }

static ib_job_alive_fn job_probe;
void ib_lock_set_job_probe(ib_job_alive_fn fn) { job_probe = fn; }

/* 1 when the claim's holder is provably gone, 0 when it may be alive. have_flock: this process
 * holds the flock, which on one host always excludes; a holder takes the flock before its claim
 * and drops the claim before the flock, so a claim of this host found under the flock is stale. */
static int holder_gone(const claim *c, const claim *self, int have_flock, char *why, size_t len) {
    if (!strcmp(c->host, self->host)) {
        if (have_flock) {
            snprintf(why, len, "no process on this host holds its lock");
            return 1;
        }
        if (kill((pid_t)c->pid, 0) != 0 && errno == ESRCH) {
            snprintf(why, len, "its process is gone");
            return 1;
        }
        unsigned long long now = proc_start_time(c->pid);
        if (!now && access("/proc/self/stat", R_OK) == 0) {
            snprintf(why, len, "its process has ended");
            return 1;
        }
        if (now && c->start && now != c->start) {
            snprintf(why, len, "its pid now belongs to a newer process");
            return 1;
        }
        return 0;
    }
    if (c->job[0] && job_probe && job_probe(c->job) == 0) {
        snprintf(why, len, "its Slurm job is no longer in the queue");
        return 1;
    }
    return 0;
}

/* ---- the claims this process holds: heartbeat, release at exit ------------------------------- */

#define MAX_HELD 16
static struct held {
    int fd;
    pid_t owner; /* a forked child inherits the table but not the claim, nor the heartbeat thread */
    char claim_path[4300];
    char text[512];
} held[MAX_HELD];
static int n_held, atexit_set;
/* The table is shared with the heartbeat thread. */
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t beat_pid; /* the process whose heartbeat thread runs (0: none) */
static void (*lost_hook)(void);

/* mtime (optional) from the open file: on NFS, open revalidates the attributes (close-to-open),
 * where a stat of the path may answer from a cache up to a minute old and hide a heartbeat. */
static int read_small_mtime(const char *path, char *buf, size_t len, struct timespec *mtime) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, len - 1) : -1;
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    if (mtime) *mtime = st.st_mtim;
    return 0;
}

static int read_small(const char *path, char *buf, size_t len) { return read_small_mtime(path, buf, len, NULL); }

/* Remove the claim only while it is still ours (a stale-claim breaker may have replaced it). */
static void drop_claim(struct held *h) {
    char now[512];
    if (h->claim_path[0] && read_small(h->claim_path, now, sizeof now) == 0 && !strcmp(now, h->text))
        unlink(h->claim_path);
    h->claim_path[0] = 0;
}

static void drop_all_at_exit(void) {
    pthread_mutex_lock(&held_mu);
    for (int i = 0; i < n_held; i++)
        if (held[i].fd >= 0 && held[i].owner == getpid()) drop_claim(&held[i]);
    pthread_mutex_unlock(&held_mu);
}

void ib_lock_on_lost(void (*hook)(void)) { lost_hook = hook; }

/* Another process took over a claim we hold (it proved us gone: our heartbeat had stopped, we
 * were frozen or cut off). Nothing more may be written: say so and end at once, without atexit
 * handlers (they would touch claims that are no longer ours). */
static void claim_lost(const char *claim_path, const char *now_text) {
    claim other;
    char words[400];
    if (now_text[0] && claim_parse(now_text, &other) == 0) claim_words(&other, words, sizeof words);
    else snprintf(words, sizeof words, "nobody holds it now");
    char msg[5000];
    int n = snprintf(msg, sizeof msg, "initbench: lost the claim %s (%s): another copy proved this one gone and took "
                     "over; stopping without writing anything more\n", claim_path, words);
    if (n > 0) (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    if (lost_hook) lost_hook();
    _exit(IB_EXIT_LOST);
}

/* Is every claim we hold still ours? The first one that is not: its path and its text now. */
static int find_lost(char *path, size_t plen, char *now, size_t nlen, int touch) {
    for (int i = 0; i < n_held; i++) {
        struct held *h = &held[i];
        if (h->fd < 0 || h->owner != getpid() || !h->claim_path[0]) continue;
        if (read_small(h->claim_path, now, nlen) != 0) now[0] = 0;
        if (strcmp(now, h->text)) {
            snprintf(path, plen, "%s", h->claim_path);
            return 1;
        }
        if (touch) (void)utimensat(AT_FDCWD, h->claim_path, NULL, AT_SYMLINK_NOFOLLOW); /* mtime = now: alive */
    }
    return 0;
}

/* The heartbeat: every beat, each claim still ours gets a fresh mtime, which a waiter on another
 * node watches (docs/RELIABILITY.md, "Copies of one task"); a claim no longer ours ends the process. */
static void *beat_main(void *arg) {
    int beat = *(int *)arg;
    free(arg);
    for (;;) {
        struct timespec ts = {beat, 0};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        char path[4300], now[512];
        pthread_mutex_lock(&held_mu);
        int lost = find_lost(path, sizeof path, now, sizeof now, 1);
        pthread_mutex_unlock(&held_mu);
        if (lost) claim_lost(path, now);
    }
    return NULL;
}

/* Start the heartbeat thread once per process (called with held_mu held). */
static void beat_start(void) {
    int beat = ib_claim_beat_s();
    if (!beat || beat_pid == getpid()) return;
    int *arg = malloc(sizeof *arg);
    if (!arg) return;
    *arg = beat;
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 64 * 1024);
    sigset_t all, old; /* every signal stays with the main thread, which forwards them to train */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&th, &at, beat_main, arg) == 0) beat_pid = getpid();
    else free(arg); /* no heartbeat: the claim then goes stale for a waiter on another node, as if frozen */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
}

int ib_lock_lost(void) {
    char path[4300], now[512];
    pthread_mutex_lock(&held_mu);
    int lost = find_lost(path, sizeof path, now, sizeof now, 0);
    pthread_mutex_unlock(&held_mu);
    return lost;
}

void ib_lock_check_held(void) {
    char path[4300], now[512];
    pthread_mutex_lock(&held_mu);
    int lost = find_lost(path, sizeof path, now, sizeof now, 0);
    pthread_mutex_unlock(&held_mu);
    if (lost) claim_lost(path, now);
}

/* ---- the filesystem's name, for the message when it refuses flock -------------------------- */

static const char *fs_name(int fd, char *buf, size_t len) {
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0) return "unknown";
    static const struct { unsigned long magic; const char *name; } known[] = {
        {0x6969, "nfs"},         {0x0BD00BD0, "lustre"}, {0x47504653, "gpfs"},    {0x65735546, "fuse"},
        {0x01021994, "tmpfs"},   {0xEF53, "ext4"},       {0x58465342, "xfs"},     {0x9123683E, "btrfs"},
        {0xFE534D42, "smb2"},    {0xFF534D42, "cifs"},   {0x794C7630, "overlayfs"}, {0x19830326, "beegfs"},
        {0x00C36400, "cephfs"},  {0x6E667364, "nfsd"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if ((unsigned long)sf.f_type == known[i].magic) return known[i].name;
    snprintf(buf, len, "type 0x%lx", (unsigned long)sf.f_type);
    return buf;
}

static int claims_only(void) {
    const char *m = getenv("IB_LOCK");
    return m && !strcmp(m, "claim");
}

/* ---- taking and releasing ------------------------------------------------------------------- */

/* Create lock_path.claim holding text, atomically (link(2) of a private file: atomic on NFS too).
 * 0 created, 1 exists, -1 error (errno). */
static int claim_create(const char *claim_path, const char *text) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.XXXXXX", claim_path, (long)getpid());
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    (void)fchmod(fd, 0644);
    close(fd);
    int rc = ok ? link(tmp, claim_path) : -1, e = errno;
    unlink(tmp);
    errno = e;
    if (rc == 0) return 0;
    return e == EEXIST ? 1 : -1;
}

/* claim_create's private files left by a process killed inside it (SIGKILL between mkostemp and
 * unlink), removed by the next holder of the claim. Each holds its writer's claim text: removed
 * only when that writer is provably gone (holder_gone without the flock's word), or, empty (killed
 * before its write), after a minute, far longer than a live writer keeps one. */
static int claim_temp_stale(int dfd, const char *name, const struct stat *st, void *self) {
    char text[512], why[128];
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0) close(fd);
    if (n < 0) return 0;
    if (n == 0) return time(NULL) - st->st_mtime > 60;
    text[n] = 0;
    claim writer;
    return claim_parse(text, &writer) == 0 && holder_gone(&writer, self, 0, why, sizeof why);
}

static void remove_dead_claim_temps(const char *claim_path, const claim *self) {
    char dir[4400], prefix[4400];
    const char *slash = strrchr(claim_path, '/'), *base = slash ? slash + 1 : claim_path;
    snprintf(dir, sizeof dir, "%.*s", !slash || slash == claim_path ? 1 : (int)(slash - claim_path), slash ? claim_path : ".");
    snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    ib_remove_temps_if(dir, prefix, claim_temp_stale, (void *)self);
}

/* What a busy lock attempt saw, for a waiter. */
typedef struct busy_info {
    int by_flock;          /* a process holds the flock: on one host, alive by definition */
    int known;             /* the claim was read and parsed */
    char text[512];        /* its text */
    claim holder;
    struct timespec mtime; /* its mtime: the holder's last heartbeat */
} busy_info;

/* One try. Returns the descriptor; -1 with err filled (a refusal that waiting cannot change); -2
 * busy, err filled and *b describing the holder. stale_text: a claim text the caller has proven
 * stale by watching its heartbeat stop; found unchanged, it is broken. */
static int lock_attempt(const char *lock_path, const char *subject, const char *what, const char *stale_text,
                        busy_info *b, ib_err *err) {
    memset(b, 0, sizeof *b);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0) {
        if (errno == ELOOP)
            ib_fail(err, IB_EXIT_USAGE, "%s is a symbolic link; a lock must be a plain file initbench made (remove the link)", lock_path);
        else
            ib_fail(err, IB_EXIT_USAGE, "cannot create %s: %s", lock_path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        ib_fail(err, IB_EXIT_USAGE, "%s is not a plain file; a lock must be a plain file initbench made", lock_path);
        return -1;
    }
    char claim_path[4300], text[512], holder_text[512], words[400];
    snprintf(claim_path, sizeof claim_path, "%s.claim", lock_path);
    claim self, other;
    self_claim(&self);
    claim_format(&self, text, sizeof text);

    int have_flock = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!have_flock) {
        int e = errno;
        if (e == EWOULDBLOCK || e == EINTR) {
            b->by_flock = 1;
            if (read_small_mtime(claim_path, holder_text, sizeof holder_text, &b->mtime) == 0 &&
                claim_parse(holder_text, &other) == 0) {
                claim_words(&other, words, sizeof words);
                b->known = 1, b->holder = other;
                snprintf(b->text, sizeof b->text, "%s", holder_text);
            } else {
                snprintf(words, sizeof words, "holder unknown");
            }
            close(fd);
            ib_fail(err, IB_EXIT_USAGE, "%s is in use by another %s (%s); wait for it or stop it first", subject, what, words);
            return -2;
        }
        if ((e == ENOLCK || e == ENOSYS || e == EOPNOTSUPP || e == EINVAL) && claims_only()) {
            /* IB_LOCK=claim: the claim below is the lock (docs/RELIABILITY.md) */
        } else {
            char fsbuf[32];
            const char *fs = fs_name(fd, fsbuf, sizeof fsbuf);
            close(fd);
            ib_fail(err, IB_EXIT_USAGE,
                    "cannot lock %s: the filesystem (%s) refuses flock (%s). initbench needs a lock to keep two "
                    "processes off one %s. Use a directory on a filesystem with locks, or set IB_LOCK=claim to rely "
                    "on initbench's host/pid/Slurm-job claim files alone (docs/RELIABILITY.md, \"Locks and claims\")",
                    lock_path, fs, strerror(e), subject);
            return -1;
        }
    }

    for (int attempt = 0;; attempt++) {
        int c = claim_create(claim_path, text);
        if (c == 0) {
            remove_dead_claim_temps(claim_path, &self);
            break;
        }
        if (c < 0) {
            int e = errno;
            close(fd);
            ib_fail(err, IB_EXIT_USAGE, "cannot write the claim %s: %s", claim_path, strerror(e));
            return -1;
        }
        struct stat cst;
        struct timespec mtime = {0, 0};
        int readable = read_small_mtime(claim_path, holder_text, sizeof holder_text, &mtime) == 0;
        int planted = !readable && lstat(claim_path, &cst) == 0 && !S_ISREG(cst.st_mode);
        if ((readable && claim_parse(holder_text, &other) != 0) || planted) {
            close(fd);
            ib_fail(err, IB_EXIT_USAGE, "%s is not a claim initbench wrote (%s); if no initbench process uses %s, remove it",
                    claim_path, planted ? "not a plain file" : "unreadable contents", subject);
            return -1;
        }
        char why[128] = "";
        if (!readable) snprintf(why, sizeof why, "it vanished"); /* released meanwhile: try again */
        else if (stale_text && !strcmp(holder_text, stale_text)) snprintf(why, sizeof why, "its heartbeat stopped");
        else if (!holder_gone(&other, &self, have_flock, why, sizeof why)) {
            claim_words(&other, words, sizeof words);
            b->known = 1, b->holder = other;
            snprintf(b->text, sizeof b->text, "%s", holder_text);
            b->mtime = mtime;
            close(fd);
            ib_fail(err, IB_EXIT_USAGE,
                    "%s is claimed by another %s (%s) that may still be running (%s); if it is gone, remove %s",
                    subject, what, words,
                    strcmp(other.host, self.host) ? "another host, and its Slurm job cannot be asked" : "its process is alive",
                    claim_path);
            return -2;
        }
        if (attempt >= 3) {
            close(fd);
            ib_fail(err, IB_EXIT_USAGE, "%s: cannot take the claim %s (it keeps changing)", subject, claim_path);
            return -1;
        }
        if (readable) {
            claim_words(&other, words, sizeof words);
            fprintf(stderr, "initbench: %s: taking over the claim of %s (%s)\n", subject, words, why);
            unlink(claim_path);
        }
    }
    /* the holder also in the lock file itself, for people and for older readers */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, text, strlen(text), 0) < 0) {
        /* informative only: the lock and the claim are held */
    }
    pthread_mutex_lock(&held_mu);
    if (n_held < MAX_HELD) {
        if (!atexit_set) atexit_set = atexit(drop_all_at_exit) == 0;
        struct held *h = &held[n_held++];
        h->fd = fd;
        h->owner = getpid();
        snprintf(h->claim_path, sizeof h->claim_path, "%s", claim_path);
        snprintf(h->text, sizeof h->text, "%s", text);
        beat_start();
    }
    pthread_mutex_unlock(&held_mu);
    return fd;
}

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ib_lock_file_wait(const char *lock_path, const char *subject, const char *what, int wait_s,
                      const ib_lock_wait_report *report, ib_err *err) {
    double t0 = mono_now(), said = -1e9, seen_since = t0;
    char seen[512] = "", stale[512] = "";
    struct timespec seen_mtime = {0, 0};
    for (;;) {
        busy_info b;
        int fd = lock_attempt(lock_path, subject, what, stale[0] ? stale : NULL, &b, err);
        if (fd != -2) {
            if (report && report->done) report->done(report->arg, fd >= 0);
            return fd;
        }
        double now = mono_now();
        if (wait_s <= 0) return -1;
        /* the heartbeat: the claim's mtime, watched on this host's own clock (no clock is compared
         * with another host's); a new holder or a new beat starts the watch again */
        if (strcmp(b.text, seen) || b.mtime.tv_sec != seen_mtime.tv_sec || b.mtime.tv_nsec != seen_mtime.tv_nsec) {
            snprintf(seen, sizeof seen, "%s", b.text);
            seen_mtime = b.mtime;
            seen_since = now;
        }
        stale[0] = 0;
        int beat = b.known ? b.holder.beat : 0;
        char words[400] = "holder unknown";
        if (b.known) claim_words(&b.holder, words, sizeof words);
        if (beat > 0 && !b.by_flock && now - seen_since >= IB_CLAIM_STALE_BEATS * beat) {
            snprintf(stale, sizeof stale, "%s", b.text); /* proven: the next attempt breaks it if unchanged */
            fprintf(stderr, "initbench: %s: the claim of %s has not had a heartbeat for %.0f s (%d beats of %d s)\n",
                    subject, words, now - seen_since, IB_CLAIM_STALE_BEATS, beat);
            continue;
        }
        if (report && report->stop && report->stop(report->arg)) {
            ib_fail(err, IB_EXIT_USAGE, "%s: stopped by a signal while waiting for another %s (%s)", subject, what, words);
            if (report->done) report->done(report->arg, 0);
            return -1;
        }
        if (now - t0 >= wait_s) {
            ib_fail(err, IB_EXIT_USAGE, "%s is still held by another %s (%s) after waiting %d s; its heartbeat goes on",
                    subject, what, words, wait_s);
            if (report && report->done) report->done(report->arg, 0);
            return -1;
        }
        if (now - said >= 60) { /* say it at once, then once a minute */
            fprintf(stderr, "initbench: %s is held by another %s (%s); waiting up to %d s for it to end or for its "
                    "heartbeat to stop\n", subject, what, words, wait_s);
            said = now;
        }
        if (report && report->waiting) report->waiting(report->arg, b.known ? &b.holder : NULL);
        struct timespec ts = {0, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int ib_lock_file(const char *lock_path, const char *subject, const char *what, ib_err *err) {
    return ib_lock_file_wait(lock_path, subject, what, ib_lock_wait_s(0), NULL, err);
}

int ib_lock_dir(const char *dir, const char *what, ib_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    return ib_lock_file(path, dir, what, err);
}

void ib_unlock(int fd) {
    if (fd < 0) return;
    pthread_mutex_lock(&held_mu);
    for (int i = 0; i < n_held; i++)
        if (held[i].fd == fd) {
            if (held[i].owner == getpid()) drop_claim(&held[i]);
            held[i] = held[--n_held];
            break;
        }
    pthread_mutex_unlock(&held_mu);
    close(fd); /* closing releases the flock */
}

/* ---- claims read by others (sweep status) ----------------------------------------------------- */

int ib_claim_read(const char *path, ib_claim *c, double *age_s) {
    char text[512];
    struct timespec mtime;
    if (read_small_mtime(path, text, sizeof text, &mtime) != 0 || claim_parse(text, c) != 0) return -1;
    if (age_s) *age_s = difftime(time(NULL), mtime.tv_sec);
    return 0;
}

int ib_claim_alive(const ib_claim *c, double age_s) {
    claim self;
    self_claim(&self);
    if (!strcmp(c->host, self.host)) {
        unsigned long long now = proc_start_time(c->pid);
        return now && (!c->start || now == c->start);
    }
    return !c->beat || age_s < IB_CLAIM_STALE_BEATS * c->beat;
}

int ib_claim_write_self(const char *path, ib_err *err) {
    claim self;
    self_claim(&self);
    char text[512];
    claim_format(&self, text, sizeof text);
    return ib_write_file_atomic(path, text, strlen(text), err);
}
