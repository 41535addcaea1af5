/* Per-op parity of the cuda backend against the ref backend on random inputs.
 * Errors are normwise: max |gpu - ref| / max |ref| over the tensor; fp32 tolerances 1e-5 forward,
 * 1e-4 backward. Dropout masks, pooling (values, argmax, gradients) and the Philox words must be
 * bit-identical. CUDA graphs (segments) must give the eager backend's bits. With no usable GPU
 * it prints "skip: <reason>" and exits 77 (ctest: skipped).
 * usage: test_cuda [--probe]   (--probe: only say whether a GPU is usable: exit 0 or 77) */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_kernels.h"
#include "rng.h"

static ib_backend *R, *G;
/* fp32 math (tf32 off), one host thread */
static const ib_backend_setting fp32_setting[] = {{"tf32", 0}};
static const ib_backend_params fp32_single_thread = {1, fp32_setting, 1};

static float *rnd(size_t n, uint32_t stream, float scale) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * ib_uniform_at(99, stream, i) - 1.0f);
    return x;
}
static float *hbuf(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static void *dev(const void *h, size_t n) { /* n floats (or int32s) */
    void *d = G->alloc(G, n);
    if (h) G->upload(G, d, h, n * sizeof(float));
    return d;
}
static float *back(const void *d, size_t n) {
    float *h = hbuf(n);
    G->download(G, h, d, n * sizeof(float));
    return h;
}
static double relerr(const float *gpu, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(gpu[i]) && isnan(ref[i])) continue; /* NaN where ref has NaN is agreement */
        double d = fabs((double)gpu[i] - ref[i]);
        if (!(d <= num)) num = d; /* NaN counts as an error */
        if (fabs(ref[i]) > den) den = fabs(ref[i]);
    }
    return num / (den > 0 ? den : 1e-30);
}
static long bitdiff(const void *a, const void *b, size_t n) {
    long k = 0;
    for (size_t i = 0; i < n; i++) k += ((const uint32_t *)a)[i] != ((const uint32_t *)b)[i];
    return k;
}
#define CHECK_ERR(what, gpu, ref, n, tol)                                                      \
    do {                                                                                       \
        double e_ = relerr(gpu, ref, n);                                                       \
        CHECK(e_ <= (tol), "%s: relative error %.3g > %.1g", what, e_, (double)(tol));         \
        printf("  %-44s rel err %.2e%s\n", what, e_, bitdiff(gpu, ref, n) ? "" : " (bit-identical)"); \
    } while (0)

static void test_philox_words(void) {
    const size_t blocks = 4099;
    uint32_t *d = G->alloc(G, 4 * blocks), *h = malloc(4 * blocks * sizeof(uint32_t));
    const uint64_t seed = 0x0123456789abcdefull, stream = ib_stream(IB_RNG_DROPOUT, 3, 12345);
    /* alloc's zeroing runs on the backend's non-blocking stream: let it finish before the kernel
     * on the default stream writes the buffer */
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "alloc");
    CHECK(ibk_philox_words(0, seed, stream, blocks, d) == cudaSuccess, "philox kernel launch");
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "philox kernel");
    G->download(G, h, d, 4 * blocks * sizeof(uint32_t));
    long bad = 0;
    for (size_t b = 0; b < blocks; b++) {
        uint32_t r[4];
        ib_philox(seed, stream, b, r);
        for (int k = 0; k < 4; k++) bad += r[k] != h[4 * b + k];
    }
    CHECK(bad == 0, "device Philox: %ld of %zu words differ from kernels/rng.c", bad, 4 * blocks);
    printf("  philox words on the device: %ld of %zu differ\n", bad, 4 * blocks);
    G->release(G, d), free(h);
}

