/* The cuda backend's own checks, beyond per-op parity (tests/kernels/test_backend_ops.c compares
 * every op of every backend, cuda included, against ref): the Philox words computed on the device
 * equal kernels/rng.c's; CUDA graphs (segments) give the eager backend's bits, and a replay that
 * differs from its capture is refused before anything ran and rerun. With no usable GPU it prints
 * "skip: <reason>" and exits 77 (ctest: skipped).
 * usage: test_cuda [--probe]   (--probe: only say whether a GPU is usable: exit 0 or 77) */
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_kernels.h"
#include "rng.h"

static ib_backend *G;
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
static long bitdiff(const void *a, const void *b, size_t n) {
    long k = 0;
    for (size_t i = 0; i < n; i++) k += ((const uint32_t *)a)[i] != ((const uint32_t *)b)[i];
    return k;
}

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
    G = ib_backend_create("cuda", &fp32_single_thread, msg, sizeof msg);
    if (!G) {
        printf("skip: %s\n", msg);
        return 77;
    }
    if (argc > 1 && !strcmp(argv[1], "--probe")) {
        printf("cuda backend usable\n");
        G->destroy(G);
        return 0;
    }
    printf("cuda backend checks: device Philox words, CUDA graphs against eager (per-op parity: test_backend_ops)\n");
    test_philox_words();
    test_graphs();
    G->destroy(G);
    return check_finish("test_cuda");
}
