/* The sweep manifest DIR/sweep.json: the (stddev, repeat) grid as a list of tasks, each with its
 * run directory and the `initbench train` argv that runs it. Written once by `initbench sweep`;
 * every executor, status, resume and collect work from the loaded form. */
#ifndef IB_SWEEP_MANIFEST_H
#define IB_SWEEP_MANIFEST_H

#include <stddef.h>

#include "config.h"
#include "sweepdir.h"
#include "util.h"

/* One task: index, repeat, stddev, seed, its run directory relative to the sweep directory and
 * its train argv (without --out/--threads/--progress); the file format is src/rundir's. */
typedef ib_sweep_task sweep_task;

/* A loaded manifest. */
typedef struct sweep {
    char dir[4096]; /* absolute */
    sweep_task *tasks;
    int n;
} sweep;

/* sw->dir + "/" + the formatted rest (truncated to len). */
void sweep_path(const sweep *sw, char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Comma-separated task indices ("3", "0,4,5"), each in [0, n_tasks), into out[]; returns the
 * count or -1. */
int sweep_parse_index_list(const char *s, int n_tasks, int *out, int max);

/* Write the manifest of a new sweep (tasks[] with their argv filled) as DIR/sweep.json, or when
 * one is there check it holds the same tasks: rerunning with other settings on the same directory
 * is refused rather than silently mixing two experiments. */
int sweep_write_or_check_manifest(const char *dir, const char *preset, unsigned long long base_seed,
                                  const ib_train_config *cfg, const sweep_task *tasks, int n, ib_err *err);

/* Load DIR/sweep.json (read and checked by ib_manifest_read); every failure names the file. */
int sweep_load(const char *dir, sweep *sw, ib_err *err);
void sweep_free(sweep *sw);

#endif
