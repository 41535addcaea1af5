#include "slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void buf_add(buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

int ib_run_capture(char *const argv[], double timeout_s, char **out, char **errout) {
    if (out) *out = NULL;
    if (errout) *errout = NULL;
    int po[2], pe[2], px[2];
    if (pipe(po)) return -1;
    if (pipe(pe)) {
        close(po[0]), close(po[1]);
        return -1;
    }
    /* px reports an exec failure (errno) from the child; closed on a successful exec. */
    if (pipe(px)) {
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        return -1;
    }
    fcntl(px[1], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]), close(px[0]), close(px[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0); /* its own group, so that a timeout kills whatever it started too */
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]), close(px[0]);
        execvp(argv[0], argv);
        int e = errno;
        ssize_t w = write(px[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    setpgid(pid, pid);
    close(po[1]), close(pe[1]), close(px[1]);
    int exec_errno = 0;
    ssize_t r = read(px[0], &exec_errno, sizeof exec_errno);
    close(px[0]);
    buf bo = {0}, be = {0};
    int timed_out = 0;
    double deadline = ib_now() + timeout_s;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        double left = deadline - ib_now();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int rc = poll(fds, 2, (int)(left * 1000) + 1);
        if (rc < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char chunk[4096];
            ssize_t k = read(fds[i].fd, chunk, sizeof chunk);
            if (k > 0) {
                buf_add(i ? &be : &bo, chunk, (size_t)k);
            } else if (k == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    if (timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!bo.p) buf_add(&bo, "", 0);
    if (!be.p) buf_add(&be, "", 0);
    if (out) *out = bo.p;
    else free(bo.p);
    if (errout) *errout = be.p;
    else free(be.p);
    if (r == (ssize_t)sizeof exec_errno && exec_errno) {
        errno = exec_errno;
        return -1;
    }
    if (timed_out) return -2;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

void ib_last_line(const char *s, char *out, size_t len) {
    if (!len) return;
    out[0] = 0;
    if (!s) return;
    const char *end = s + strlen(s);
    while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) end--;
    const char *start = end;
    while (start > s && start[-1] != '\n') start--;
    while (start < end && (*start == ' ' || *start == '\t')) start++;
    size_t n = (size_t)(end - start);
    if (n >= len) n = len - 1;
    memcpy(out, start, n);
    out[n] = 0;
}

int ib_slurm_ping(char *why, size_t len) {
    char *argv[] = {"scontrol", "ping", NULL};
    char *out = NULL, *err = NULL;
    int rc = ib_run_capture(argv, 15, &out, &err);
    int up = rc == 0 && out && strstr(out, "is UP");
    if (!up) {
        char line[512];
        ib_last_line(out && *out ? out : err, line, sizeof line);
        if (rc == -1) snprintf(why, len, "cannot run scontrol (is Slurm installed? %s)", strerror(errno));
        else if (rc == -2) snprintf(why, len, "'scontrol ping' did not answer within 15 s");
        else snprintf(why, len, "'scontrol ping': %s", *line ? line : "no answer");
    }
    free(out);
    free(err);
    return !up;
}

int ib_slurm_max_array_size(void) {
    char *argv[] = {"scontrol", "show", "config", NULL};
    char *out = NULL;
    int v = 1001;
    if (ib_run_capture(argv, 15, &out, NULL) == 0 && out) {
        const char *p = strstr(out, "MaxArraySize");
        if (p) {
            p = strchr(p, '=');
            if (p) {
                long x = strtol(p + 1, NULL, 10);
                if (x > 0 && x < 100000000) v = (int)x;
            }
        }
    }
    free(out);
    return v;
}
