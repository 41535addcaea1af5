/* LD_PRELOAD shim for tests/test_security.sh: flock(2) fails with ENOLCK, as on an NFS mount
 * without a lock manager, so the message and the IB_LOCK=claim way out can be tested here. */
#include <errno.h>
#include <sys/file.h>

int flock(int fd, int op) {
    (void)fd;
    (void)op;
    errno = ENOLCK;
    return -1;
}
