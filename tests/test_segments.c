/* The trainer's side of segments (backend.h), on the CPU with the real MNIST files. The cpu
 * backend of one trainer is wrapped so that it behaves as strictly as the contract allows a
 * recording backend to: softmax_xent's host outputs are NaN until segment_end (a replay
 * delivers them only then), and some segment runs are refused: segment_end says nothing ran
 * (the wrapper drops every op of that run), as the cuda backend does when a capture cannot be
 * used. The wrapped trainer must produce bit for bit what a plain trainer produces: the same
 * losses, counts and final parameters; every segment run must be closed with its own id, never
 * nested, and hold no op that returns host data at once. The plain trainer applies the optimiser
 * inside backward (--update fused); the wrapped one, recording segments, runs the separate pass:
 * the equal bits are also the fused update's check on real training.
 * usage: test_segments [train flags]   (exit 77 without the MNIST files) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "train.h"
#include "train_setup.h"

static ib_backend real;   /* the wrapped backend's own ops */
static int open_id = -1;  /* the open segment, or -1 */
static int dropping;      /* this run is refused: ops do nothing */
static long runs[3], refused[3], dropped_ops, ops_in_segments;
static double *pending_loss, pending_loss_value; /* softmax_xent outputs held until segment_end */
static int *pending_correct, pending_correct_value;

/* Refuse the 2nd run of every segment (a capture that failed) and the 5th of the forward one. */
static int refuse(int id, long run) { return run == 2 || (id == IB_SEGMENT_FORWARD && run == 5); }

static void w_segment_begin(ib_backend *be, int id) {
    (void)be;
    CHECK(open_id == -1, "segment %d begun inside segment %d", id, open_id);
    CHECK(id >= 0 && id < 3, "unknown segment id %d", id);
    open_id = id;
    dropping = refuse(id, ++runs[id]);
    if (dropping) refused[id]++;
}
static int w_segment_end(ib_backend *be, int id) {
    (void)be;
    CHECK(open_id == id, "segment_end(%d) closes segment %d", id, open_id);
    open_id = -1;
    if (pending_loss) {
        if (!dropping) *pending_loss = pending_loss_value, *pending_correct = pending_correct_value;
        pending_loss = NULL, pending_correct = NULL;
    }
    int r = dropping;
    dropping = 0;
    return r;
}
/* in a segment: count, and drop when refused */
#define IN_SEGMENT() (open_id >= 0 ? (ops_in_segments++, dropping ? (dropped_ops++, 1) : 0) : 0)

