/* One run: the training loop around the trainer, and the run directory it writes (through
 * src/rundir): curve.csv after every evaluation, run.json at the start and the end,
 * checkpoint.safetensors every --checkpoint-every steps and on a stop signal, the parameters. */
#include "train.h"
#include "lock.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "rundir.h"
#include "runinfo.h"

typedef struct progress {
    int mode; /* 0 none, 1 log, 2 tty */
    double last_draw;
} progress;

static void fmt_eta(double s, char *buf, size_t len) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
}

static void progress_eval(progress *p, const ib_train_config *c, const ib_curve_row *r, double steps_per_s) {
    if (!p->mode) return;
    char eta[32];
    fmt_eta(steps_per_s > 0 ? (double)(c->steps - r->step) / steps_per_s : -1, eta, sizeof eta);
    fprintf(stderr, "%sstep %lld/%lld  test_acc %.4f  test_loss %.4f  train_loss %.4f  %.1f steps/s  ETA %s\n",
            p->mode == 2 ? "\r\033[K" : "", r->step, c->steps, r->test_accuracy, r->test_loss, r->train_loss,
            steps_per_s, eta);
}

static void progress_tick(progress *p, const ib_train_config *c, long long step, double steps_per_s, double acc) {
    if (p->mode != 2) return;
    double now = ib_now();
    if (now - p->last_draw < 0.25) return;
    p->last_draw = now;
    char eta[32];
    fmt_eta(steps_per_s > 0 ? (double)(c->steps - step) / steps_per_s : -1, eta, sizeof eta);
    fprintf(stderr, "\r\033[Kstep %lld/%lld  %.1f steps/s  ETA %s  last test_acc %.4f", step, c->steps, steps_per_s,
            eta, acc);
    fflush(stderr);
}

/* SIGTERM (Slurm preemption, time limit), SIGINT and SIGUSR1 stop the run at the next step
 * boundary with a checkpoint, so that rerunning the same command resumes it. They are held
 * blocked in every thread and taken off the pending set at step boundaries; no handler ever runs.
 * A handler would be unsafe here: oneDNN 2.7's JIT sgemm kernels point the stack pointer into a
 * heap buffer, and the frame the kernel pushes for a handler lands there and corrupts the heap
 * (oneDNN issue 4845, fixed in 3.11; Debian 12 ships 2.7). */
static int stop_signal = 0;

static void stop_signal_set(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR1);
}

