/* The CUDA graph bookkeeping (kernels/cuda/graph_tape.c) on the CPU: the modes a segment runs in,
 * per-step value offsets that agree between the measuring run, the capture and every replay,
 * replays that differ from the capture refused before anything ran, and the deferred loss sums.
 * The backend's side (capture, launch) needs a GPU: tests/test_cuda.c and bench/gpu_check.sh. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cuda/graph_tape.h"

static unsigned char block[4096];

/* One run of a three-op segment as the backend drives it: op fingerprints a, b, c; op b asks
 * for 8 bytes of per-step values, op c for the per-sample loss outputs of a batch of 3. */
typedef struct run_result {
    ib_tape_mode mode;
    int enqueued[3];
    size_t off_b, off_loss, off_correct;
    ib_tape_finish_action action;
} run_result;

static run_result run_segment(ib_tape *t, int id, uint64_t fb, int n_ops, double *loss, int *correct) {
    run_result r = {0};
    char err[200];
    r.mode = ib_tape_begin(t, id, err, sizeof err);
    if (r.mode == IB_TAPE_CAPTURE) { /* the backend allocates the block the first run measured */
        t->cur->host = block;
        t->cur->block_cap = t->cur->slot_bytes;
    }
    const uint64_t fps[3] = {101, fb, 103};
    for (int k = 0; k < n_ops; k++) {
        r.enqueued[k] = ib_tape_op(t, fps[k]);
        if (k == 1) r.off_b = ib_tape_slot(t, 8);
        if (k == 2) {
            r.off_loss = ib_tape_slot(t, 3 * sizeof(double));
            r.off_correct = ib_tape_slot(t, 3 * sizeof(int));
            if (r.off_loss != IB_TAPE_NO_SLOT && r.off_correct != IB_TAPE_NO_SLOT)
                ib_tape_defer_xent(t, loss, correct, 3, r.off_loss, r.off_correct);
        }
    }
    r.action = ib_tape_finish(t);
    if (r.action == IB_TAPE_LAUNCH) {
        if (r.mode == IB_TAPE_CAPTURE) t->cur->exec = (void *)t; /* "instantiated" */
        ib_tape_deliver(t, block);
    }
    ib_tape_close(t);
    return r;
}

static void put_losses(size_t off_loss, size_t off_correct, const double l[3], const int c[3]) {
    memcpy(block + off_loss, l, 3 * sizeof(double));
    memcpy(block + off_correct, c, 3 * sizeof(int));
}