static void w_gather(ib_backend *be, void *im, const int64_t *index, int batch, float *x, int32_t *y) {
    if (!IN_SEGMENT()) real.gather_batch(be, im, index, batch, x, y);
}
static void w_conv_forward(ib_backend *be, void *p, int batch, const float *x, const float *w, const float *b,
                           float *y) {
    if (!IN_SEGMENT()) real.conv_forward(be, p, batch, x, w, b, y);
}
static void w_conv_forward_act(ib_backend *be, void *p, int batch, const float *x, const float *w, const float *b,
                               ib_act act, float *y) {
    if (!IN_SEGMENT()) real.conv_forward_act(be, p, batch, x, w, b, act, y);
}
static void w_conv_act_pool_forward_train(ib_backend *be, void *p, int batch, const float *x, const float *w,
                                          const float *b, ib_act act, const ib_pool_shape *pool, float *act_out,
                                          float *pool_out, int32_t *argmax) {
    if (!IN_SEGMENT()) real.conv_act_pool_forward_train(be, p, batch, x, w, b, act, pool, act_out, pool_out, argmax);
}
static void w_conv_backward(ib_backend *be, void *p, int batch, const float *x, const float *w, const float *dy,
                            float *dx, float *dw, float *db) {
    if (!IN_SEGMENT()) real.conv_backward(be, p, batch, x, w, dy, dx, dw, db);
}
static void w_fc_forward(ib_backend *be, int batch, int in, int out, const float *x, const float *w, const float *b,
                         float *y) {
    if (!IN_SEGMENT()) real.fc_forward(be, batch, in, out, x, w, b, y);
}
static void w_fc_forward_act(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                             const float *b, ib_act act, float *y) {
    if (!IN_SEGMENT()) real.fc_forward_act(be, batch, in, out, x, w, b, act, y);
}
static void w_fc_backward(ib_backend *be, int batch, int in, int out, const float *x, const float *w, const float *dy,
                          float *dx, float *dw, float *db) {
    if (!IN_SEGMENT()) real.fc_backward(be, batch, in, out, x, w, dy, dx, dw, db);
}
static void w_pool_forward(ib_backend *be, const ib_pool_shape *s, int batch, const float *x, float *y,
                           int32_t *argmax) {
    if (!IN_SEGMENT()) real.pool_forward(be, s, batch, x, y, argmax);
}
static void w_pool_backward(ib_backend *be, const ib_pool_shape *s, int batch, const float *dy, const int32_t *argmax,
                            float *dx) {
    if (!IN_SEGMENT()) real.pool_backward(be, s, batch, dy, argmax, dx);
}
static void w_act_forward(ib_backend *be, ib_act act, size_t n, const float *x, float *y) {
    if (!IN_SEGMENT()) real.act_forward(be, act, n, x, y);
}
static void w_act_backward(ib_backend *be, ib_act act, size_t n, const float *y, const float *dy, float *dx) {
    if (!IN_SEGMENT()) real.act_backward(be, act, n, y, dy, dx);
}
static void w_dropout_forward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream, const float *x,
                              float *y) {
    if (!IN_SEGMENT()) real.dropout_forward(be, n, keep, seed, stream, x, y);
}
static void w_dropout_backward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream, const float *dy,
                               float *dx) {
    if (!IN_SEGMENT()) real.dropout_backward(be, n, keep, seed, stream, dy, dx);
}
static void w_copy(ib_backend *be, void *dst, const void *src, size_t bytes) {
    if (!IN_SEGMENT()) real.copy(be, dst, src, bytes);
}
static void w_zero(ib_backend *be, float *x, size_t n) {
    if (!IN_SEGMENT()) real.zero(be, x, n);
}
static void w_optim(ib_backend *be, const ib_optim_hparams *hp, long t, size_t n, float *param, const float *grad,
                    float *m, float *v, float *update) {
    if (!IN_SEGMENT()) real.optim_update(be, hp, t, n, param, grad, m, v, update);
}
static void w_xent(ib_backend *be, int batch, int classes, const float *logits, const int32_t *labels,
                   float grad_scale, float *dlogits, double *loss_sum, int *correct) {
    if (open_id < 0) {
        real.softmax_xent(be, batch, classes, logits, labels, grad_scale, dlogits, loss_sum, correct);
        return;
    }
    CHECK(!pending_loss, "two softmax_xent in one segment");
    *loss_sum = NAN, *correct = -1000000; /* not valid before segment_end */
    if (IN_SEGMENT()) return;
    real.softmax_xent(be, batch, classes, logits, labels, grad_scale, dlogits, &pending_loss_value,
                      &pending_correct_value);
    pending_loss = loss_sum, pending_correct = correct;
}
static void w_download(ib_backend *be, void *dst, const void *src, size_t bytes) {
    CHECK(open_id < 0, "download inside segment %d", open_id);
    real.download(be, dst, src, bytes);
}
static void w_upload(ib_backend *be, void *dst, const void *src, size_t bytes) {
    CHECK(open_id < 0, "upload inside segment %d", open_id);
    real.upload(be, dst, src, bytes);
}
static void w_stats(ib_backend *be, const float *x, size_t n, const ib_stats_request *req, ib_tensor_stats *out) {
    CHECK(open_id < 0, "tensor_stats inside segment %d", open_id);
    real.tensor_stats(be, x, n, req, out);
}

static void wrap(ib_backend *be) {
    real = *be;
    be->gather_batch = w_gather;
    be->conv_forward = w_conv_forward, be->conv_forward_act = w_conv_forward_act, be->conv_backward = w_conv_backward;
    be->conv_act_pool_forward_train = w_conv_act_pool_forward_train;
    be->fc_forward = w_fc_forward, be->fc_forward_act = w_fc_forward_act, be->fc_backward = w_fc_backward;
    be->pool_forward = w_pool_forward, be->pool_backward = w_pool_backward;
    be->act_forward = w_act_forward, be->act_backward = w_act_backward;
    be->dropout_forward = w_dropout_forward, be->dropout_backward = w_dropout_backward;
    be->copy = w_copy, be->zero = w_zero;
    be->optim_update = w_optim, be->softmax_xent = w_xent;
    be->download = w_download, be->upload = w_upload, be->tensor_stats = w_stats;
    be->segment_begin = w_segment_begin, be->segment_end = w_segment_end;
}