/* Threads started after this (OpenMP's, oneDNN's, the claim heartbeat) inherit the block. */
static void hold_stop_signals(sigset_t *old) {
    sigset_t set;
    stop_signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

/* The stop signal received so far (0: none), without waiting. */
static int take_stop_signal(void) {
    if (stop_signal) return stop_signal;
    sigset_t set;
    stop_signal_set(&set);
    const struct timespec no_wait = {0, 0};
    int sig = sigtimedwait(&set, NULL, &no_wait);
    if (sig > 0) stop_signal = sig;
    return stop_signal;
}

void ib_train_keep_stop_signals(void) { hold_stop_signals(NULL); }

static void remove_checkpoint(const char *out) {
    char path[4200];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
    unlink(path);
}

int ib_train_claim_out(const char *out, ib_err *err) {
    if (ib_outdir_is(out, "run")) return 0;
    /* a run directory of an initbench from before the marker: its run.json says so */
    ib_run_record rec;
    ib_err e;
    int legacy = ib_run_record_read(out, &rec, &e) == 0 && rec.present && rec.parsed && rec.config_text;
    ib_run_record_free(&rec);
    if (legacy) {
        char path[4200];
        snprintf(path, sizeof path, "%s/" IB_OUTDIR_MARKER, out);
        return ib_write_file_atomic(path, "initbench run\n", 14, err);
    }
    return ib_outdir_claim(out, "run", err);
}

/* What DIR/run.json says about this config: 0 no run there, 1 complete (or diverged) for this very
 * config, 2 unfinished for this config, -1 a run of another config (refused: never overwrite it),
 * -2 a run.json the reader refuses (err says which field). */
static int existing_run(const char *out, const char *config_text, ib_train_result *res, ib_err *err) {
    ib_run_record rec;
    if (ib_run_record_read(out, &rec, err)) { /* refused (a field breaks its rule): never overwritten */
        ib_run_record_free(&rec);
        return -2;
    }
    if (!rec.present) {
        ib_run_record_free(&rec);
        return 0;
    }
    int state = 2; /* unreadable: treat as unfinished, it is rewritten */
    if (rec.parsed) {
        if (!rec.config_text || strcmp(rec.config_text, config_text) != 0) {
            state = -1;
        } else if (rec.state == IB_RUN_COMPLETE || rec.state == IB_RUN_DIVERGED) {
            state = 1;
            snprintf(res->status, sizeof res->status, "%s", rec.status);
            res->final_accuracy = rec.final_accuracy;
            res->steps_done = rec.final_step >= 0 ? rec.final_step : 0;
        }
    }
    ib_run_record_free(&rec);
    return state;
}

/* Everything one run holds from its start to its end. */
typedef struct run_ctx {
    const ib_train_config *cfg;
    const char *out;
    char *config_text; /* the config as run.json and the checkpoint record it */
    ib_trainer t;
    ib_loop_state ls;
    int lock_fd, have_trainer, have_stats;
    ib_stats_recorder stats;
    ib_counters counters;
    progress prog;
    cJSON *run; /* run.json as written at the start, completed at the end */
    double *step_ms;   /* a uniform sample of the step times: all of them up to STEP_SAMPLE steps */
    long long step_ms_seen;
    unsigned long long sample_rng;
    double t0, cpu0, eval_total, train_total, elapsed_base;
    long long first_step, step, diverged_at;
    const char *status;
} run_ctx;

static void run_release(run_ctx *c) {
    cJSON_Delete(c->run);
    free(c->ls.rows);
    free(c->step_ms);
    free(c->config_text);
    if (c->run) ib_counters_free(&c->counters); /* initialised with the run.json */
    if (c->have_stats) ib_stats_close(&c->stats);
    if (c->have_trainer) ib_trainer_free(&c->t);
    ib_unlock_dir(c->lock_fd);
}

/* A checkpoint to resume from, statistics files (the trainer is built, the run directory locked). */
static int run_open(run_ctx *c, ib_err *err) {
    const ib_train_config *cfg = c->cfg;
    int rc = ib_checkpoint_load(c->out, &c->t, c->config_text, &c->ls, err);
    if (rc) return rc;
    c->first_step = c->step = c->ls.step;
    if (cfg->stats_every > 0) {
        if ((rc = ib_stats_open(&c->stats, c->out, c->t.be, c->first_step, err))) return rc;
        c->have_stats = 1;
        c->t.stats = &c->stats;
        c->t.update = c->t.be->alloc(c->t.be, c->t.net.param_count);
    }
    return 0;
}

/* run.json as the run starts (status running), and the initial parameters if asked. */
static int run_begin(run_ctx *c, ib_err *err) {
    const ib_train_config *cfg = c->cfg;
    ib_counters_init(&c->counters, cfg->papi_events);
    c->t.counters = &c->counters;
    if (!strcmp(cfg->progress, "tty") || (!strcmp(cfg->progress, "auto") && isatty(2))) c->prog.mode = 2;
    else if (strcmp(cfg->progress, "none") != 0) c->prog.mode = 1;
    if (c->first_step > 0) fprintf(stderr, "resuming %s from its checkpoint at step %lld\n", c->out, c->first_step);

    char started[32];
    ib_iso_time(started, sizeof started);
    cJSON *run = c->run = cJSON_CreateObject();
    cJSON_AddStringToObject(run, "status", "running");
    cJSON_AddStringToObject(run, "started_at", started);
    if (c->first_step > 0) cJSON_AddNumberToObject(run, "resumed_from_step", (double)c->first_step);
    cJSON_AddItemToObject(run, "config", cJSON_Parse(c->config_text));
    ib_runinfo_add(run, c->t.be);
    cJSON *params = cJSON_AddArrayToObject(run, "parameters");
    const ib_net *net = &c->t.net;
    for (int p = 0; p < net->n_params; p++) {
        cJSON *pj = cJSON_CreateObject();
        cJSON_AddStringToObject(pj, "name", net->params[p].name);
        cJSON *shape = cJSON_AddArrayToObject(pj, "shape");
        for (int d = 0; d < net->params[p].ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)net->params[p].shape[d]));
        cJSON_AddItemToArray(params, pj);
    }
    cJSON_AddNumberToObject(run, "forward_flop_per_image", net->flops_forward_per_sample);
    int rc = ib_rundir_write_json(c->out, "run.json", run, err);
    if (!rc && cfg->save_init && c->first_step == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/params_init.safetensors", c->out);
        rc = ib_save_params(net, path, cfg, 0, err);
    }
    return rc;
}

