/* The fast CPU backend (oneDNN convolutions where built in, SGEMM otherwise) against the reference:
 * every op forward and backward at the original network's shapes on random inputs; the same bits
 * with 1 and 2 threads for every op (the property cli_determinism relies on); and a short training
 * run of the original network on both backends, parameters within 1e-4 relative. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "cpu/cpu_ops.h"
#include "init.h"
#include "net.h"
#include "rng.h"
#include "spec.h"

static void fill_rand(float *x, size_t n, uint32_t stream, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * ib_uniform_at(5, ib_stream(IB_RNG_TEST, 3, stream), i) - 1.0f);
}
static float *fmk(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) abort();
    return p;
}
static double max_rel_diff(const float *a, const float *b, size_t n) {
    double scale = 1e-12, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    return worst / scale;
}

/* conv forward/backward of one shape and batch on a backend; outputs into y, dx, dw, db */
static void run_conv(ib_backend *be, const ib_conv_shape *cs, int batch, const float *x, const float *w,
                     const float *b, const float *dy, float *y, float *dx, float *dw, float *db) {
    void *plan = be->conv_plan(be, cs);
    be->conv_forward(be, plan, batch, x, w, b, y);
    be->conv_backward(be, plan, batch, x, w, dy, dx, dw, db);
    be->conv_plan_free(be, plan);
}

/* Every conv shape of the original network, at the batches the trainer uses (50 for training,
 * 500 for evaluation, plans sized for 500 and called at 50, and odd sizes): the fast backend
 * matches the reference and gives the same bits with 1 and 2 threads. */