static void test_conv(int plan_batch, int batch, int C, int H, int W, int O, int k) {
    char what[96];
    ib_conv_shape cs = {plan_batch, C, H, W, O, k};
    size_t nx = (size_t)batch * C * H * W, ny = (size_t)batch * O * H * W, nw = (size_t)O * C * k * k;
    float *x = rnd(nx, 1, 1), *w = rnd(nw, 2, 0.2f), *b = rnd(O, 3, 0.1f), *dy = rnd(ny, 4, 1);
    void *rp = R->conv_plan(R, &cs), *gp = G->conv_plan(G, &cs);
    float *ry = hbuf(ny), *rdx = hbuf(nx), *rdw = hbuf(nw), *rdb = hbuf(O);
    R->conv_forward(R, rp, batch, x, w, b, ry);
    R->conv_backward(R, rp, batch, x, w, dy, rdx, rdw, rdb);
    float *gx = dev(x, nx), *gw = dev(w, nw), *gb = dev(b, O), *gdy = dev(dy, ny), *gy = dev(NULL, ny),
          *gdx = dev(NULL, nx), *gdw = dev(NULL, nw), *gdb = dev(NULL, O);
    G->conv_forward(G, gp, batch, gx, gw, gb, gy);
    G->conv_backward(G, gp, batch, gx, gw, gdy, gdx, gdw, gdb);
    float *hy = back(gy, ny), *hdx = back(gdx, nx), *hdw = back(gdw, nw), *hdb = back(gdb, O);
    snprintf(what, sizeof what, "conv k%d %dx%dx%d->%d b%d/%d forward", k, C, H, W, O, batch, plan_batch);
    CHECK_ERR(what, hy, ry, ny, 1e-5);
    snprintf(what, sizeof what, "conv k%d %dx%dx%d->%d dx", k, C, H, W, O);
    CHECK_ERR(what, hdx, rdx, nx, 1e-4);
    snprintf(what, sizeof what, "conv k%d %dx%dx%d->%d dw", k, C, H, W, O);
    CHECK_ERR(what, hdw, rdw, nw, 1e-4);
    snprintf(what, sizeof what, "conv k%d %dx%dx%d->%d db", k, C, H, W, O);
    CHECK_ERR(what, hdb, rdb, O, 1e-4);
    /* dx == NULL (first layer) must still give dw, db */
    G->zero(G, gdw, nw);
    G->conv_backward(G, gp, batch, gx, gw, gdy, NULL, gdw, gdb);
    float *hdw2 = back(gdw, nw);
    CHECK(bitdiff(hdw2, hdw, nw) == 0, "conv dw without dx differs from dw with dx");
    /* fused: act(conv + b) and pool(act(conv + b)) against ref's composition */
    for (int act = 0; act < 3; act++) {
        float *ra = hbuf(ny);
        R->conv_forward_act(R, rp, batch, x, w, b, (ib_act)act, ra);
        G->conv_forward_act(G, gp, batch, gx, gw, gb, (ib_act)act, gy);
        float *ha = back(gy, ny);
        snprintf(what, sizeof what, "conv_forward_act k%d act %d", k, act);
        CHECK_ERR(what, ha, ra, ny, 1e-5);
        ib_pool_shape ps = ib_pool_make(O, H, W, 2, 2);
        size_t np = (size_t)batch * O * ps.out_h * ps.out_w;
        float *rpo = hbuf(np), *gpo = dev(NULL, np);
        R->conv_act_pool_forward(R, rp, batch, x, w, b, (ib_act)act, &ps, rpo);
        G->conv_act_pool_forward(G, gp, batch, gx, gw, gb, (ib_act)act, &ps, gpo);
        float *hpo = back(gpo, np);
        snprintf(what, sizeof what, "conv_act_pool_forward k%d act %d", k, act);
        CHECK_ERR(what, hpo, rpo, np, 1e-5);
        free(ra), free(ha), free(rpo), free(hpo), G->release(G, gpo);
    }
    R->conv_plan_free(R, rp), G->conv_plan_free(G, gp);
    void *gbufs[] = {gx, gw, gb, gdy, gy, gdx, gdw, gdb};
    for (size_t i = 0; i < 8; i++) G->release(G, gbufs[i]);
    void *hbufs[] = {x, w, b, dy, ry, rdx, rdw, rdb, hy, hdx, hdw, hdb, hdw2};
    for (size_t i = 0; i < 13; i++) free(hbufs[i]);
}

