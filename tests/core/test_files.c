/* The core file helpers every writer relies on (src/core/util.c): atomic writes leave the old file
 * or the new one and no temporary file, locks exclude a second holder and name the first, stale
 * temporary files are recognised by initbench's own naming only. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
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
    touch("curve.csv.tmp.1234");
    touch("stats.csv.tmp.77");
    touch("notes.tmp.txt");     /* not a pid */
    touch("run.json.tmp.12a");  /* not only digits */
    touch("users.csv");
    CHECK(ib_remove_stale_temps(root, "curve") == 1, "a prefix limits the sweep to its files");
    CHECK(access(path_in("stats.csv.tmp.77"), F_OK) == 0, "another prefix's temporary file stays");
    CHECK(ib_remove_stale_temps(root, NULL) == 1, "only <name>.tmp.<digits> is ours");
    CHECK(access(path_in("notes.tmp.txt"), F_OK) == 0 && access(path_in("run.json.tmp.12a"), F_OK) == 0 &&
              access(path_in("users.csv"), F_OK) == 0,
          "files initbench does not name that way are never removed");
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
    test_mkdir();
    test_tmpdir_remove(root);
    return check_finish("core files");
}
