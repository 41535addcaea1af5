#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- commands run to completion, output captured -------------------------------------------- */

typedef struct out_buf {
    char *p;
    size_t n, cap;
} out_buf;

static void out_buf_add(out_buf *b, const char *s, size_t n) {
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

/* Read the child's stdout (fds[0]) and stderr (fds[1]) until both close or timeout_s passes
 * (<= 0: no limit). Returns 1 on timeout. */
static int drain_output(struct pollfd fds[2], out_buf *bo, out_buf *be, double timeout_s) {
    const double deadline = ib_now() + timeout_s;
    int open_fds = 2;
    while (open_fds > 0) {
        int wait_ms = -1;
        if (timeout_s > 0) {
            double left = deadline - ib_now();
            if (left <= 0) return 1;
            wait_ms = (int)(left * 1000) + 1;
        }
        int rc = poll(fds, 2, wait_ms);
        if (rc < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char chunk[4096];
            ssize_t k = read(fds[i].fd, chunk, sizeof chunk);
            if (k > 0) {
                out_buf_add(i ? be : bo, chunk, (size_t)k);
            } else if (k == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    return 0;
}

int ib_proc_run(char *const argv[], double timeout_s, char **out, char **err_out) {
    if (out) *out = NULL;
    if (err_out) *err_out = NULL;
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
        sigset_t none; /* a train holds its stop signals blocked; the command must not inherit that */
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
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
    out_buf bo = {0}, be = {0};
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int timed_out = drain_output(fds, &bo, &be, timeout_s);
    if (timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!bo.p) out_buf_add(&bo, "", 0);
    if (!be.p) out_buf_add(&be, "", 0);
    if (out) *out = bo.p;
    else free(bo.p);
    if (err_out) *err_out = be.p;
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

/* ---- children started in the background ----------------------------------------------------- */

/* In a forked child before exec: this process's signal handlers must not run there (one that
 * passes signals on would swallow a signal meant for the child), so every caught signal goes
 * back to its default, as exec would do; then the mask the parent had. A signal that arrived
 * meanwhile acts on the child as on the program it is about to run. */
static void reset_signals(const sigset_t *mask) {
    for (int s = 1; s < NSIG; s++) {
        struct sigaction sa;
        if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) signal(s, SIG_DFL);
    }
    pthread_sigmask(SIG_SETMASK, mask, NULL);
}

pid_t ib_proc_start(char *const argv[], int output_fd, ib_err *err) {
    fflush(NULL);
    const pid_t parent = getpid();
    sigset_t all, mask;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &mask); /* no handler runs in the child before reset_signals */
    pid_t pid = fork();
    if (pid == 0) {
        /* stop when the parent dies rather than run on unwatched, holding its run's lock */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        reset_signals(&mask);
        if (getppid() != parent) raise(SIGTERM); /* the parent died before prctl took effect */
        if (output_fd >= 0) {
            dup2(output_fd, 1);
            dup2(output_fd, 2);
        }
        execv(argv[0], argv);
        fprintf(stderr, "initbench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(IB_EXIT_INTERNAL);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    if (pid < 0) {
        ib_fail(err, IB_EXIT_INTERNAL, "fork failed: %s", strerror(fork_errno));
        return -1;
    }
    return pid;
}

static int status_of(int ws, int *term_signal) {
    if (term_signal) *term_signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
    if (WIFEXITED(ws)) return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
    return -1;
}

int ib_proc_wait(pid_t pid, int *term_signal) {
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR) {
            if (term_signal) *term_signal = 0;
            return -1;
        }
    }
    return status_of(ws, term_signal);
}

pid_t ib_proc_wait_any(int *status, int *term_signal) {
    int ws = 0;
    pid_t pid = wait(&ws);
    if (pid > 0) *status = status_of(ws, term_signal);
    return pid;
}

int ib_proc_self_exe(char *buf, size_t len, ib_err *err) {
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0) return ib_fail(err, IB_EXIT_INTERNAL, "cannot find the initbench executable: %s", strerror(errno));
    buf[n] = 0;
    return 0;
}