static void test_fc(int batch, int in, int out) {
    char what[96];
    size_t nx = (size_t)batch * in, ny = (size_t)batch * out, nw = (size_t)out * in;
    float *x = rnd(nx, 5, 1), *w = rnd(nw, 6, 0.05f), *b = rnd(out, 7, 0.1f), *dy = rnd(ny, 8, 1);
    float *ry = hbuf(ny), *rdx = hbuf(nx), *rdw = hbuf(nw), *rdb = hbuf(out);
    R->fc_forward(R, batch, in, out, x, w, b, ry);
    R->fc_backward(R, batch, in, out, x, w, dy, rdx, rdw, rdb);
    float *gx = dev(x, nx), *gw = dev(w, nw), *gb = dev(b, out), *gdy = dev(dy, ny), *gy = dev(NULL, ny),
          *gdx = dev(NULL, nx), *gdw = dev(NULL, nw), *gdb = dev(NULL, out);
    G->fc_forward(G, batch, in, out, gx, gw, gb, gy);
    G->fc_backward(G, batch, in, out, gx, gw, gdy, gdx, gdw, gdb);
    float *hy = back(gy, ny), *hdx = back(gdx, nx), *hdw = back(gdw, nw), *hdb = back(gdb, out);
    snprintf(what, sizeof what, "fc %dx%d->%d forward", batch, in, out);
    CHECK_ERR(what, hy, ry, ny, 1e-5);
    snprintf(what, sizeof what, "fc %dx%d->%d dx", batch, in, out);
    CHECK_ERR(what, hdx, rdx, nx, 1e-4);
    snprintf(what, sizeof what, "fc %dx%d->%d dw", batch, in, out);
    CHECK_ERR(what, hdw, rdw, nw, 1e-4);
    snprintf(what, sizeof what, "fc %dx%d->%d db", batch, in, out);
    CHECK_ERR(what, hdb, rdb, out, 1e-4);
    for (int act = 0; act < 3; act++) {
        R->fc_forward_act(R, batch, in, out, x, w, b, (ib_act)act, ry);
        G->fc_forward_act(G, batch, in, out, gx, gw, gb, (ib_act)act, gy);
        float *ha = back(gy, ny);
        snprintf(what, sizeof what, "fc_forward_act %dx%d->%d act %d", batch, in, out, act);
        CHECK_ERR(what, ha, ry, ny, 1e-5);
        free(ha);
    }
    void *gbufs[] = {gx, gw, gb, gdy, gy, gdx, gdw, gdb};
    for (size_t i = 0; i < 8; i++) G->release(G, gbufs[i]);
    void *hbufs[] = {x, w, b, dy, ry, rdx, rdw, rdb, hy, hdx, hdw, hdb};
    for (size_t i = 0; i < 12; i++) free(hbufs[i]);
}

static void test_pool(int batch, int c, int h, int w, int k, int s) {
    ib_pool_shape ps = ib_pool_make(c, h, w, k, s);
    size_t nx = (size_t)batch * c * h * w, ny = (size_t)batch * c * ps.out_h * ps.out_w;
    float *x = rnd(nx, 9, 2), *dy = rnd(ny, 10, 1);
    for (size_t i = 0; i < nx; i++) x[i] = roundf(x[i] * 2) / 2; /* many ties: the first maximum must win */
    x[nx / 3] = NAN, x[nx / 2] = -INFINITY;                     /* NaN propagates */
    float *ry = hbuf(ny), *rdx = hbuf(nx);
    int32_t *ram = calloc(ny, sizeof(int32_t));
    R->pool_forward(R, &ps, batch, x, ry, ram);
    R->pool_backward(R, &ps, batch, dy, ram, rdx);
    float *gx = dev(x, nx), *gy = dev(NULL, ny), *gdy = dev(dy, ny), *gdx = dev(NULL, nx);
    int32_t *gam = dev(NULL, ny);
    G->pool_forward(G, &ps, batch, gx, gy, gam);
    G->pool_backward(G, &ps, batch, gdy, gam, gdx);
    float *hy = back(gy, ny), *hdx = back(gdx, nx), *ham = back(gam, ny);
    CHECK(bitdiff(hy, ry, ny) == 0, "pool k%d s%d %dx%d forward: %ld values differ", k, s, h, w, bitdiff(hy, ry, ny));
    CHECK(bitdiff(ham, ram, ny) == 0, "pool k%d s%d argmax: %ld differ", k, s, bitdiff(ham, ram, ny));
    CHECK(bitdiff(hdx, rdx, nx) == 0, "pool k%d s%d %dx%d backward: %ld values differ", k, s, h, w, bitdiff(hdx, rdx, nx));
    printf("  pool k%d s%d %dx%d: values %ld, argmax %ld, dx %ld differ (bits)\n", k, s, h, w, bitdiff(hy, ry, ny),
           bitdiff(ham, ram, ny), bitdiff(hdx, rdx, nx));
    G->release(G, gx), G->release(G, gy), G->release(G, gdy), G->release(G, gdx), G->release(G, gam);
    free(x), free(dy), free(ry), free(rdx), free(ram), free(hy), free(hdx), free(ham);
}