static void test_conv(void) {
    ib_backend *ref = ib_backend_ref_create(2);
    ib_backend *fast1 = ib_backend_cpu_create(1), *fast2 = ib_backend_cpu_create(2);
    struct { ib_conv_shape s; int batch, with_dx, vs_ref; } cases[] = {
        {{50, 1, 28, 28, 32, 5}, 50, 0, 1},   {{50, 32, 14, 14, 64, 5}, 50, 1, 1},
        {{500, 1, 28, 28, 32, 5}, 50, 0, 0},  {{500, 32, 14, 14, 64, 5}, 50, 1, 0},
        {{500, 32, 14, 14, 64, 5}, 500, 1, 0}, {{37, 32, 14, 14, 64, 5}, 37, 1, 0},
        {{7, 3, 9, 9, 5, 4}, 7, 1, 1},         {{1, 32, 14, 14, 64, 5}, 1, 1, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const ib_conv_shape cs = cases[k].s;
        const int B = cases[k].batch;
        size_t nx = (size_t)B * cs.in_c * cs.h * cs.w, nw = (size_t)cs.out_c * cs.in_c * cs.k * cs.k;
        size_t ny = (size_t)B * cs.out_c * cs.h * cs.w;
        float *x = fmk(nx), *w = fmk(nw), *b = fmk(cs.out_c), *dy = fmk(ny);
        fill_rand(x, nx, 1, 1), fill_rand(w, nw, 2, 0.2f), fill_rand(b, cs.out_c, 3, 0.1f), fill_rand(dy, ny, 4, 1);
        float *y[3], *dx[3], *dw[3], *db[3];
        for (int r = 0; r < 3; r++) y[r] = fmk(ny), dx[r] = fmk(nx), dw[r] = fmk(nw), db[r] = fmk(cs.out_c);
        omp_set_num_threads(1);
        run_conv(fast1, &cs, B, x, w, b, dy, y[0], cases[k].with_dx ? dx[0] : NULL, dw[0], db[0]);
        omp_set_num_threads(2);
        run_conv(fast2, &cs, B, x, w, b, dy, y[1], cases[k].with_dx ? dx[1] : NULL, dw[1], db[1]);
        CHECK(!memcmp(y[0], y[1], 4 * ny) && !memcmp(dx[0], dx[1], 4 * nx) && !memcmp(dw[0], dw[1], 4 * nw) &&
                  !memcmp(db[0], db[1], 4 * (size_t)cs.out_c),
              "conv case %zu (%dx%dx%dx%d -> %d, batch %d): 1 and 2 threads differ", k, B, cs.in_c, cs.h, cs.w,
              cs.out_c, B);
        if (cases[k].vs_ref) {
            ib_conv_shape rs = cs;
            rs.batch = B;
            run_conv(ref, &rs, B, x, w, b, dy, y[2], cases[k].with_dx ? dx[2] : NULL, dw[2], db[2]);
            double ef = max_rel_diff(y[1], y[2], ny), ex = max_rel_diff(dx[1], dx[2], nx);
            double ew = max_rel_diff(dw[1], dw[2], nw), eb = max_rel_diff(db[1], db[2], cs.out_c);
            CHECK(ef < 1e-5 && ex < 1e-5 && ew < 1e-5 && eb < 1e-5, "conv case %zu: fast vs ref: y %.2g dx %.2g dw %.2g db %.2g",
                  k, ef, ex, ew, eb);
        }
        /* a plan reused across calls keeps giving the same bits (no state left behind) */
        void *plan = fast2->conv_plan(fast2, &cs);
        fast2->conv_forward(fast2, plan, B, x, w, b, y[2]);
        fast2->conv_forward(fast2, plan, B, x, w, b, y[2]);
        fast2->conv_backward(fast2, plan, B, x, w, dy, cases[k].with_dx ? dx[2] : NULL, dw[2], db[2]);
        fast2->conv_backward(fast2, plan, B, x, w, dy, cases[k].with_dx ? dx[2] : NULL, dw[2], db[2]);
        fast2->conv_plan_free(fast2, plan);
        CHECK(!memcmp(y[1], y[2], 4 * ny) && !memcmp(dw[1], dw[2], 4 * nw), "conv case %zu: a reused plan differs", k);
        for (int r = 0; r < 3; r++) free(y[r]), free(dx[r]), free(dw[r]), free(db[r]);
        free(x), free(w), free(b), free(dy);
    }
    ref->destroy(ref), fast1->destroy(fast1), fast2->destroy(fast2);
}

/* Fused forward ops against the unfused sequence on the reference backend: conv + act, and
 * conv + act + max pooling (evaluation), for every activation; 1 and 2 threads give the same bits. */
static void test_fused(void) {
    ib_backend *ref = ib_backend_ref_create(2), *fast1 = ib_backend_cpu_create(1), *fast2 = ib_backend_cpu_create(2);
    struct { ib_conv_shape s; int batch; } cases[] = {
        {{50, 1, 28, 28, 32, 5}, 50}, {{500, 32, 14, 14, 64, 5}, 50}, {{37, 32, 14, 14, 64, 5}, 37}, {{5, 3, 9, 9, 4, 3}, 5},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const ib_conv_shape cs = cases[k].s;
        const int B = cases[k].batch;
        ib_pool_shape ps = ib_pool_make(cs.out_c, cs.h, cs.w, 2, 2);
        size_t nx = (size_t)B * cs.in_c * cs.h * cs.w, nw = (size_t)cs.out_c * cs.in_c * cs.k * cs.k;
        size_t ny = (size_t)B * cs.out_c * cs.h * cs.w, np = (size_t)B * ps.c * ps.out_h * ps.out_w;
        float *x = fmk(nx), *w = fmk(nw), *b = fmk(cs.out_c);
        fill_rand(x, nx, 31, 1), fill_rand(w, nw, 32, 0.2f), fill_rand(b, cs.out_c, 33, 0.1f);
        float *y[3], *yp[3];
        for (int r = 0; r < 3; r++) y[r] = fmk(ny), yp[r] = fmk(np);
        int32_t *am = calloc(np, 4);
        ib_conv_shape rs = cs;
        rs.batch = B;
        void *pr = ref->conv_plan(ref, &rs);
        for (int act = 0; act < 3; act++) {
            ref->conv_forward(ref, pr, B, x, w, b, y[2]);
            ref->act_forward(ref, (ib_act)act, ny, y[2], y[2]);
            ref->pool_forward(ref, &ps, B, y[2], yp[2], am);
            for (int r = 0; r < 2; r++) {
                ib_backend *f = r ? fast2 : fast1;
                omp_set_num_threads(r + 1);
                void *pl = f->conv_plan(f, &cs);
                f->conv_forward_act(f, pl, B, x, w, b, (ib_act)act, y[r]);
                f->conv_act_pool_forward(f, pl, B, x, w, b, (ib_act)act, &ps, yp[r]);
                f->conv_forward_act(f, pl, B, x, w, b, (ib_act)act, y[r]); /* again, after the pooled path */
                f->conv_plan_free(f, pl);
            }
            CHECK(!memcmp(y[0], y[1], 4 * ny) && !memcmp(yp[0], yp[1], 4 * np),
                  "fused case %zu act %d: 1 and 2 threads differ", k, act);
            double e1 = max_rel_diff(y[1], y[2], ny), e2 = max_rel_diff(yp[1], yp[2], np);
            CHECK(e1 < 1e-5 && e2 < 1e-5, "fused case %zu act %d: vs ref: conv+act %.2g, conv+act+pool %.2g", k, act,
                  e1, e2);
        }
        ref->conv_plan_free(ref, pr);
        for (int r = 0; r < 3; r++) free(y[r]), free(yp[r]);
        free(x), free(w), free(b), free(am);
    }
    /* fc + act */
    const int B = 50, I = 3136, O = 1024;
    float *x = fmk((size_t)B * I), *w = fmk((size_t)O * I), *b = fmk(O), *y1 = fmk((size_t)B * O), *y2 = fmk((size_t)B * O);
    fill_rand(x, (size_t)B * I, 34, 1), fill_rand(w, (size_t)O * I, 35, 0.05f), fill_rand(b, O, 36, 0.1f);
    ref->fc_forward(ref, B, I, O, x, w, b, y1);
    ref->act_forward(ref, IB_ACT_RELU, (size_t)B * O, y1, y1);
    fast2->fc_forward_act(fast2, B, I, O, x, w, b, IB_ACT_RELU, y2);
    CHECK(max_rel_diff(y2, y1, (size_t)B * O) < 1e-5, "fc + relu differs from the reference");
    free(x), free(w), free(b), free(y1), free(y2);
    ref->destroy(ref), fast1->destroy(fast1), fast2->destroy(fast2);
}

/* fully connected, pooling, activations, dropout, loss and Adam: 1 vs 2 threads, and vs ref */
static void test_other_ops(void) {
    ib_backend *ref = ib_backend_ref_create(2), *fast = ib_backend_cpu_create(2);
    int fcs[][3] = {{50, 3136, 1024}, {50, 1024, 10}, {500, 3136, 1024}, {500, 1024, 10}};
    for (int f = 0; f < 4; f++) {
        int B = fcs[f][0], I = fcs[f][1], O = fcs[f][2];
        size_t nx = (size_t)B * I, nw = (size_t)O * I, ny = (size_t)B * O;
        float *x = fmk(nx), *w = fmk(nw), *b = fmk(O), *dy = fmk(ny);
        fill_rand(x, nx, 5, 1), fill_rand(w, nw, 6, 0.05f), fill_rand(b, O, 7, 0.1f), fill_rand(dy, ny, 8, 1);
        float *y[3], *dx[3], *dw[3], *db[3];
        for (int r = 0; r < 3; r++) y[r] = fmk(ny), dx[r] = fmk(nx), dw[r] = fmk(nw), db[r] = fmk(O);
        for (int r = 0; r < 2; r++) {
            omp_set_num_threads(r + 1);
            fast->fc_forward(fast, B, I, O, x, w, b, y[r]);
            fast->fc_backward(fast, B, I, O, x, w, dy, dx[r], dw[r], db[r]);
        }
        CHECK(!memcmp(y[0], y[1], 4 * ny) && !memcmp(dx[0], dx[1], 4 * nx) && !memcmp(dw[0], dw[1], 4 * nw) &&
                  !memcmp(db[0], db[1], 4 * (size_t)O),
              "fc %dx%dx%d: 1 and 2 threads differ", B, I, O);
        if (B == 50) {
            ref->fc_forward(ref, B, I, O, x, w, b, y[2]);
            ref->fc_backward(ref, B, I, O, x, w, dy, dx[2], dw[2], db[2]);
            double ef = max_rel_diff(y[1], y[2], ny), ex = max_rel_diff(dx[1], dx[2], nx);
            double ew = max_rel_diff(dw[1], dw[2], nw), eb = max_rel_diff(db[1], db[2], O);
            CHECK(ef < 1e-5 && ex < 1e-5 && ew < 1e-5 && eb < 1e-5, "fc %dx%dx%d: fast vs ref: y %.2g dx %.2g dw %.2g db %.2g",
                  B, I, O, ef, ex, ew, eb);
        }
        for (int r = 0; r < 3; r++) free(y[r]), free(dx[r]), free(dw[r]), free(db[r]);
        free(x), free(w), free(b), free(dy);
    }
    /* pooling at both of the network's shapes */
    ib_pool_shape ps[2] = {ib_pool_make(32, 28, 28, 2, 2), ib_pool_make(64, 14, 14, 2, 2)};
    for (int k = 0; k < 2; k++) {
        const int B = 50;
        size_t nx = (size_t)B * ps[k].c * ps[k].in_h * ps[k].in_w, ny = (size_t)B * ps[k].c * ps[k].out_h * ps[k].out_w;
        float *x = fmk(nx), *y1 = fmk(ny), *y2 = fmk(ny), *dy = fmk(ny), *dx1 = fmk(nx), *dx2 = fmk(nx);
        int32_t *a1 = calloc(ny, 4), *a2 = calloc(ny, 4);
        fill_rand(x, nx, 9, 1), fill_rand(dy, ny, 10, 1);
        ref->pool_forward(ref, &ps[k], B, x, y1, a1);
        fast->pool_forward(fast, &ps[k], B, x, y2, a2);
        ref->pool_backward(ref, &ps[k], B, dy, a1, dx1);
        fast->pool_backward(fast, &ps[k], B, dy, a2, dx2);
        CHECK(!memcmp(y1, y2, 4 * ny) && !memcmp(a1, a2, 4 * ny) && !memcmp(dx1, dx2, 4 * nx),
              "pool %d: fast differs from the reference", k);
        free(x), free(y1), free(y2), free(dy), free(dx1), free(dx2), free(a1), free(a2);
    }
    /* Adam (TF form) over a parameter-sized vector: the same bits as the reference */
    const size_t n = 100003;
    float *p1 = fmk(n), *p2 = fmk(n), *g = fmk(n), *m1 = fmk(n), *m2 = fmk(n), *v1 = fmk(n), *v2 = fmk(n);
    fill_rand(p1, n, 11, 1), fill_rand(g, n, 12, 1e-2f);
    memcpy(p2, p1, 4 * n);
    ib_optim_hparams hp = {.kind = IB_OPT_ADAM_TF, .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    for (long t = 1; t <= 3; t++) {
        ref->optim_update(ref, &hp, t, n, p1, g, m1, v1, NULL);
        fast->optim_update(fast, &hp, t, n, p2, g, m2, v2, NULL);
    }
    CHECK(max_rel_diff(p2, p1, n) < 1e-6 && max_rel_diff(m2, m1, n) < 1e-6 && max_rel_diff(v2, v1, n) < 1e-6,
          "Adam: fast differs from the reference");
    free(p1), free(p2), free(g), free(m1), free(m2), free(v1), free(v2);
    ref->destroy(ref), fast->destroy(fast);
}

/* Five training steps of the original network on random images, on both backends. */
static void train_steps(ib_backend *be, int batch, int steps, float *out_params, size_t *count) {
    ib_net_spec spec;
    ib_err err;
    CHECK(ib_spec_parse("original", &spec, &err) == 0, "spec: %s", err.msg);
    ib_net net;
    CHECK(ib_net_build(&net, &spec, 1, 28, 28, 10, batch, be, &err) == 0, "build: %s", err.msg);
    ib_init_config ic = {.scheme = IB_INIT_TRUNCNORMAL, .stddev = 0.1, .bias = 0.1};
    ib_net_init_params(&net, &ic, 7);
    float *x = fmk((size_t)batch * 784);
    int32_t *lab = calloc((size_t)batch, 4);
    ib_optim_hparams hp = {.kind = IB_OPT_ADAM_TF, .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < batch * 784; i++) x[i] = ib_uniform_at(3, ib_stream(IB_RNG_TEST, 4, (uint32_t)s), (uint64_t)i);
        for (int i = 0; i < batch; i++) lab[i] = (int32_t)(ib_uniform_at(3, ib_stream(IB_RNG_TEST, 5, (uint32_t)s), (uint64_t)i) * 10);
        be->upload(be, net.input, x, (size_t)batch * 784 * 4);
        be->upload(be, net.labels, lab, (size_t)batch * 4);
        ib_net_forward(&net, batch, 1, 7, s);
        double loss;
        int right;
        ib_net_loss(&net, batch, 1, &loss, &right);
        ib_net_backward(&net, batch, 7, s);
        be->optim_update(be, &hp, s + 1, net.param_count, net.param, net.grad, net.opt_m, net.opt_v, NULL);
    }
    *count = net.param_count;
    ib_net_params_to_host(&net, out_params);
    free(x), free(lab);
    ib_net_free(&net);
}

static void test_training_matches_reference(void) {
    const size_t cap = 3400000;
    float *a = fmk(cap), *b = fmk(cap), *c = fmk(cap);
    size_t na = 0, nb = 0, nc = 0;
    ib_backend *ref = ib_backend_ref_create(2), *fast = ib_backend_cpu_create(2);
    train_steps(ref, 10, 5, a, &na);
    train_steps(fast, 10, 5, b, &nb);
    CHECK(na == nb && na <= cap, "parameter counts differ: %zu vs %zu", na, nb);
    /* Adam turns gradients at rounding-noise level into full steps of either sign, so single
     * elements may differ by a step (lr = 1e-4); the parameters as a whole agree closely. */
    double d2 = 0, a2 = 0, worst = 0;
    for (size_t i = 0; i < na; i++) {
        d2 += (double)(a[i] - b[i]) * (a[i] - b[i]), a2 += (double)a[i] * a[i];
        worst = fmax(worst, fabs(a[i] - b[i]));
    }
    double rel = sqrt(d2 / a2);
    CHECK(rel < 1e-4, "5 training steps: fast vs ref parameters differ by %.3g relative (2-norm)", rel);
    CHECK(worst < 5 * 2e-4, "5 training steps: an element moved %.3g apart (more than a few Adam steps)", worst);
    printf("5 training steps, batch 10: fast vs ref parameters: relative 2-norm difference %.3g, largest element "
           "difference %.3g\n", rel, worst);
    /* and the fast backend alone at batch 50: the same bits with 1 and 2 threads */
    omp_set_num_threads(1);
    ib_backend *f1 = ib_backend_cpu_create(1);
    train_steps(f1, 50, 3, b, &nb);
    f1->destroy(f1);
    ib_backend *f2 = ib_backend_cpu_create(2);
    train_steps(f2, 50, 3, c, &nc);
    f2->destroy(f2);
    CHECK(nb == nc && !memcmp(b, c, 4 * nb), "3 training steps at batch 50: 1 and 2 threads differ");
    ref->destroy(ref), fast->destroy(fast);
    free(a), free(b), free(c);
}

int main(void) {
    test_conv();
    test_fused();
    test_other_ops();
    test_training_matches_reference();
    return check_finish("test_fast_backend");
}
