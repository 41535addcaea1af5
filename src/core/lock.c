#define _GNU_SOURCE /* mkostemp */
#include "lock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* ---- who holds a claim ---------------------------------------------------------------------- */

typedef struct claim {
    char host[256];
    long pid;
    unsigned long long start; /* the pid's start time in clock ticks since boot (/proc/PID/stat) */
    char job[64];             /* Slurm job id, "123" or "123_4"; "" outside Slurm */
} claim;

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
}

static int claim_format(const claim *c, char *buf, size_t len) {
    return snprintf(buf, len, "host=%s pid=%ld start=%llu job=%s\n", c->host, c->pid, c->start, c->job[0] ? c->job : "-");
}

void ib_claim_describe_self(char *buf, size_t len) {
    claim c;
    self_claim(&c);
    claim_format(&c, buf, len);
    buf[strcspn(buf, "\n")] = 0;
}

/* Parse "host=H pid=P start=S job=J": 0, or -1 when the text is not a claim. */
static int claim_parse(const char *text, claim *c) {
    memset(c, 0, sizeof *c);
    char host[256], job[64];
    long pid;
    unsigned long long start;
    int used = 0;
    if (sscanf(text, "host=%255s pid=%ld start=%llu job=%63s%n", host, &pid, &start, job, &used) != 4) return -1;
    if (text[used] != '\n' || text[used + 1] != 0 || pid <= 0 || !token_ok(host, ".-_")) return -1;
    if (strcmp(job, "-") && !token_ok(job, "_")) return -1;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->pid = pid;
    c->start = start;
    snprintf(c->job, sizeof c->job, "%s", strcmp(job, "-") ? job : "");
    return 0;
}

static void claim_words(const claim *c, char *buf, size_t len) {
    snprintf(buf, len, "host %s, pid %ld%s%s", c->host, c->pid, c->job[0] ? ", Slurm job " : "", c->job);
}

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

/* ---- the claims this process holds, removed at exit ---------------------------------------- */

#define MAX_HELD 16
static struct held {
    int fd;
    pid_t owner; /* a forked child inherits the table but not the claim */
    char claim_path[4300];
    char text[512];
} held[MAX_HELD];
static int n_held, atexit_set;

static int read_small(const char *path, char *buf, size_t len) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, len - 1) : -1;
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return 0;
}

/* Remove the claim only while it is still ours (a stale-claim breaker may have replaced it). */
static void drop_claim(struct held *h) {
    char now[512];
    if (h->claim_path[0] && read_small(h->claim_path, now, sizeof now) == 0 && !strcmp(now, h->text))
        unlink(h->claim_path);
    h->claim_path[0] = 0;
}

static void drop_all_at_exit(void) {
    for (int i = 0; i < n_held; i++)
        if (held[i].fd >= 0 && held[i].owner == getpid()) drop_claim(&held[i]);
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

int ib_lock_file(const char *lock_path, const char *subject, const char *what, ib_err *err) {
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
            if (read_small(claim_path, holder_text, sizeof holder_text) == 0 && claim_parse(holder_text, &other) == 0)
                claim_words(&other, words, sizeof words);
            else
                snprintf(words, sizeof words, "holder unknown");
            close(fd);
            ib_fail(err, IB_EXIT_USAGE, "%s is in use by another %s (%s); wait for it or stop it first", subject, what, words);
            return -1;
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
        if (c == 0) break;
        if (c < 0) {
            int e = errno;
            close(fd);
            ib_fail(err, IB_EXIT_USAGE, "cannot write the claim %s: %s", claim_path, strerror(e));
            return -1;
        }
        struct stat cst;
        int readable = read_small(claim_path, holder_text, sizeof holder_text) == 0;
        int planted = !readable && lstat(claim_path, &cst) == 0 && !S_ISREG(cst.st_mode);
        if ((readable && claim_parse(holder_text, &other) != 0) || planted) {
            close(fd);
            ib_fail(err, IB_EXIT_USAGE, "%s is not a claim initbench wrote (%s); if no initbench process uses %s, remove it",
                    claim_path, planted ? "not a plain file" : "unreadable contents", subject);
            return -1;
        }
        char why[128] = "";
        if (!readable) snprintf(why, sizeof why, "it vanished"); /* released meanwhile: try again */
        else if (!holder_gone(&other, &self, have_flock, why, sizeof why)) {
            claim_words(&other, words, sizeof words);
            close(fd);
            ib_fail(err, IB_EXIT_USAGE,
                    "%s is claimed by another %s (%s) that may still be running (%s); if it is gone, remove %s",
                    subject, what, words,
                    strcmp(other.host, self.host) ? "another host, and its Slurm job cannot be asked" : "its process is alive",
                    claim_path);
            return -1;
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
    if (n_held < MAX_HELD) {
        if (!atexit_set) atexit_set = atexit(drop_all_at_exit) == 0;
        struct held *h = &held[n_held++];
        h->fd = fd;
        h->owner = getpid();
        snprintf(h->claim_path, sizeof h->claim_path, "%s", claim_path);
        snprintf(h->text, sizeof h->text, "%s", text);
    }
    return fd;
}

int ib_lock_dir(const char *dir, const char *what, ib_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    return ib_lock_file(path, dir, what, err);
}

void ib_unlock(int fd) {
    if (fd < 0) return;
    for (int i = 0; i < n_held; i++)
        if (held[i].fd == fd) {
            if (held[i].owner == getpid()) drop_claim(&held[i]);
            held[i] = held[--n_held];
            break;
        }
    close(fd); /* closing releases the flock */
}