static void test_act_dropout(void) {
    char what[64];
    const size_t n = 10001;
    float *x = rnd(n, 11, 4), *dy = rnd(n, 12, 1), *ry = hbuf(n), *rdx = hbuf(n);
    x[17] = NAN; /* propagates through every activation */
    float *gx = dev(x, n), *gy = dev(NULL, n), *gdy = dev(dy, n), *gdx = dev(NULL, n);
    for (int act = 0; act < 3; act++) {
        R->act_forward(R, (ib_act)act, n, x, ry);
        R->act_backward(R, (ib_act)act, n, ry, dy, rdx);
        G->act_forward(G, (ib_act)act, n, gx, gy);
        G->act_backward(G, (ib_act)act, n, gy, gdy, gdx);
        float *hy = back(gy, n), *hdx = back(gdx, n);
        snprintf(what, sizeof what, "act %d forward", act);
        CHECK_ERR(what, hy, ry, n, 1e-5);
        snprintf(what, sizeof what, "act %d backward", act);
        CHECK_ERR(what, hdx, rdx, n, 1e-4);
        free(hy), free(hdx);
    }
    x[17] = 0.25f; /* finite again: a NaN's bits after arithmetic differ between CPU and GPU */
    G->upload(G, gx, x, n * sizeof(float));
    const float keeps[] = {0.5f, 0.9f, 0.1f};
    for (int t = 0; t < 3; t++) {
        const uint64_t stream = ib_stream(IB_RNG_DROPOUT, 6, (uint32_t)(t + 100));
        R->dropout_forward(R, n, keeps[t], 7, stream, x, ry);
        R->dropout_backward(R, n, keeps[t], 7, stream, dy, rdx);
        G->dropout_forward(G, n, keeps[t], 7, stream, gx, gy);
        G->dropout_backward(G, n, keeps[t], 7, stream, gdy, gdx);
        float *hy = back(gy, n), *hdx = back(gdx, n);
        CHECK(bitdiff(hy, ry, n) == 0, "dropout keep %g forward: %ld values differ", keeps[t], bitdiff(hy, ry, n));
        CHECK(bitdiff(hdx, rdx, n) == 0, "dropout keep %g backward: %ld differ", keeps[t], bitdiff(hdx, rdx, n));
        printf("  dropout keep %.1f (n %zu): forward %ld, backward %ld values differ (bits)\n", keeps[t], n,
               bitdiff(hy, ry, n), bitdiff(hdx, rdx, n));
        free(hy), free(hdx);
    }
    G->release(G, gx), G->release(G, gy), G->release(G, gdy), G->release(G, gdx);
    free(x), free(dy), free(ry), free(rdx);
}

static void test_softmax(void) {
    const int batch = 37, classes = 10;
    size_t n = (size_t)batch * classes;
    float *z = rnd(n, 13, 5), *rd = hbuf(n);
    for (int c = 0; c < classes; c++) z[3 * classes + c] *= 2e4f; /* logits near 1e5 */
    int32_t lab[37];
    for (int i = 0; i < batch; i++) lab[i] = (int32_t)(ib_uniform_at(99, 14, (uint64_t)i) * classes);
    double rl, gl;
    int rc, gc;
    R->softmax_xent(R, batch, classes, z, lab, 1.0f / batch, rd, &rl, &rc);
    float *gz = dev(z, n), *gd = dev(NULL, n);
    int32_t *glab = dev(lab, (size_t)batch);
    G->softmax_xent(G, batch, classes, gz, glab, 1.0f / batch, gd, &gl, &gc);
    float *hd = back(gd, n);
    CHECK_REL(gl, rl, 1e-5, 1e-30);
    CHECK(gc == rc, "softmax_xent correct: %d vs %d", gc, rc);
    CHECK_ERR("softmax_xent dlogits", hd, rd, n, 1e-5);
    printf("  softmax_xent loss %.9g vs %.9g, correct %d vs %d\n", gl, rl, gc, rc);
    G->softmax_xent(G, batch, classes, gz, glab, 1.0f / batch, NULL, &gl, &gc); /* no gradient wanted */
    CHECK_REL(gl, rl, 1e-5, 1e-30);
    G->release(G, gz), G->release(G, gd), G->release(G, glab);
    free(z), free(rd), free(hd);
}