int main(int argc, char **argv) {
    ib_train_config cfg;
    ib_dataset ds;
    if (test_train_setup(argc, argv, 1, &cfg, &ds)) return 77;
    ib_err err = {0};
    ib_trainer plain, wrapped;
    ib_train_config fused_cfg = cfg;
    fused_cfg.update = "fused";
    if (ib_trainer_init(&plain, &fused_cfg, &ds, &err) || ib_trainer_init(&wrapped, &cfg, &ds, &err)) ib_exit_err(&err);
    CHECK(plain.be->segment_begin == NULL, "the cpu backend has no segments (it runs ops as called)");
    wrap(wrapped.be);
    CHECK(ib_trainer_fuses_update(&plain) && !ib_trainer_fuses_update(&wrapped),
          "the plain trainer fuses the update into backward, the recording one keeps the separate pass");

    const long long steps = 12;
    long long differing = 0;
    int correct_plain = 0, correct_wrapped = 0;
    for (long long s = 0; s < steps; s++) {
        double a = ib_trainer_step(&plain, s, &correct_plain);
        double b = ib_trainer_step(&wrapped, s, &correct_wrapped);
        if (memcmp(&a, &b, sizeof a) != 0) {
            differing++;
            fprintf(stderr, "step %lld: loss %.17g plain, %.17g with segments\n", s, a, b);
        }
        CHECK(isfinite(b), "step %lld: loss %g", s, b);
    }
    CHECK(differing == 0, "%lld of %lld step losses differ", differing, steps);
    CHECK(correct_plain == correct_wrapped, "correct: %d plain, %d with segments", correct_plain, correct_wrapped);
    for (int id = 0; id < 3; id++)
        CHECK(runs[id] == steps + refused[id], "segment %d: %ld runs for %lld steps and %ld refusals", id, runs[id],
              steps, refused[id]);
    CHECK(refused[IB_SEGMENT_FORWARD] == 2 && refused[IB_SEGMENT_BACKWARD] == 1 && refused[IB_SEGMENT_UPDATE] == 1,
          "refusals %ld %ld %ld", refused[0], refused[1], refused[2]);
    CHECK(dropped_ops > 0 && ops_in_segments > dropped_ops, "%ld ops in segments, %ld dropped", ops_in_segments,
          dropped_ops);

    /* the same parameters and optimiser state, bit for bit */
    const size_t np = plain.net.param_count;
    float *pa = malloc(np * sizeof(float)), *pb = malloc(np * sizeof(float));
    float *const bufs[2][3] = {{plain.net.param, plain.net.opt_m, plain.net.opt_v},
                               {wrapped.net.param, wrapped.net.opt_m, wrapped.net.opt_v}};
    const char *names[3] = {"parameters", "first moments", "second moments"};
    for (int k = 0; k < 3; k++) {
        plain.be->download(plain.be, pa, bufs[0][k], np * sizeof(float));
        wrapped.be->download(wrapped.be, pb, bufs[1][k], np * sizeof(float));
        size_t diff = 0;
        for (size_t i = 0; i < np; i++) diff += memcmp(&pa[i], &pb[i], sizeof(float)) != 0;
        CHECK(diff == 0, "%s: %zu of %zu values differ", names[k], diff, np);
    }
    printf("  %lld steps; segment runs %ld/%ld/%ld (refused %ld/%ld/%ld); %ld ops in segments, %ld dropped; "
           "%zu parameters compared\n",
           steps, runs[0], runs[1], runs[2], refused[0], refused[1], refused[2], ops_in_segments, dropped_ops, np);
    free(pa), free(pb);
    ib_trainer_free(&plain), ib_trainer_free(&wrapped);
    ib_dataset_free(&ds);
    return check_finish("test_segments");
}
