/* The core file helpers every writer relies on (src/core/util.c): atomic writes leave the old file
 * or the new one and no temporary file, locks exclude a second holder and name the first, stale
 * temporary files are recognised by initbench's own naming only. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lock.h"
#include "tmpdir.h"
#include "util.h"

static char root[512];

static char *path_in(const char *name) {
    static char buf[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, name);
    return buf[k];
}

static char *slurp(const char *name) {
    uint8_t *d;
    size_t n;
    ib_err e;
    return ib_read_file(path_in(name), &d, &n, &e) ? NULL : (char *)d;
}

static void touch(const char *name) {
    FILE *f = fopen(path_in(name), "w");
    if (!f) abort();
    fputs("x", f);
    fclose(f);
}

static void test_atomic(void) {
    ib_err e = {0};
    CHECK(ib_write_file_atomic(path_in("a.txt"), "first\n", 6, &e) == 0, "write: %s", e.msg);
    CHECK(ib_write_file_atomic(path_in("a.txt"), "second\n", 7, &e) == 0, "overwrite: %s", e.msg);
    char *t = slurp("a.txt");
    CHECK(t && !strcmp(t, "second\n"), "the new content replaces the old whole");
    free(t);
    ib_atomic_file af;
    CHECK(ib_atomic_open(&af, path_in("a.txt"), &e) == 0, "open: %s", e.msg);
    fputs("half of a third vers", af.fp);
    fflush(af.fp);
    CHECK(access(af.tmp_path, F_OK) == 0 && strstr(af.tmp_path, ".tmp."), "writing goes to a temporary name");
    ib_atomic_abort(&af);
    t = slurp("a.txt");
    CHECK(t && !strcmp(t, "second\n"), "an aborted write leaves the previous version");
    free(t);
    CHECK(ib_remove_stale_temps(root, NULL) == 0, "an aborted write leaves no temporary file");
    CHECK(ib_write_file_atomic(path_in("no/such/dir/f"), "x", 1, &e) != 0 && e.code && strstr(e.msg, "no/such/dir"),
          "a write into a missing directory fails naming it: %s", e.msg);
}

static void test_lock(void) {
    ib_err e = {0};
    int fd = ib_lock_dir(root, "test holder", &e);
    CHECK(fd >= 0, "first lock: %s", e.msg);
    ib_err e2 = {0};
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    CHECK(ib_lock_dir(root, "test holder", &e2) < 0 && e2.code == IB_EXIT_USAGE && strstr(e2.msg, "test holder") &&
              strstr(e2.msg, pid),
          "a second lock is refused, naming the holder: %s", e2.msg);
    ib_unlock_dir(fd);
    fd = ib_lock_dir(root, "test holder", &e);
    CHECK(fd >= 0, "the lock can be taken again once released: %s", e.msg);
    ib_unlock_dir(fd);
}

static void test_stale_temps(void) {
    touch("curve.csv.tmp.1234.Ab3dE9");
    touch("stats.csv.tmp.77.zzzzzz");
    touch("notes.tmp.txt");            /* not a pid */
    touch("run.json.tmp.12a.abcdef");  /* not only digits */
    touch("run.json.tmp.12.abc");      /* not ib_atomic_open's 6 random characters */
    touch("curve.csv.tmp.1234");       /* the old name: initbench no longer makes it, never removes it */
    touch("users.csv");
    CHECK(symlink(path_in("users.csv"), path_in("params.tmp.55.qwerty")) == 0, "symlink");
    CHECK(ib_remove_stale_temps(root, "curve") == 1, "a prefix limits the sweep to its files");
    CHECK(access(path_in("stats.csv.tmp.77.zzzzzz"), F_OK) == 0, "another prefix's temporary file stays");
    CHECK(ib_remove_stale_temps(root, NULL) == 1, "only <name>.tmp.<digits>.<6 random> plain files are ours");
    CHECK(access(path_in("notes.tmp.txt"), F_OK) == 0 && access(path_in("run.json.tmp.12a.abcdef"), F_OK) == 0 &&
              access(path_in("run.json.tmp.12.abc"), F_OK) == 0 && access(path_in("curve.csv.tmp.1234"), F_OK) == 0 &&
              access(path_in("users.csv"), F_OK) == 0,
          "files initbench does not name that way are never removed");
    struct stat st;
    CHECK(lstat(path_in("params.tmp.55.qwerty"), &st) == 0 && S_ISLNK(st.st_mode),
          "a symbolic link with a temporary file's name is left alone");
    char *t = slurp("users.csv");
    CHECK(t && !strcmp(t, "x"), "the link's target is untouched");
    free(t);
}