static void test_optim(void) {
    const size_t n = 10007;
    const struct { ib_optim_kind k; int nesterov; const char *name; } kinds[] = {
        {IB_OPT_ADAM_TF, 0, "adam (TF)"}, {IB_OPT_ADAM_PT, 0, "adam (PyTorch)"}, {IB_OPT_SGD, 0, "sgd"},
        {IB_OPT_MOMENTUM, 0, "momentum"}, {IB_OPT_MOMENTUM, 1, "nesterov"}, {IB_OPT_RMSPROP, 0, "rmsprop"}};
    for (size_t q = 0; q < sizeof kinds / sizeof *kinds; q++) {
        ib_optim_hparams hp = {kinds[q].k, 1e-3, 0.9, 0.999, 1e-8, 0.9, 0.9, kinds[q].nesterov};
        float *p = rnd(n, 15, 1), *m = hbuf(n), *v = hbuf(n), *u = hbuf(n);
        float *gp = dev(p, n), *gm = dev(NULL, n), *gv = dev(NULL, n), *gu = dev(NULL, n), *gg = dev(NULL, n);
        for (long t = 1; t <= 3; t++) {
            float *g = rnd(n, 16 + (uint32_t)t, t == 2 ? 1e-6f : 1e-2f);
            G->upload(G, gg, g, n * sizeof(float));
            R->optim_update(R, &hp, t, n, p, g, m, v, u);
            G->optim_update(G, &hp, t, n, gp, gg, gm, gv, gu);
            free(g);
        }
        float *hp_ = back(gp, n), *hm = back(gm, n), *hv = back(gv, n), *hu = back(gu, n);
        char what[64];
        snprintf(what, sizeof what, "optim %s param", kinds[q].name);
        CHECK_ERR(what, hp_, p, n, 1e-5);
        snprintf(what, sizeof what, "optim %s update", kinds[q].name);
        CHECK_ERR(what, hu, u, n, 1e-5);
        snprintf(what, sizeof what, "optim %s m", kinds[q].name);
        CHECK_ERR(what, hm, m, n, 1e-5);
        snprintf(what, sizeof what, "optim %s v", kinds[q].name);
        CHECK_ERR(what, hv, v, n, 1e-5);
        G->release(G, gp), G->release(G, gm), G->release(G, gv), G->release(G, gu), G->release(G, gg);
        free(p), free(m), free(v), free(u), free(hp_), free(hm), free(hv), free(hu);
    }
}

static void test_stats(void) {
    const size_t n = 3 * 8192 + 101;
    float *x = rnd(n, 20, 1);
    for (size_t i = 0; i < n; i += 97) x[i] = 0.0f;
    for (size_t i = 5; i < n; i += 1001) x[i] *= 1e-30f;
    x[7] = NAN, x[8] = INFINITY, x[n - 1] = -INFINITY, x[9] = 0.995f, x[10] = -0.999f;
    float *gx = dev(x, n);
    for (int sat = 0; sat < 3; sat++) {
        ib_stats_request req = {sat, sat == 1 ? 1e-3 : 0, sat != 2};
        ib_tensor_stats rs, gs;
        R->tensor_stats(R, x, n, &req, &rs);
        G->tensor_stats(G, gx, n, &req, &gs);
        CHECK(gs.n == rs.n && gs.zeros == rs.zeros && gs.saturated == rs.saturated && gs.below == rs.below &&
                  gs.nonfinite == rs.nonfinite,
              "stats counts (sat %d): n %g/%g zeros %g/%g saturated %g/%g below %g/%g nonfinite %g/%g", sat, gs.n,
              rs.n, gs.zeros, rs.zeros, gs.saturated, rs.saturated, gs.below, rs.below, gs.nonfinite, rs.nonfinite);
        CHECK(gs.min == rs.min && gs.max == rs.max, "stats min/max");
        CHECK_REL(gs.sum, rs.sum, 1e-12, 1e-300);
        CHECK_REL(gs.sum_sq, rs.sum_sq, 1e-12, 1e-300);
        int hist_bad = 0;
        for (int b = 0; b < IB_HIST_BINS + 2; b++) hist_bad += gs.hist[b] != rs.hist[b];
        CHECK(hist_bad == 0, "stats histogram: %d bins differ", hist_bad);
        ib_tensor_stats gs2;
        G->tensor_stats(G, gx, n, &req, &gs2);
        CHECK(memcmp(&gs, &gs2, sizeof gs) == 0, "tensor_stats not bitwise reproducible on the GPU");
        printf("  tensor_stats (sat %d): sum %.17g vs %.17g, %d histogram bins differ\n", sat, gs.sum, rs.sum, hist_bad);
    }
    G->release(G, gx);
    free(x);
}