int main(void) {
    ib_tape t;
    ib_tape_init(&t);
    double loss = -1;
    int correct = -1;

    /* outside any segment: ops run as called, nothing is staged or forbidden */
    CHECK(ib_tape_op(&t, 1) == 1, "no segment: ops enqueue");
    CHECK(ib_tape_slot(&t, 8) == IB_TAPE_NO_SLOT, "no segment: no staging");
    CHECK(ib_tape_forbid(&t, "x") == 0, "no segment: nothing forbidden");

    /* 1st run: eager, measures the per-step bytes (8 -> 16, 24 -> 32, 12 -> 16: aligned) */
    run_result r = run_segment(&t, 7, 102, 3, &loss, &correct);
    CHECK(r.mode == IB_TAPE_EAGER && r.action == IB_TAPE_DONE, "first run eager (mode %d, action %d)", r.mode,
          r.action);
    CHECK(r.enqueued[0] && r.enqueued[1] && r.enqueued[2], "eager ops enqueue");
    CHECK(r.off_b == IB_TAPE_NO_SLOT && r.off_loss == IB_TAPE_NO_SLOT, "eager: values travel as arguments");
    CHECK(t.seg[0].slot_bytes == 64, "measured %zu bytes, expected 64", t.seg[0].slot_bytes);
    CHECK(loss == -1 && correct == -1, "eager: the tape delivers nothing (the op does)");

    /* 2nd run: capture; the ops enqueue (into the graph) and get their offsets */
    r = run_segment(&t, 7, 102, 3, &loss, &correct);
    CHECK(r.mode == IB_TAPE_CAPTURE && r.action == IB_TAPE_LAUNCH, "second run captures (mode %d, action %d)", r.mode,
          r.action);
    CHECK(r.enqueued[0] && r.enqueued[1] && r.enqueued[2], "capture: ops enqueue");
    CHECK(r.off_b == 0 && r.off_loss == 16 && r.off_correct == 48, "offsets %zu %zu %zu", r.off_b, r.off_loss,
          r.off_correct);
    CHECK(t.seg[0].n_fp == 3, "3 fingerprints recorded, got %zu", t.seg[0].n_fp);

    /* replays: nothing enqueues, the same offsets, the losses summed in sample order */
    const double l[3] = {1e16, 1.0, -1e16};
    const int c[3] = {1, 0, 1};
    put_losses(16, 48, l, c);
    for (int rep = 0; rep < 3; rep++) {
        loss = -1, correct = -1;
        r = run_segment(&t, 7, 102, 3, &loss, &correct);
        CHECK(r.mode == IB_TAPE_REPLAY && r.action == IB_TAPE_LAUNCH, "replay %d (mode %d, action %d)", rep, r.mode,
              r.action);
        CHECK(!r.enqueued[0] && !r.enqueued[1] && !r.enqueued[2], "replay: no op enqueues");
        CHECK(r.off_b == 0 && r.off_loss == 16 && r.off_correct == 48, "replay offsets %zu %zu %zu", r.off_b,
              r.off_loss, r.off_correct);
        double seq = 0;
        for (int n = 0; n < 3; n++) seq += l[n];
        CHECK(loss == seq && correct == 2, "delivered loss %.17g (sample order: %.17g), correct %d", loss, seq,
              correct);
    }
    CHECK(ib_tape_forbid(&t, "x") == 0, "closed again: nothing forbidden");

    /* a second segment id is independent of the first */
    r = run_segment(&t, 8, 102, 3, &loss, &correct);
    CHECK(r.mode == IB_TAPE_EAGER, "a new segment starts eager (mode %d)", r.mode);

    /* the graph was dropped (memory it used was freed): captured again, then replayed */
    t.seg[0].exec = NULL;
    r = run_segment(&t, 7, 102, 3, &loss, &correct);
    CHECK(r.mode == IB_TAPE_CAPTURE && r.action == IB_TAPE_LAUNCH && t.seg[0].n_fp == 3,
          "recapture after invalidation (mode %d, action %d, %zu fps)", r.mode, r.action, t.seg[0].n_fp);
    r = run_segment(&t, 7, 102, 3, &loss, &correct);
    CHECK(r.mode == IB_TAPE_REPLAY && r.action == IB_TAPE_LAUNCH, "replay after recapture");

    /* a replay whose second op differs: refused, nothing enqueued, eager from then on */
    loss = -1;
    r = run_segment(&t, 7, 999, 3, &loss, &correct);
    CHECK(r.mode == IB_TAPE_REPLAY && r.action == IB_TAPE_REDO, "differing op: redo (action %d)", r.action);
    CHECK(!r.enqueued[0] && !r.enqueued[1] && !r.enqueued[2], "differing op: nothing enqueued");
    CHECK(r.off_b == IB_TAPE_NO_SLOT && r.off_loss == IB_TAPE_NO_SLOT, "poisoned: no staging after the mismatch");
    CHECK(loss == -1, "poisoned: nothing delivered");
    CHECK(t.seg[0].disabled && strstr(t.seg[0].why, "op 2"), "disabled, naming op 2: '%s'", t.seg[0].why);
    r = run_segment(&t, 7, 102, 3, &loss, &correct);
    CHECK(r.mode == IB_TAPE_EAGER && r.action == IB_TAPE_DONE && r.enqueued[0], "disabled segment runs eager");

    /* segment 8: measured; captured; a replay with fewer ops is refused at the end */
    r = run_segment(&t, 8, 102, 3, &loss, &correct);
    CHECK(r.mode == IB_TAPE_CAPTURE, "segment 8 captures");
    r = run_segment(&t, 8, 102, 2, &loss, &correct);
    CHECK(r.action == IB_TAPE_REDO && strstr(t.seg[1].why, "2 ops, the capture 3"), "fewer ops: '%s'", t.seg[1].why);

    /* a capture that needs more per-step bytes than measured, or calls what cannot be recorded */
    ib_tape t2;
    ib_tape_init(&t2);
    char err[200];
    CHECK(ib_tape_begin(&t2, 1, err, sizeof err) == IB_TAPE_EAGER, "t2 eager");
    ib_tape_slot(&t2, 16);
    CHECK(ib_tape_forbid(&t2, "growing a buffer") == 0, "eager: growth allowed");
    ib_tape_finish(&t2), ib_tape_close(&t2);
    CHECK(ib_tape_begin(&t2, 1, err, sizeof err) == IB_TAPE_CAPTURE, "t2 capture");
    t2.cur->host = block, t2.cur->block_cap = t2.cur->slot_bytes;
    CHECK(ib_tape_slot(&t2, 16) == 0, "first 16 bytes fit");
    CHECK(ib_tape_slot(&t2, 1) == IB_TAPE_NO_SLOT && t2.poisoned, "one byte more poisons");
    CHECK(ib_tape_finish(&t2) == IB_TAPE_REDO && strstr(t2.seg[0].why, "16 bytes"), "why: '%s'", t2.seg[0].why);
    ib_tape_close(&t2);
    CHECK(ib_tape_begin(&t2, 2, err, sizeof err) == IB_TAPE_EAGER, "t2 segment 2 eager");
    ib_tape_finish(&t2), ib_tape_close(&t2);
    CHECK(ib_tape_begin(&t2, 2, err, sizeof err) == IB_TAPE_CAPTURE, "t2 segment 2 capture");
    CHECK(ib_tape_forbid(&t2, "growing the loss buffers") == 1, "capture: growth forbidden");
    CHECK(ib_tape_op(&t2, 5) == 0, "after poisoning no op enqueues");
    CHECK(ib_tape_finish(&t2) == IB_TAPE_REDO && strstr(t2.seg[1].why, "growing the loss buffers"), "why: '%s'",
          t2.seg[1].why);
    ib_tape_close(&t2);
    /* a capture that asks for fewer bytes than measured: its structure changed */
    CHECK(ib_tape_begin(&t2, 3, err, sizeof err) == IB_TAPE_EAGER, "t2 segment 3");
    ib_tape_slot(&t2, 32);
    ib_tape_finish(&t2), ib_tape_close(&t2);
    ib_tape_begin(&t2, 3, err, sizeof err);
    t2.cur->host = block, t2.cur->block_cap = t2.cur->slot_bytes;
    ib_tape_slot(&t2, 16);
    CHECK(ib_tape_finish(&t2) == IB_TAPE_REDO, "fewer per-step bytes than measured: redo");
    ib_tape_close(&t2);

    /* misuse: nesting, and more segment ids than slots */
    CHECK(ib_tape_begin(&t2, 4, err, sizeof err) != IB_TAPE_OFF, "segment 4");
    CHECK(ib_tape_begin(&t2, 5, err, sizeof err) == IB_TAPE_OFF && strstr(err, "do not nest"), "nesting: '%s'", err);
    ib_tape_finish(&t2), ib_tape_close(&t2);
    for (int id = 5; id < 3 + IB_TAPE_SEGMENTS; id++) {
        ib_tape_begin(&t2, id, err, sizeof err);
        ib_tape_finish(&t2), ib_tape_close(&t2);
    }
    CHECK(ib_tape_begin(&t2, 100, err, sizeof err) == IB_TAPE_OFF && strstr(err, "slots are taken"), "full: '%s'",
          err);

    /* fingerprints see every byte */
    int a = 1, b = 2;
    uint64_t h1 = IB_FP_INIT, h2 = IB_FP_INIT;
    IB_FP(h1, a), IB_FP(h1, b), IB_FP(h2, b), IB_FP(h2, a);
    CHECK(h1 != h2, "argument order changes the fingerprint");

    ib_tape_free(&t), ib_tape_free(&t2);
    return check_finish("test_graph_tape");
}
