/* The bookkeeping behind the cuda backend's CUDA graphs, kept free of CUDA so that it is tested
 * on every machine (tests/test_graph_tape.c).
 *
 * A segment (backend.h: segment_begin/segment_end) runs in one of three modes:
 *   EAGER    its first run, which allocates and chooses algorithms, and measures the bytes of
 *            per-step values its ops need; also every run once capture is off for it;
 *   CAPTURE  its second run: the ops are recorded into a graph (and the graph then runs once);
 *   REPLAY   later runs: the ops only write their per-step values into the segment's pinned
 *            block, which nodes of the graph copy to the device; the graph runs at the end.
 * Each op hands in a fingerprint of its structural arguments (pointers, sizes, constants): a
 * replay whose ops differ from the captured ones in kind, order, count or fingerprint is
 * refused before anything ran ("poisoned"), the segment falls back to EAGER for good, and the
 * caller runs it again. Per-step values live at the same offsets in every run, because the ops
 * ask for them in the same order. */
#ifndef IB_GRAPH_TAPE_H
#define IB_GRAPH_TAPE_H

#include <stddef.h>
#include <stdint.h>

#define IB_TAPE_SEGMENTS 8
#define IB_TAPE_NO_SLOT ((size_t)-1)
#define IB_TAPE_ALIGN 16

typedef enum ib_tape_mode { IB_TAPE_OFF, IB_TAPE_EAGER, IB_TAPE_CAPTURE, IB_TAPE_REPLAY } ib_tape_mode;

/* softmax_xent's host outputs, summed (in sample order, as the eager path) after the graph ran */
typedef struct ib_tape_deferred {
    double *loss_sum;
    int *correct;
    int batch;
    size_t loss_off, correct_off; /* in the segment's pinned block: batch doubles, batch ints */
} ib_tape_deferred;

typedef struct ib_tape_segment {
    int id, used;
    long runs;
    int disabled;   /* capture refused: EAGER from now on, for the reason in why */
    char why[256];
    uint64_t *fp;   /* the captured ops' fingerprints, in order */
    size_t n_fp, cap_fp;
    size_t slot_bytes; /* per-step value bytes the eager run asked for: the block's size */
    /* owned by the backend: the executable graph, the pinned block and its device twin */
    void *exec;
    unsigned char *host;
    void *dev;
    size_t block_cap;
} ib_tape_segment;

typedef struct ib_tape {
    ib_tape_segment seg[IB_TAPE_SEGMENTS];
    ib_tape_segment *cur; /* the open segment, or NULL */
    ib_tape_mode mode;    /* OFF when no segment is open */
    size_t pos, slot_used;
    int poisoned;
    char poison[256];
    ib_tape_deferred *def;
    size_t n_def, cap_def;
} ib_tape;

/* What the backend does at segment_end. */
typedef enum ib_tape_finish_action {
    IB_TAPE_DONE,   /* the ops ran as they were called (EAGER) */
    IB_TAPE_LAUNCH, /* CAPTURE: instantiate the graph; CAPTURE and REPLAY: launch it, wait, deliver */
    IB_TAPE_REDO,   /* nothing ran and the segment is now EAGER (why in seg->why): the caller reruns it */
} ib_tape_finish_action;

void ib_tape_init(ib_tape *t);
/* Free the tape's own memory (fingerprints, deferred outputs); the backend frees exec/host/dev. */
void ib_tape_free(ib_tape *t);

/* Open segment `id` and say how it runs now. Returns IB_TAPE_OFF (with *err) if a segment is
 * already open or all IB_TAPE_SEGMENTS ids are taken. */
ib_tape_mode ib_tape_begin(ib_tape *t, int id, char *err, size_t err_len);
/* At every op: 1 if the op enqueues its work now (no segment, EAGER, CAPTURE), 0 if it must not
 * (REPLAY: the graph does it; or the segment is poisoned). Records (CAPTURE) or checks (REPLAY)
 * the fingerprint. */
int ib_tape_op(ib_tape *t, uint64_t fingerprint);
/* Room for `bytes` of per-step values: the offset in the open segment's block, or IB_TAPE_NO_SLOT
 * when the op passes them directly (no segment, EAGER: only counted) or the segment is poisoned.
 * Asking beyond the block measured in the EAGER run poisons the segment. */
size_t ib_tape_slot(ib_tape *t, size_t bytes);
/* An op that cannot be recorded (it synchronises, allocates or returns host data at once) was
 * called in a CAPTURE or REPLAY segment: poison it and return 1 (the op must return without doing
 * anything); 0 when it may run. */
int ib_tape_forbid(ib_tape *t, const char *what);
void ib_tape_poison(ib_tape *t, const char *why);
/* CAPTURE/REPLAY: remember softmax_xent's host outputs for ib_tape_deliver. */
void ib_tape_defer_xent(ib_tape *t, double *loss_sum, int *correct, int batch, size_t loss_off, size_t correct_off);
/* Close the open segment: the action for the backend. On IB_TAPE_REDO the segment is disabled. */
ib_tape_finish_action ib_tape_finish(ib_tape *t);
/* After the graph ran: write the deferred outputs from the segment's pinned block. */
void ib_tape_deliver(ib_tape *t, const unsigned char *block);
/* The backend could not use the recording (capture or instantiation failed): disable the
 * segment with the reason (it reruns EAGER). */
void ib_tape_disable(ib_tape_segment *s, const char *why);
/* Forget the open segment (after IB_TAPE_DONE/LAUNCH/REDO has been handled). */
void ib_tape_close(ib_tape *t);

/* FNV-1a over the bytes of a structural argument. */
#define IB_FP_INIT 0xcbf29ce484222325ull
static inline uint64_t ib_fp_add(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#define IB_FP(h, v) ((h) = ib_fp_add((h), &(v), sizeof(v)))

#endif