/* The dataset resident on the device: gathered batches equal the CPU's gather bit for bit,
 * including repeated, last and out-of-order image numbers and a second, smaller gather. */
static void test_gather(void) {
    const size_t n = 37, size = 28 * 28;
    uint8_t *pixels = malloc(n * size), labels[37];
    for (size_t i = 0; i < n * size; i++) pixels[i] = (uint8_t)(ib_uniform_at(5, 1, i) * 256.0);
    for (size_t i = 0; i < n; i++) labels[i] = (uint8_t)(i % 10);
    const int64_t index[] = {36, 0, 5, 5, 17, 1, 36, 2};
    const int batch = (int)(sizeof index / sizeof index[0]);
    void *gi = G->images_open(G, pixels, labels, n, size), *ri = R->images_open(R, pixels, labels, n, size);
    for (int round = 0; round < 2; round++) {
        int b = round ? 3 : batch;
        float *rx = hbuf((size_t)batch * size), *gx = dev(NULL, (size_t)batch * size);
        int32_t ry[8], hy[8], *gy = dev(NULL, 8);
        R->gather_batch(R, ri, index + round, b, rx, ry);
        G->gather_batch(G, gi, index + round, b, gx, gy);
        float *hx = back(gx, (size_t)b * size);
        G->download(G, hy, gy, (size_t)b * sizeof(int32_t));
        CHECK(bitdiff(hx, rx, (size_t)b * size) == 0, "gather_batch (batch %d): images differ from the CPU's", b);
        CHECK(memcmp(hy, ry, (size_t)b * sizeof(int32_t)) == 0, "gather_batch (batch %d): labels differ", b);
        printf("  gather_batch (batch %d) from the resident dataset: bit-identical\n", b);
        G->release(G, gx), G->release(G, gy), free(rx), free(hx);
    }
    G->images_close(G, gi), R->images_close(R, ri);
    free(pixels);
}

/* CUDA graphs: a small network's training step as the trainer's three segments, on a backend
 * with graphs (run 1 eager, 2 captured, then replayed) and on one without (IB_CUDA_GRAPH=0):
 * every step's loss and count and the final parameters must be the same bits, while the per-step
 * values change (batch, dropout stream, Adam's step). A replay whose ops differ from the
 * capture (another buffer) must be refused before anything ran, and its rerun must agree too. */
typedef struct graph_net {
    ib_backend *be;
    void *images, *plan;
    float *x, *conv, *pool, *drop, *logits, *dlogits, *ddrop, *dpool, *dconv, *alt_pool;
    int32_t *y, *argmax;
    float *param, *grad, *m, *v;
} graph_net;
enum { GB = 8, GHW = 12, GC = 4, GK = 5, GCLS = 10, GPOOLED = GC * 6 * 6 };
enum { W_CONV = 0, B_CONV = GC * GK * GK, W_FC = B_CONV + GC, B_FC = W_FC + GCLS * GPOOLED, N_PARAM = B_FC + GCLS };

