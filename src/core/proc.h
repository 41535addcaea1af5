/* Child processes, always started from an argv array, never through a shell (no quoting to get
 * wrong, no word splitting of paths). Two kinds: a command run to completion with its output
 * captured and a time limit (sbatch, squeue, scontrol), and an initbench child started in the
 * background and waited for separately, so that the caller can pass signals on to it meanwhile. */
#ifndef IB_PROC_H
#define IB_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "util.h"

/* Run argv[0] (looked up in PATH) to completion, in a process group of its own, for at most
 * timeout_s seconds (<= 0: no limit), capturing its stdout and stderr (each NUL-terminated, the
 * caller frees; a NULL pointer discards that stream). Returns the exit status (0..255), 128+N if
 * killed by signal N, -1 if it could not be started (errno says why: ENOENT and such), -2 on
 * timeout (the command and its process group are killed). */
int ib_proc_run(char *const argv[], double timeout_s, char **out, char **err_out);

/* Start argv[0] (a path, not looked up) in the background, its stdout and stderr going to
 * output_fd (-1: this process's own). None of this process's signal handlers runs in it, even
 * before exec, so a signal passed on to it right after the start reaches the program. It gets
 * SIGTERM when this process dies, so a killed sweep leaves no child running on unwatched (an
 * initbench train checkpoints and exits 75 on it). If it cannot be executed it prints
 * "initbench: cannot run PATH: REASON" there and exits 1.
 * Returns its pid, or -1 with err set when fork fails. */
pid_t ib_proc_start(char *const argv[], int output_fd, ib_err *err);

/* Wait for the child pid, through interruptions by signals (a handler passing a signal on to the
 * child runs meanwhile). Returns its exit status (0..255), or 128+N when signal N killed it;
 * *term_signal (optional) gets N, or 0 when it exited. -1 if it cannot be waited for. */
int ib_proc_wait(pid_t pid, int *term_signal);

/* Wait once for any child. Returns its pid, with *status and *term_signal as ib_proc_wait gives
 * them; or -1, with errno EINTR when a signal came first (for the caller to pass it on). */
pid_t ib_proc_wait_any(int *status, int *term_signal);

/* The path of the running executable, to start it again as a child. */
int ib_proc_self_exe(char *buf, size_t len, ib_err *err);

#endif