/* Planted links at every path the file helpers write: their targets stay untouched. */
static void test_symlinks(void) {
    ib_err e = {0};
    CHECK(ib_mkdir_p(path_in("sym"), &e) == 0, "mkdir: %s", e.msg);
    touch("victim");
    /* the destination itself a link: replaced by the new file, the target not written */
    CHECK(symlink(path_in("victim"), path_in("sym/out.json")) == 0, "symlink");
    CHECK(ib_write_file_atomic(path_in("sym/out.json"), "{}\n", 3, &e) == 0, "write over a link: %s", e.msg);
    char *t = slurp("victim");
    CHECK(t && !strcmp(t, "x"), "the target of a link at the destination is untouched");
    free(t);
    struct stat st;
    CHECK(lstat(path_in("sym/out.json"), &st) == 0 && S_ISREG(st.st_mode), "the link was replaced by a plain file");
    /* the old predictable temporary name planted as a link: never opened now */
    char planted[700];
    snprintf(planted, sizeof planted, "%s.tmp.%ld", path_in("sym/curve.csv"), (long)getpid());
    CHECK(symlink(path_in("victim"), planted) == 0, "symlink");
    CHECK(ib_write_file_atomic(path_in("sym/curve.csv"), "step\n", 5, &e) == 0, "write: %s", e.msg);
    t = slurp("victim");
    CHECK(t && !strcmp(t, "x"), "a link at the old temporary name is not followed");
    free(t);
    /* a lock file that is a link: refused, the target untouched */
    CHECK(symlink(path_in("victim"), path_in("sym/.lock")) == 0, "symlink");
    int fd = ib_lock_dir(path_in("sym"), "test holder", &e);
    CHECK(fd < 0 && e.code == IB_EXIT_USAGE && strstr(e.msg, "symbolic link"), "a linked lock file is refused: %s",
          e.msg);
    ib_unlock_dir(fd);
    t = slurp("victim");
    CHECK(t && !strcmp(t, "x"), "the linked lock's target is untouched");
    free(t);
    unlink(path_in("sym/.lock"));
    /* a claim that is a link: refused */
    CHECK(symlink(path_in("victim"), path_in("sym/.lock.claim")) == 0, "symlink");
    fd = ib_lock_dir(path_in("sym"), "test holder", &e);
    CHECK(fd < 0 && strstr(e.msg, "not a claim initbench wrote"), "a linked claim is refused: %s", e.msg);
    ib_unlock_dir(fd);
    t = slurp("victim");
    CHECK(t && !strcmp(t, "x"), "the linked claim's target is untouched");
    free(t);
}

static int probe_answer;
static int fake_probe(const char *job) { return strcmp(job, "4242_7") ? -1 : probe_answer; }