static void graph_net_init(graph_net *g, ib_backend *be, const uint8_t *pixels, const uint8_t *labels, size_t n) {
    memset(g, 0, sizeof *g);
    g->be = be;
    g->images = be->images_open(be, pixels, labels, n, GHW * GHW);
    ib_conv_shape cs = {GB, 1, GHW, GHW, GC, GK};
    g->plan = be->conv_plan(be, &cs);
    g->x = be->alloc(be, GB * GHW * GHW), g->y = be->alloc(be, GB);
    g->conv = be->alloc(be, GB * GC * GHW * GHW), g->dconv = be->alloc(be, GB * GC * GHW * GHW);
    g->pool = be->alloc(be, GB * GPOOLED), g->alt_pool = be->alloc(be, GB * GPOOLED);
    g->argmax = be->alloc(be, GB * GPOOLED), g->dpool = be->alloc(be, GB * GPOOLED);
    g->drop = be->alloc(be, GB * GPOOLED), g->ddrop = be->alloc(be, GB * GPOOLED);
    g->logits = be->alloc(be, GB * GCLS), g->dlogits = be->alloc(be, GB * GCLS);
    g->grad = be->alloc(be, N_PARAM), g->m = be->alloc(be, N_PARAM), g->v = be->alloc(be, N_PARAM);
    float *p = rnd(N_PARAM, 31, 0.2f);
    g->param = dev(p, N_PARAM);
    free(p);
}
static void graph_net_free(graph_net *g) {
    ib_backend *be = g->be;
    void *bufs[] = {g->x, g->y, g->conv, g->dconv, g->pool, g->alt_pool, g->argmax, g->dpool, g->drop, g->ddrop,
                    g->logits, g->dlogits, g->grad, g->m, g->v, g->param};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) be->release(be, bufs[i]);
    be->conv_plan_free(be, g->plan);
    be->images_close(be, g->images);
}
/* One step; alt: the pool writes another buffer (a replay that differs from the capture).
 * Returns how many segment runs were refused (and rerun). */
static int graph_step(graph_net *g, long step, int alt, double *loss, int *correct) {
    ib_backend *be = g->be;
    const int seg = be->segment_begin != NULL;
    const ib_pool_shape ps = ib_pool_make(GC, GHW, GHW, 2, 2);
    const ib_optim_hparams hp = {IB_OPT_ADAM_TF, 1e-2, 0.9, 0.999, 1e-8, 0, 0, 0};
    float *pool = alt ? g->alt_pool : g->pool;
    const uint64_t stream = ib_stream(IB_RNG_DROPOUT, 3, (uint32_t)step);
    int refused = 0;
    for (;;) {
        if (seg) be->segment_begin(be, IB_SEGMENT_FORWARD);
        int64_t index[GB];
        for (int b = 0; b < GB; b++) index[b] = (step * 5 + b * 3) % 41;
        be->gather_batch(be, g->images, index, GB, g->x, g->y);
        be->conv_forward_act(be, g->plan, GB, g->x, g->param + W_CONV, g->param + B_CONV, IB_ACT_RELU, g->conv);
        be->pool_forward(be, &ps, GB, g->conv, pool, g->argmax);
        be->dropout_forward(be, (size_t)GB * GPOOLED, 0.7f, 99, stream, pool, g->drop);
        be->fc_forward(be, GB, GPOOLED, GCLS, g->drop, g->param + W_FC, g->param + B_FC, g->logits);
        be->softmax_xent(be, GB, GCLS, g->logits, g->y, 1.0f / GB, g->dlogits, loss, correct);
        if (!seg || !be->segment_end(be, IB_SEGMENT_FORWARD)) break;
        refused++;
    }
    for (;;) {
        if (seg) be->segment_begin(be, IB_SEGMENT_BACKWARD);
        be->zero(be, g->grad, N_PARAM);
        be->fc_backward(be, GB, GPOOLED, GCLS, g->drop, g->param + W_FC, g->dlogits, g->ddrop, g->grad + W_FC,
                        g->grad + B_FC);
        be->dropout_backward(be, (size_t)GB * GPOOLED, 0.7f, 99, stream, g->ddrop, g->dpool);
        be->pool_backward(be, &ps, GB, g->dpool, g->argmax, g->dconv);
        be->act_backward(be, IB_ACT_RELU, (size_t)GB * GC * GHW * GHW, g->conv, g->dconv, g->dconv);
        be->conv_backward(be, g->plan, GB, g->x, g->param + W_CONV, g->dconv, NULL, g->grad + W_CONV,
                          g->grad + B_CONV);
        if (!seg || !be->segment_end(be, IB_SEGMENT_BACKWARD)) break;
        refused++;
    }
    for (;;) {
        if (seg) be->segment_begin(be, IB_SEGMENT_UPDATE);
        be->optim_update(be, &hp, step + 1, N_PARAM, g->param, g->grad, g->m, g->v, NULL);
        if (!seg || !be->segment_end(be, IB_SEGMENT_UPDATE)) break;
        refused++;
    }
    return refused;
}