/* A curve row for `step` (evaluation of the test set, and the training loss since the last). */
static int evaluate_point(run_ctx *c, long long step, ib_err *err) {
    const ib_train_config *cfg = c->cfg;
    ib_loop_state *ls = &c->ls;
    if (ls->n_rows && ls->rows[ls->n_rows - 1].step == step) return 0; /* already in a resumed curve */
    if (step == 0) { /* the first batch's loss under the initial parameters */
        ib_trainer_load_batch(&c->t, 0);
        ib_net_forward(&c->t.net, cfg->batch, 1, cfg->seed, 0);
        double l0;
        ls->correct_acc = 0;
        ib_net_loss(&c->t.net, cfg->batch, 0, &l0, &ls->correct_acc);
        ls->loss_acc = l0 / cfg->batch;
        ls->batches_acc = 1;
    }
    double te = ib_now();
    ib_curve_row *r = ib_loop_new_row(ls);
    r->step = step;
    ib_trainer_evaluate(&c->t, &r->test_accuracy, &r->test_loss);
    c->eval_total += ib_now() - te;
    r->train_loss = ls->loss_acc / ls->batches_acc;
    r->train_accuracy = (double)ls->correct_acc / ((double)ls->batches_acc * cfg->batch);
    r->elapsed_s = c->elapsed_base + ib_now() - c->t0;
    ls->loss_acc = 0, ls->correct_acc = 0, ls->batches_acc = 0;
    int rc = ib_curve_write(c->out, ls->rows, ls->n_rows, err);
    if (!rc)
        progress_eval(&c->prog, cfg, r, c->train_total > 0 ? (step - c->first_step) / c->train_total : 0);
    return rc;
}

/* A non-finite loss at `step`: record what was seen, then stop (further steps only propagate NaN). */
static int record_divergence(run_ctx *c, double loss, ib_err *err) {
    c->diverged_at = c->step;
    c->status = "diverged";
    ib_curve_row *r = ib_loop_new_row(&c->ls);
    r->step = c->step + 1;
    r->test_accuracy = NAN;
    r->test_loss = NAN;
    r->train_loss = loss;
    r->train_accuracy = NAN;
    r->elapsed_s = c->elapsed_base + ib_now() - c->t0;
    c->step++;
    return ib_curve_write(c->out, c->ls.rows, c->ls.n_rows, err);
}

/* Step times for the median and p90 in run.json, in bounded memory: every time up to STEP_SAMPLE
 * steps (exact quantiles), then a uniform sample of that size (reservoir sampling, a fixed-seed
 * generator: the sample does not touch the run's own random streams). */
enum { STEP_SAMPLE = 1 << 16 };
static void sample_step_time(run_ctx *c, double ms) {
    long long seen = c->step_ms_seen++;
    if (seen < STEP_SAMPLE) {
        c->step_ms[seen] = ms;
        return;
    }
    c->sample_rng = c->sample_rng * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned long long j = (c->sample_rng >> 11) % (unsigned long long)(seen + 1);
    if (j < STEP_SAMPLE) c->step_ms[j] = ms;
}

/* Steps from the first (0, or the checkpoint's) to cfg->steps: evaluations on schedule,
 * checkpoints on schedule and on a stop signal, divergence detection. */
static int train_loop(run_ctx *c, ib_err *err) {
    const ib_train_config *cfg = c->cfg;
    const long long steps = cfg->steps;
    ib_loop_state *ls = &c->ls;
    int rc = 0;
    for (c->step = c->first_step; !rc; c->step++) {
        const long long step = c->step;
        if ((step % cfg->eval_every == 0 || step == steps) && (rc = evaluate_point(c, step, err))) break;
        if (step == steps) break;
        if (take_stop_signal() || (cfg->checkpoint_every > 0 && step > c->first_step && step % cfg->checkpoint_every == 0)) {
            ls->step = step;
            if ((rc = ib_checkpoint_save(c->out, &c->t, c->config_text, ls, err))) break;
            if (stop_signal) {
                c->status = "interrupted";
                break;
            }
        }
        double ts = ib_now();
        double loss = ib_trainer_step(&c->t, step, &ls->correct_acc);
        double dt = ib_now() - ts;
        if (c->t.stats_failed) {
            *err = c->t.stats_err;
            rc = err->code;
            break;
        }
        sample_step_time(c, 1e3 * dt);
        c->train_total += dt;
        if (!isfinite(loss)) {
            rc = record_divergence(c, loss, err);
            break;
        }
        ls->loss_acc += loss;
        ls->batches_acc++;
        progress_tick(&c->prog, cfg, step + 1, (step + 1 - c->first_step) / c->train_total,
                      ls->n_rows ? ls->rows[ls->n_rows - 1].test_accuracy : 0);
    }
    return rc;
}

