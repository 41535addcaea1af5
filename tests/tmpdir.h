/* A private temporary directory for a C test, under $TMPDIR (else /tmp), removed at the end.
 * The including file defines _XOPEN_SOURCE 700 (nftw) before its first include. */
#ifndef IB_TEST_TMPDIR_H
#define IB_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* buf gets "<tmp>/<name>-XXXXXX", created; returns 0, or -1 after saying why. */
static inline int test_tmpdir_make(char *buf, size_t len, const char *name) {
    const char *root = getenv("TMPDIR");
    snprintf(buf, len, "%s/%s-XXXXXX", root && root[0] ? root : "/tmp", name);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

static inline int test_tmpdir_remove_entry_(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static inline void test_tmpdir_remove(const char *dir) {
    if (nftw(dir, test_tmpdir_remove_entry_, 16, FTW_DEPTH | FTW_PHYS) != 0) perror(dir);
}

#endif