static void test_graphs(void) {
    if (!G->segment_begin) {
        printf("  CUDA graphs: off (IB_CUDA_GRAPH=0 in the environment): not tested\n");
        return;
    }
    char msg[512];
    setenv("IB_CUDA_GRAPH", "0", 1);
    ib_backend *E = ib_backend_create("cuda", &fp32_single_thread, msg, sizeof msg);
    unsetenv("IB_CUDA_GRAPH");
    CHECK(E && !E->segment_begin, "IB_CUDA_GRAPH=0: a backend without segments");
    if (!E) return;
    const size_t n = 41;
    uint8_t *pixels = malloc(n * GHW * GHW), labels[41];
    for (size_t i = 0; i < n * GHW * GHW; i++) pixels[i] = (uint8_t)(ib_uniform_at(6, 1, i) * 256.0);
    for (size_t i = 0; i < n; i++) labels[i] = (uint8_t)(i % GCLS);
    graph_net a, b;
    graph_net_init(&a, G, pixels, labels, n);
    graph_net_init(&b, E, pixels, labels, n);
    long bad = 0;
    int refused = 0;
    const long steps = 8;
    for (long s = 0; s < steps; s++) {
        double la, lb;
        int ca, cb;
        const int alt = s == 5; /* step 5's replay differs from the capture: refused, rerun eagerly */
        refused += graph_step(&a, s, alt, &la, &ca);
        graph_step(&b, s, alt, &lb, &cb);
        if (memcmp(&la, &lb, sizeof la) || ca != cb) {
            bad++;
            fprintf(stderr, "graph step %ld: loss %.17g / %.17g, correct %d / %d\n", s, la, lb, ca, cb);
        }
    }
    CHECK(bad == 0, "CUDA graphs: %ld of %ld steps' loss or count differ from the eager backend", bad, steps);
    CHECK(refused == 1, "CUDA graphs: %d segment runs refused, expected 1 (the differing replay)", refused);
    float *pa = back(a.param, N_PARAM), *pb = back(b.param, N_PARAM);
    float *ma = back(a.m, N_PARAM), *mb = back(b.m, N_PARAM);
    CHECK(bitdiff(pa, pb, N_PARAM) == 0, "CUDA graphs: %ld parameters differ", bitdiff(pa, pb, N_PARAM));
    CHECK(bitdiff(ma, mb, N_PARAM) == 0, "CUDA graphs: %ld first moments differ", bitdiff(ma, mb, N_PARAM));
    printf("  CUDA graphs: %ld steps (captured at step 1, replayed after; the differing replay at step 5 refused "
           "and rerun: %d): %ld steps differ, %ld parameters differ (bits)\n",
           steps, refused, bad, bitdiff(pa, pb, N_PARAM));
    free(pa), free(pb), free(ma), free(mb), free(pixels);
    graph_net_free(&a), graph_net_free(&b);
    E->destroy(E);
}

int main(int argc, char **argv) {
    char msg[512];
    G = ib_backend_create("cuda", &fp32_single_thread, msg, sizeof msg); /* fp32: the parity bounds assume it */
    if (!G) {
        printf("skip: %s\n", msg);
        return 77;
    }
    if (argc > 1 && !strcmp(argv[1], "--probe")) {
        printf("cuda backend usable\n");
        G->destroy(G);
        return 0;
    }
    R = ib_backend_ref_create(0);
    printf("cuda parity against ref (normwise relative error; fp32 tolerances 1e-5 forward, 1e-4 backward)\n");
    test_philox_words();
    test_gather();
    test_conv(3, 3, 2, 9, 7, 4, 5);
    test_conv(5, 3, 3, 8, 8, 5, 4); /* even k: TF's asymmetric SAME; smaller batch than planned */
    test_conv(2, 2, 1, 6, 5, 3, 3);
    test_conv(2, 2, 2, 7, 7, 3, 2);
    test_conv(4, 4, 1, 28, 28, 32, 5);  /* the original network's layers */
    test_conv(4, 4, 32, 14, 14, 64, 5);
    test_fc(7, 33, 10);
    test_fc(50, 3136, 64);
    test_fc(50, 1024, 10);
    test_pool(2, 3, 7, 7, 2, 2);
    test_pool(2, 2, 8, 8, 3, 2);
    test_pool(2, 2, 5, 6, 3, 1);
    test_pool(4, 32, 28, 28, 2, 2);
    test_act_dropout();
    test_softmax();
    test_optim();
    test_stats();
    test_graphs();
    R->destroy(R);
    G->destroy(G);
    return check_finish("cuda parity");
}
