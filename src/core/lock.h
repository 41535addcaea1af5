/* Locks that mean something on a cluster (docs/RELIABILITY.md, "Locks and claims").
 *
 * A lock on PATH is two things: an flock on the plain file PATH (exclusion between processes of
 * one host, and of every host where the filesystem's flock is cluster-wide) and a claim, the file
 * PATH.claim created atomically by link(2) and naming its holder: host, pid, the pid's start time
 * and the Slurm job (array) id. The claim is what another node sees where flock is node-local
 * (NFS mounted with local_lock, Lustre with localflock). A claim is broken only when its holder is
 * provably gone: on the same host its pid is gone or belongs to a newer process; on another host
 * its Slurm job is no longer in the queue (asked through the probe jobs/ installs). Anything else
 * is refused, naming the holder.
 *
 * Where the filesystem refuses flock (ENOLCK, ENOSYS, EOPNOTSUPP) the lock fails naming the
 * filesystem type, unless IB_LOCK=claim is set: then the claim alone excludes. */
#ifndef IB_LOCK_H
#define IB_LOCK_H

#include "util.h"

/* Take the lock on lock_path; subject names what it guards and what the holder is in messages
 * ("SUBJECT is in use by another WHAT (host h, pid p, Slurm job j)"). Returns a descriptor for
 * ib_unlock, or -1 with err filled (IB_EXIT_USAGE). Never follows a symbolic link. */
int ib_lock_file(const char *lock_path, const char *subject, const char *what, ib_err *err);
/* The same on DIR/.lock. */
int ib_lock_dir(const char *dir, const char *what, ib_err *err);
/* Release: the claim is removed (if still ours) and the flock dropped. Claims still held at exit
 * are removed by an atexit handler; a killed process leaves its claim, which the next taker
 * recognises as stale. */
void ib_unlock(int fd);
#define ib_unlock_dir ib_unlock

/* Whether Slurm job JOB (an id as "123" or "123_4") is still in the queue: 1 yes, 0 no, -1 cannot
 * tell. Installed by the command layer (jobs/ has squeue); without it a claim of another host is
 * never broken. */
typedef int (*ib_job_alive_fn)(const char *job);
void ib_lock_set_job_probe(ib_job_alive_fn fn);

/* This process's claim text (tests and messages): "host=H pid=P start=S job=J". */
void ib_claim_describe_self(char *buf, size_t len);

#endif