/* The result, from the loop's end state; the final parameters (which supersede the checkpoint). */
static int run_result(run_ctx *c, int rc, ib_train_result *res, ib_err *err) {
    const long long steps = c->cfg->steps;
    const int interrupted = !strcmp(c->status, "interrupted");
    long long steps_done = c->diverged_at >= 0 ? c->diverged_at + 1 : (c->step < steps ? c->step : steps);
    if (!rc && !interrupted) { /* the checkpoint goes only once the final run.json is durable */
        char path[4200];
        snprintf(path, sizeof path, "%s/params.safetensors", c->out);
        rc = ib_save_params(&c->t.net, path, c->cfg, steps_done, err);
    }
    res->wall_s = ib_now() - c->t0;
    long long timed = c->step_ms_seen < STEP_SAMPLE ? c->step_ms_seen : STEP_SAMPLE;
    if (timed > 0) {
        qsort(c->step_ms, (size_t)timed, sizeof(double), ib_cmp_double);
        res->step_ms_median = c->step_ms[timed / 2];
        res->step_ms_p90 = c->step_ms[(size_t)(0.9 * (double)(timed - 1))];
    }
    const ib_loop_state *ls = &c->ls;
    snprintf(res->status, sizeof res->status, "%s", rc ? "failed" : c->status);
    res->diverged_step = c->diverged_at;
    res->final_accuracy = ls->n_rows ? ls->rows[ls->n_rows - 1].test_accuracy : NAN;
    res->final_loss = ls->n_rows ? ls->rows[ls->n_rows - 1].test_loss : NAN;
    res->eval_s_mean = ls->n_rows ? c->eval_total / ls->n_rows : 0;
    res->steps_done = steps_done;
    res->interrupted_by = interrupted ? (int)stop_signal : 0;
    snprintf(res->first_nonfinite, sizeof res->first_nonfinite, "%s", c->t.nonfinite_what);
    return rc;
}

/* run.json as the run ends: status and why, timings, counters, statistics, the final point. */
static void run_json_finish(run_ctx *c, int rc, const ib_train_result *res, const ib_err *err) {
    cJSON *run = c->run;
    const int interrupted = res->interrupted_by != 0;
    cJSON_ReplaceItemInObject(run, "status", cJSON_CreateString(res->status));
    if (rc) cJSON_AddStringToObject(run, "reason", err->msg);
    if (interrupted) {
        char why[64];
        snprintf(why, sizeof why, "signal %d (%s); resume by rerunning", res->interrupted_by,
                 strsignal(res->interrupted_by));
        cJSON_AddStringToObject(run, "reason", why);
    }
    if (c->diverged_at >= 0) {
        cJSON_AddNumberToObject(run, "diverged_step", (double)c->diverged_at);
        cJSON_AddStringToObject(run, "reason", "non-finite training loss");
        cJSON_AddStringToObject(run, "first_nonfinite", c->t.nonfinite_what);
    }
    char finished[32];
    ib_iso_time(finished, sizeof finished);
    cJSON_AddStringToObject(run, "finished_at", finished);
    cJSON *timing = cJSON_AddObjectToObject(run, "timing");
    const long long timed = res->steps_done - c->first_step;
    cJSON_AddNumberToObject(timing, "wall_s", res->wall_s);
    cJSON_AddNumberToObject(timing, "cpu_s", ib_cpu_time() - c->cpu0);
    cJSON_AddNumberToObject(timing, "train_s", c->train_total);
    cJSON_AddNumberToObject(timing, "eval_s", c->eval_total);
    cJSON_AddNumberToObject(timing, "evaluations", c->ls.n_rows);
    cJSON_AddNumberToObject(timing, "step_ms_median", res->step_ms_median);
    cJSON_AddNumberToObject(timing, "step_ms_p90", res->step_ms_p90);
    cJSON_AddNumberToObject(timing, "steps_per_s", c->train_total > 0 ? timed / c->train_total : 0);
    /* with the update fused into backward, its time and counters are the backward phase's */
    cJSON_AddBoolToObject(timing, "update_in_backward", ib_trainer_fuses_update(&c->t));
    cJSON_AddItemToObject(run, "counters", ib_counters_json(&c->counters));
    if (c->have_stats) {
        const double wall = res->wall_s, stats_s = c->stats.seconds;
        cJSON *sj = cJSON_AddObjectToObject(run, "statistics");
        cJSON_AddNumberToObject(sj, "every", (double)c->cfg->stats_every);
        cJSON_AddNumberToObject(sj, "recordings", (double)c->stats.recordings);
        cJSON_AddNumberToObject(sj, "wall_s", stats_s);
        /* measured inside the run, so it holds on a noisy machine too */
        cJSON_AddNumberToObject(sj, "overhead_fraction", wall > stats_s ? stats_s / (wall - stats_s) : 0);
    }
    cJSON *fin = cJSON_AddObjectToObject(run, "final");
    cJSON_AddNumberToObject(fin, "step", (double)res->steps_done);
    if (isfinite(res->final_accuracy) && !interrupted) {
        cJSON_AddNumberToObject(fin, "test_accuracy", res->final_accuracy);
        cJSON_AddNumberToObject(fin, "test_loss", res->final_loss);
    }
}