static void put_file(const char *name, const char *text) {
    FILE *f = fopen(path_in(name), "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static void put_claim(const char *text) { put_file("cl/.lock.claim", text); }

/* Claims: a holder provably gone is taken over, one that may be alive is refused and named. */
static void test_claims(void) {
    ib_err e = {0};
    CHECK(ib_mkdir_p(path_in("cl"), &e) == 0, "mkdir: %s", e.msg);
    char self[512], host[256];
    ib_claim_describe_self(self, sizeof self);
    CHECK(sscanf(self, "host=%255s", host) == 1, "own claim: %s", self);
    int fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    CHECK(fd >= 0, "lock: %s", e.msg);
    char *t = slurp("cl/.lock.claim");
    CHECK(t && strstr(t, self), "the claim names this process: %s", t ? t : "(none)");
    free(t);
    ib_unlock_dir(fd);
    CHECK(access(path_in("cl/.lock.claim"), F_OK) != 0, "released: the claim is gone");

    /* same host, a pid that does not exist (beyond pid_max): stale, taken over */
    char text[600];
    snprintf(text, sizeof text, "host=%s pid=2147483646 start=1 job=-\n", host);
    put_claim(text);
    fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    CHECK(fd >= 0, "a claim of a gone process on this host is taken over: %s", e.msg);
    ib_unlock_dir(fd);
    /* same host, a live process (pid 1) with its real start time: refused */
    put_claim("");
    FILE *f = fopen("/proc/1/stat", "r");
    unsigned long long start = 0;
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        const char *p = strrchr(buf, ')');
        for (int field = 2; p && *p && field < 22; p++)
            if (*p == ' ') field++;
        if (p) sscanf(p, "%llu", &start);
    }
    snprintf(text, sizeof text, "host=%s pid=1 start=%llu job=-\n", host, start);
    put_claim(text);
    fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    /* under the flock (which on one host always excludes) a claim of this host is stale, even one
     * naming a live process: its holder would hold the flock (tests/test_security.sh nolock checks
     * the pid rules where flock is refused and the claim alone decides) */
    CHECK(fd >= 0 && !strstr(e.msg, "pid 1"), "a claim of this host found under the flock is taken over: %s", e.msg);
    ib_unlock_dir(fd);
    /* the same pid with another start time: the pid was reused, the claim is stale */
    snprintf(text, sizeof text, "host=%s pid=1 start=%llu job=-\n", host, start + 12345);
    put_claim(text);
    fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    CHECK(fd >= 0, "a reused pid's claim is taken over: %s", e.msg);
    ib_unlock_dir(fd);
    /* another host: refused unless its Slurm job is provably gone */
    put_claim("host=node-17.cluster pid=99 start=5 job=4242_7\n");
    fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    CHECK(fd < 0 && strstr(e.msg, "node-17.cluster") && strstr(e.msg, "4242_7"),
          "another host's claim without a probe is refused, naming host and job: %s", e.msg);
    ib_lock_set_job_probe(fake_probe);
    probe_answer = 1;
    fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    CHECK(fd < 0, "its job still queued: refused");
    probe_answer = -1;
    fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    CHECK(fd < 0, "squeue cannot tell: refused");
    probe_answer = 0;
    fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    CHECK(fd >= 0, "its job gone from the queue: taken over: %s", e.msg);
    ib_unlock_dir(fd);
    ib_lock_set_job_probe(NULL);
    /* text that is not a claim (someone else's file): refused, named */
    put_claim("host=a`touch x` pid=1\n");
    fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    CHECK(fd < 0 && strstr(e.msg, "not a claim initbench wrote"), "a forged claim is refused: %s", e.msg);
    unlink(path_in("cl/.lock.claim"));

    /* claim_create's private files left by writers killed inside it: the next holder removes those
     * whose writer is provably gone, and an empty one only once it is a minute old */
    snprintf(text, sizeof text, "host=%s pid=2147483646 start=1 job=-\n", host);
    put_file("cl/.lock.claim.tmp.2147483646.AAAAAA", text);                  /* writer gone */
    put_file("cl/.lock.claim.tmp.1.BBBBBB", "host=node-17.cluster pid=1 start=5 job=-\n"); /* cannot tell */
    put_file("cl/.lock.claim.tmp.2147483645.CCCCCC", "");                    /* empty, fresh */
    put_file("cl/.lock.claim.tmp.2147483644.DDDDDD", "");                    /* empty, old */
    struct timespec old[2] = {{time(NULL) - 120, 0}, {time(NULL) - 120, 0}};
    utimensat(AT_FDCWD, path_in("cl/.lock.claim.tmp.2147483644.DDDDDD"), old, 0);
    fd = ib_lock_dir(path_in("cl"), "test holder", &e);
    CHECK(fd >= 0, "lock with leftover claim temps: %s", e.msg);
    CHECK(access(path_in("cl/.lock.claim.tmp.2147483646.AAAAAA"), F_OK) != 0, "a gone writer's claim temp is removed");
    CHECK(access(path_in("cl/.lock.claim.tmp.2147483644.DDDDDD"), F_OK) != 0, "an empty claim temp a minute old is removed");
    CHECK(access(path_in("cl/.lock.claim.tmp.1.BBBBBB"), F_OK) == 0, "another host's writer, not provably gone: kept");
    CHECK(access(path_in("cl/.lock.claim.tmp.2147483645.CCCCCC"), F_OK) == 0, "a fresh empty claim temp: kept");
    ib_unlock_dir(fd);
    unlink(path_in("cl/.lock.claim.tmp.1.BBBBBB")), unlink(path_in("cl/.lock.claim.tmp.2147483645.CCCCCC"));
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The heartbeat (docs/RELIABILITY.md, "Copies of one task"): a waiter takes over a claim of
 * another host only once its mtime has stood still for IB_CLAIM_STALE_BEATS of the holder's
 * beats; a beating holder, or one from before the heartbeat, is waited for and then refused; a
 * holder whose claim was taken over stops with IB_EXIT_LOST, at a beat or at ib_lock_check_held. */
static void test_heartbeat(void) {
    ib_err e = {0};
    char self[512];
    ib_claim_describe_self(self, sizeof self);
    CHECK(strstr(self, " beat=10"), "a claim carries its heartbeat, 10 s by default: %s", self);
    CHECK(ib_mkdir_p(path_in("hb"), &e) == 0, "mkdir: %s", e.msg);
    const char *lock = path_in("hb/.lock"), *claim = path_in("hb/.lock.claim");
    ib_lock_set_job_probe(fake_probe);
    probe_answer = 1; /* its Slurm job is in the queue: only the heartbeat can prove it gone */

    /* a holder on another node whose heartbeat stopped: taken over after 6 beats of 1 s */
    FILE *f = fopen(claim, "w");
    fputs("host=node-17.cluster pid=99 start=5 job=4242_7 beat=1\n", f);
    fclose(f);
    double t0 = mono();
    int fd = ib_lock_file_wait(lock, "hb dir", "test holder", 30, NULL, &e);
    double waited = mono() - t0;
    CHECK(fd >= 0, "a claim whose heartbeat stopped is taken over: %s", e.msg);
    CHECK(waited >= 5.5 && waited < 15, "after about 6 beats of 1 s: waited %.1f s", waited);
    ib_unlock(fd);

    /* a holder on another node that beats (a child refreshing the mtime): waited for, then refused */
    f = fopen(claim, "w");
    fputs("host=node-17.cluster pid=99 start=5 job=4242_7 beat=1\n", f);
    fclose(f);
    pid_t beater = fork();
    if (beater == 0) {
        for (int k = 0; k < 200; k++) {
            utimensat(AT_FDCWD, claim, NULL, 0);
            usleep(300 * 1000);
        }
        _exit(0);
    }
    t0 = mono();
    fd = ib_lock_file_wait(lock, "hb dir", "test holder", 9, NULL, &e);
    waited = mono() - t0;
    kill(beater, SIGKILL);
    waitpid(beater, NULL, 0);
    CHECK(fd < 0 && strstr(e.msg, "still held") && strstr(e.msg, "node-17.cluster") && strstr(e.msg, "4242_7"),
          "a beating holder is never broken: %s", e.msg);
    CHECK(waited >= 8.5, "it was waited for (%.1f s)", waited);

    /* a claim without a heartbeat (an initbench from before it): never stale by its mtime */
    f = fopen(claim, "w");
    fputs("host=node-17.cluster pid=99 start=5 job=4242_7\n", f);
    fclose(f);
    fd = ib_lock_file_wait(lock, "hb dir", "test holder", 8, NULL, &e);
    CHECK(fd < 0 && strstr(e.msg, "still held"), "a claim without a heartbeat is not broken by waiting: %s", e.msg);
    unlink(claim);
    ib_lock_set_job_probe(NULL);

    /* the holder loses its claim: at its next beat, and at ib_lock_check_held, it stops with 76 */
    for (int mode = 0; mode < 2; mode++) {
        pid_t holder = fork();
        if (holder == 0) {
            setenv("IB_CLAIM_BEAT", mode ? "0" : "1", 1);
            ib_err ce;
            int hfd = ib_lock_file(lock, "hb dir", "test holder", &ce);
            if (hfd < 0) _exit(3);
            for (int k = 0; k < 100; k++) {
                usleep(100 * 1000);
                if (mode) ib_lock_check_held();
            }
            _exit(0);
        }
        for (int k = 0; k < 200 && access(claim, F_OK) != 0; k++) usleep(20 * 1000);
        ib_err we;
        CHECK(ib_write_file_atomic(claim, "host=node-3 pid=7 start=1 job=4242_7 beat=1\n", 44, &we) == 0,
              "another copy takes the claim over: %s", we.msg);
        t0 = mono();
        int st = 0;
        waitpid(holder, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == IB_EXIT_LOST && mono() - t0 < 5,
              "%s: the holder that lost its claim stopped with %d (status %d after %.1f s)",
              mode ? "ib_lock_check_held" : "the heartbeat", IB_EXIT_LOST, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
              mono() - t0);
        char *t = slurp("hb/.lock.claim");
        CHECK(t && strstr(t, "host=node-3"), "and left the new holder's claim alone");
        free(t);
        unlink(claim);
    }

    /* a bad IB_CLAIM_BEAT is a usage error, not another heartbeat */
    pid_t bad = fork();
    if (bad == 0) {
        setenv("IB_CLAIM_BEAT", "1e3", 1);
        (void)ib_claim_beat_s();
        _exit(0);
    }
    int st = 0;
    waitpid(bad, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == IB_EXIT_USAGE, "IB_CLAIM_BEAT=1e3 exits 2");
}

/* Outputs only into initbench's own directories. */
static void test_outdir(void) {
    ib_err e = {0};
    CHECK(ib_outdir_claim(path_in("od/new"), "run", &e) == 0, "a missing directory is made: %s", e.msg);
    CHECK(ib_outdir_is(path_in("od/new"), "run"), "and marked");
    CHECK(ib_outdir_claim(path_in("od/new"), "run", &e) == 0, "its own marked directory is taken again: %s", e.msg);
    CHECK(ib_outdir_claim(path_in("od/new"), "report", &e) != 0 && e.code == IB_EXIT_USAGE && strstr(e.msg, "run directory"),
          "a run directory is not a report directory: %s", e.msg);
    CHECK(ib_mkdir_p(path_in("od/empty"), &e) == 0, "mkdir");
    CHECK(ib_outdir_claim(path_in("od/empty"), "report", &e) == 0 && ib_outdir_is(path_in("od/empty"), "report"),
          "an empty directory is taken: %s", e.msg);
    CHECK(ib_mkdir_p(path_in("od/home"), &e) == 0, "mkdir");
    touch("od/home/thesis.tex");
    CHECK(ib_outdir_claim(path_in("od/home"), "run", &e) != 0 && e.code == IB_EXIT_USAGE && strstr(e.msg, "thesis.tex"),
          "a user's directory is refused: %s", e.msg);
    char *t = slurp("od/home/thesis.tex");
    CHECK(t && !strcmp(t, "x") && access(path_in("od/home/" IB_OUTDIR_MARKER), F_OK) != 0,
          "and nothing in it touched");
    free(t);
    /* a marker that is a link to a marked directory's marker does not count */
    CHECK(ib_mkdir_p(path_in("od/linked"), &e) == 0, "mkdir");
    CHECK(symlink(path_in("od/new/" IB_OUTDIR_MARKER), path_in("od/linked/" IB_OUTDIR_MARKER)) == 0, "symlink");
    CHECK(!ib_outdir_is(path_in("od/linked"), "run") && ib_outdir_claim(path_in("od/linked"), "run", &e) != 0,
          "a linked marker is not initbench's: %s", e.msg);
    /* killed while writing the marker: its temporary file alone does not make the directory foreign */
    CHECK(ib_mkdir_p(path_in("od/killed"), &e) == 0, "mkdir");
    touch("od/killed/" IB_OUTDIR_MARKER ".tmp.4321.AbCdEf");
    CHECK(ib_outdir_claim(path_in("od/killed"), "run", &e) == 0 && ib_outdir_is(path_in("od/killed"), "run"),
          "a directory holding only the marker's stale temporary file is taken: %s", e.msg);
    touch("od/file");
    CHECK(ib_outdir_claim(path_in("od/file"), "run", &e) != 0 && strstr(e.msg, "not a directory"),
          "a file in the way: %s", e.msg);
}

static void test_mkdir(void) {
    ib_err e = {0};
    CHECK(ib_mkdir_p(path_in("x/y/z"), &e) == 0 && ib_path_exists(path_in("x/y/z")), "mkdir -p: %s", e.msg);
    CHECK(ib_mkdir_p(path_in("users.csv/sub"), &e) != 0 && strstr(e.msg, "users.csv"),
          "a file in the way is named: %s", e.msg);
}

int main(void) {
    if (test_tmpdir_make(root, sizeof root, "test_files")) return 1;
    test_atomic();
    test_lock();
    test_stale_temps();
    test_symlinks();
    test_claims();
    test_heartbeat();
    test_outdir();
    test_mkdir();
    test_tmpdir_remove(root);
    return check_finish("core files");
}
