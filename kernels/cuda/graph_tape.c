/* CUDA graph bookkeeping without CUDA: see graph_tape.h. */
#include "graph_tape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ib_tape_init(ib_tape *t) { memset(t, 0, sizeof *t); }

void ib_tape_free(ib_tape *t) {
    for (int i = 0; i < IB_TAPE_SEGMENTS; i++) free(t->seg[i].fp);
    free(t->def);
    memset(t, 0, sizeof *t);
}

static ib_tape_segment *find_segment(ib_tape *t, int id) {
    for (int i = 0; i < IB_TAPE_SEGMENTS; i++)
        if (t->seg[i].used && t->seg[i].id == id) return &t->seg[i];
    for (int i = 0; i < IB_TAPE_SEGMENTS; i++)
        if (!t->seg[i].used) {
            t->seg[i].used = 1, t->seg[i].id = id;
            return &t->seg[i];
        }
    return NULL;
}

ib_tape_mode ib_tape_begin(ib_tape *t, int id, char *err, size_t err_len) {
    if (t->cur) {
        snprintf(err, err_len, "segment %d begun while segment %d is open (segments do not nest)", id, t->cur->id);
        return IB_TAPE_OFF;
    }
    ib_tape_segment *s = find_segment(t, id);
    if (!s) {
        snprintf(err, err_len, "segment %d: all %d segment slots are taken", id, IB_TAPE_SEGMENTS);
        return IB_TAPE_OFF;
    }
    t->cur = s;
    t->pos = 0, t->slot_used = 0, t->poisoned = 0, t->poison[0] = 0, t->n_def = 0;
    if (s->disabled || s->runs == 0) t->mode = IB_TAPE_EAGER;
    else if (!s->exec) t->mode = IB_TAPE_CAPTURE;
    else t->mode = IB_TAPE_REPLAY;
    if (t->mode == IB_TAPE_CAPTURE) s->n_fp = 0;
    s->runs++;
    return t->mode;
}

void ib_tape_poison(ib_tape *t, const char *why) {
    if (t->poisoned) return; /* the first reason is the one that matters */
    t->poisoned = 1;
    snprintf(t->poison, sizeof t->poison, "%s", why);
}

int ib_tape_op(ib_tape *t, uint64_t fingerprint) {
    ib_tape_segment *s = t->cur;
    if (!s || t->mode == IB_TAPE_EAGER) return 1;
    if (t->poisoned) return 0;
    size_t k = t->pos++;
    if (t->mode == IB_TAPE_CAPTURE) {
        if (s->n_fp == s->cap_fp) {
            s->cap_fp = s->cap_fp ? 2 * s->cap_fp : 64;
            s->fp = realloc(s->fp, s->cap_fp * sizeof *s->fp);
            if (!s->fp) abort();
        }
        s->fp[s->n_fp++] = fingerprint;
        return 1;
    }
    if (k >= s->n_fp || s->fp[k] != fingerprint) {
        char why[160];
        if (k >= s->n_fp)
            snprintf(why, sizeof why, "the replay calls more ops than the %zu captured", s->n_fp);
        else
            snprintf(why, sizeof why, "op %zu of the replay differs from the captured one (kind, shape or buffers)",
                     k + 1);
        ib_tape_poison(t, why);
    }
    return 0;
}

size_t ib_tape_slot(ib_tape *t, size_t bytes) {
    ib_tape_segment *s = t->cur;
    if (!s) return IB_TAPE_NO_SLOT;
    size_t off = t->slot_used;
    size_t rounded = (bytes + IB_TAPE_ALIGN - 1) / IB_TAPE_ALIGN * IB_TAPE_ALIGN;
    if (t->mode == IB_TAPE_EAGER) {
        t->slot_used += rounded;
        return IB_TAPE_NO_SLOT;
    }
    if (t->poisoned) return IB_TAPE_NO_SLOT;
    if (off + rounded > s->block_cap || off + rounded > s->slot_bytes) {
        char why[160];
        snprintf(why, sizeof why, "per-step values need more than the %zu bytes the first run measured",
                 s->slot_bytes);
        ib_tape_poison(t, why);
        return IB_TAPE_NO_SLOT;
    }
    t->slot_used += rounded;
    return off;
}

int ib_tape_forbid(ib_tape *t, const char *what) {
    if (!t->cur || t->mode == IB_TAPE_EAGER) return 0;
    char why[200];
    snprintf(why, sizeof why, "%s inside the segment cannot be recorded", what);
    ib_tape_poison(t, why);
    return 1;
}

void ib_tape_defer_xent(ib_tape *t, double *loss_sum, int *correct, int batch, size_t loss_off, size_t correct_off) {
    if (t->n_def == t->cap_def) {
        t->cap_def = t->cap_def ? 2 * t->cap_def : 4;
        t->def = realloc(t->def, t->cap_def * sizeof *t->def);
        if (!t->def) abort();
    }
    t->def[t->n_def++] = (ib_tape_deferred){loss_sum, correct, batch, loss_off, correct_off};
}

void ib_tape_disable(ib_tape_segment *s, const char *why) {
    s->disabled = 1;
    snprintf(s->why, sizeof s->why, "%s", why);
}

ib_tape_finish_action ib_tape_finish(ib_tape *t) {
    ib_tape_segment *s = t->cur;
    if (!s) return IB_TAPE_DONE;
    if (t->mode == IB_TAPE_EAGER) {
        if (!s->disabled && s->runs == 1) s->slot_bytes = t->slot_used; /* the warm-up run measured it */
        return IB_TAPE_DONE;
    }
    if (!t->poisoned && t->mode == IB_TAPE_REPLAY && t->pos != s->n_fp) {
        char why[160];
        snprintf(why, sizeof why, "the replay called %zu ops, the capture %zu", t->pos, s->n_fp);
        ib_tape_poison(t, why);
    }
    if (!t->poisoned && t->slot_used != s->slot_bytes) {
        char why[160];
        snprintf(why, sizeof why, "per-step values took %zu bytes, the first run %zu", t->slot_used, s->slot_bytes);
        ib_tape_poison(t, why);
    }
    if (t->poisoned) {
        ib_tape_disable(s, t->poison);
        return IB_TAPE_REDO;
    }
    return IB_TAPE_LAUNCH;
}

void ib_tape_deliver(ib_tape *t, const unsigned char *block) {
    for (size_t i = 0; i < t->n_def; i++) {
        const ib_tape_deferred *d = &t->def[i];
        double total = 0;
        int right = 0;
        for (int n = 0; n < d->batch; n++) {
            double l;
            int c;
            memcpy(&l, block + d->loss_off + (size_t)n * sizeof l, sizeof l);
            memcpy(&c, block + d->correct_off + (size_t)n * sizeof c, sizeof c);
            total += l, right += c;
        }
        *d->loss_sum = total;
        *d->correct = right;
    }
    t->n_def = 0;
}

void ib_tape_close(ib_tape *t) {
    t->cur = NULL;
    t->mode = IB_TAPE_OFF;
    t->n_def = 0;
}