static int train_run_held(const ib_train_config *cfg, const ib_dataset *ds, const char *out, ib_train_result *res,
                          ib_err *err) {
    memset(res, 0, sizeof *res);
    run_ctx c = {.cfg = cfg, .out = out, .lock_fd = -1, .diverged_at = -1, .status = "complete"};
    cJSON *config_json = ib_train_config_to_json(cfg);
    c.config_text = cJSON_PrintUnformatted(config_json);
    cJSON_Delete(config_json);
    /* The trainer first: a config the data or the network refuses is refused before anything is
     * written. Test hook (tests/test_security.sh race): a start-up that lasts until the file GO
     * exists, the window in which a run judged unfinished used to be finished by another process
     * before this one took the lock. */
    const char *go = getenv("IB_TEST_STARTUP_WAIT_FOR");
    for (int i = 0; go && *go && i < 6000 && !ib_path_exists(go); i++) usleep(20000); /* at most 120 s */
    int rc = ib_trainer_init(&c.t, cfg, ds, err);
    c.have_trainer = !rc;
    /* Then the directory and its lock: whether the run is complete is decided under the lock, so a
     * run that another process finishes meanwhile is seen complete, never restarted. */
    if (!rc) rc = ib_train_claim_out(out, err);
    if (!rc && (c.lock_fd = ib_lock_dir(out, "initbench run", err)) < 0) rc = err->code;
    if (rc) {
        run_release(&c);
        return rc;
    }
    if (ib_remove_stale_temps(out, NULL) > 0) /* left by a writer killed mid-write */
        fprintf(stderr, "initbench: %s: removed temporary files of an interrupted write\n", out);
    int existing = existing_run(out, c.config_text, res, err);
    if (existing == -2) {
        run_release(&c);
        return err->code;
    }
    if (existing == 1) {
        res->already_complete = 1;
        remove_checkpoint(out); /* left by a run killed after its final run.json */
        run_release(&c);
        return 0;
    }
    if (existing < 0) {
        run_release(&c);
        return ib_fail(err, IB_EXIT_USAGE,
                       "%s holds a run of a different configuration; use another --out (or delete it)", out);
    }
    rc = run_open(&c, err);
    if (!rc) rc = run_begin(&c, err);
    if (c.run) {
        c.step_ms = ib_xcalloc(STEP_SAMPLE, sizeof(double));
        c.t0 = ib_now(), c.cpu0 = ib_cpu_time();
        /* elapsed_s continues from the checkpoint's last row */
        c.elapsed_base = c.ls.n_rows ? c.ls.rows[c.ls.n_rows - 1].elapsed_s : 0;
        if (!rc) rc = train_loop(&c, err);
        if (c.prog.mode == 2) fputs("\r\033[K", stderr);
        rc = run_result(&c, rc, res, err);
        run_json_finish(&c, rc, res, err);
        ib_err err2;
        int rc2 = ib_rundir_write_json(out, "run.json", c.run, rc ? &err2 : err);
        if (!rc) rc = rc2;
        if (!rc && !res->interrupted_by) remove_checkpoint(out);
    }
    run_release(&c);
    return rc;
}

int ib_train_run(const ib_train_config *cfg, const ib_dataset *ds, const char *out, ib_train_result *res,
                 ib_err *err) {
    sigset_t old;
    hold_stop_signals(&old); /* before the trainer starts its threads, so that they inherit it */
    int rc = train_run_held(cfg, ds, out, res, err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
