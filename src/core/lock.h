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
 * filesystem type, unless IB_LOCK=claim is set: then the claim alone excludes.
 *
 * A holder's claim has a heartbeat: a thread gives every claim still held a fresh mtime each beat
 * (IB_CLAIM_BEAT seconds, default 10; 0 turns it off), and the beat is written in the claim. A
 * waiter (ib_lock_file_wait) that sees the mtime unchanged for IB_CLAIM_STALE_BEATS beats on its
 * own clock has proven the holder frozen or cut off, and takes the claim over. A holder that finds
 * its claim taken (at a beat, or at ib_lock_check_held) stops at once with IB_EXIT_LOST, writing
 * nothing more (docs/RELIABILITY.md, "Copies of one task"). */
#ifndef IB_LOCK_H
#define IB_LOCK_H

#include "util.h"

#define IB_CLAIM_BEAT_DEFAULT 10
#define IB_CLAIM_BEAT_MAX 3600
#define IB_CLAIM_STALE_BEATS 6
/* The exit status of a process that lost a claim to a copy that proved it gone. */
#define IB_EXIT_LOST 76

/* Who holds a claim: host, pid, the pid's start time in clock ticks since boot (/proc/PID/stat),
 * the Slurm job id ("123" or "123_4"; "" outside Slurm) and the heartbeat in seconds (0: none). */
typedef struct ib_claim {
    char host[256];
    long pid;
    unsigned long long start;
    char job[64];
    int beat;
} ib_claim;

/* The heartbeat (IB_CLAIM_BEAT) and the wait (IB_LOCK_WAIT, dflt when unset) from the environment;
 * a value that is not a whole number of seconds in range is a usage error (exit 2). */
int ib_claim_beat_s(void);
int ib_lock_wait_s(int dflt);

/* Take the lock on lock_path; subject names what it guards and what the holder is in messages
 * ("SUBJECT is in use by another WHAT (host h, pid p, Slurm job j)"). Returns a descriptor for
 * ib_unlock, or -1 with err filled (IB_EXIT_USAGE). Never follows a symbolic link. */
int ib_lock_file(const char *lock_path, const char *subject, const char *what, ib_err *err);

/* Told while a lock waits: waiting(arg, holder) about every half second (holder NULL when its
 * claim cannot be read), done(arg, taken) once at the end; stop(arg) nonzero ends the wait at
 * once, unlocked (a stop signal came). Any of them may be NULL. */
typedef struct ib_lock_wait_report {
    void (*waiting)(void *arg, const ib_claim *holder);
    void (*done)(void *arg, int taken);
    int (*stop)(void *arg);
    void *arg;
} ib_lock_wait_report;

/* The same, but a holder that may be alive is waited for, up to wait_s seconds (0: refuse at once,
 * as ib_lock_file does unless IB_LOCK_WAIT is set): the lock is taken when the holder ends, or
 * when its heartbeat stops (IB_CLAIM_STALE_BEATS beats without a new mtime) and no process of this
 * host holds the flock. Said on stderr at once and once a minute, naming the holder. */
int ib_lock_file_wait(const char *lock_path, const char *subject, const char *what, int wait_s,
                      const ib_lock_wait_report *report, ib_err *err);
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

/* This process's claim text (tests and messages): "host=H pid=P start=S job=J beat=B". */
void ib_claim_describe_self(char *buf, size_t len);
/* "host H, pid P, Slurm job J", for messages. */
void ib_claim_words(const ib_claim *c, char *buf, size_t len);

/* If a claim this process holds is no longer its own, stop now (IB_EXIT_LOST), as the heartbeat
 * would at its next beat. Every atomic write (util.h) checks this before it publishes its file. */
void ib_lock_check_held(void);
/* Whether a claim this process holds is no longer its own (without stopping). */
int ib_lock_lost(void);
/* Called just before a process that lost its claim exits (the task runner stops its train). */
void ib_lock_on_lost(void (*hook)(void));

/* A claim file read as data (sweep status): 0 and *c, its mtime's age in seconds; -1 when it is
 * missing or not a claim. */
int ib_claim_read(const char *path, ib_claim *c, double *age_s);
/* Whether its holder looks alive: on this host its pid with the same start time; on another, a
 * heartbeat within IB_CLAIM_STALE_BEATS beats (a claim without a heartbeat: assumed alive). */
int ib_claim_alive(const ib_claim *c, double age_s);
/* This process's claim text written atomically to path (the task runner's "waiting" note). */
int ib_claim_write_self(const char *path, ib_err *err);

#endif
