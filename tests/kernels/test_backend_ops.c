/* test_backend_ops: every computing op of struct ib_backend (kernels/backend.h) on every registered
 * backend other than ref, against ref -- after ggml's tests/test-backend-ops.cpp: one table of op
 * cases, one driver.
 *
 * Each case is one op at one shape. The driver makes its inputs once, runs it on ref and on each
 * backend (created through ib_backend_create with fp32 math: the setting tf32 = 0, which a backend
 * that does not take it ignores), downloads every output and checks:
 *   - against ref: normwise, max|backend - ref| / max|ref| over the tensor (NaN where ref has NaN
 *     is agreement), within the op's tolerance for that backend (tolerance() below); dropout
 *     masks, pooling (values, argmax, gradients), gather_batch and tensor_stats' counts and
 *     histogram bit for bit;
 *   - thread counts: a backend that takes a thread count (created with threads = 2 through
 *     ib_backend_params, it reports be->threads == 2) is also created with 1, and every output of
 *     every case must be the same bits (backend.h; cli_determinism relies on it);
 *   - the backend against itself: a plan reused gives the same bits, conv/fc backward without dx
 *     the same dw and db, a fused op after another its own bits, tensor_stats the same struct;
 *     conv_act_pool_forward_train the bits of the backend's own conv_forward_act + pool_forward
 *     (all three outputs; its argmax is checked only so, and for the thread identity: near-ties
 *     may pick another cell than ref's rounding does).
 * A backend that cannot be created here is skipped with its reason ("skip cuda: ..."); the test
 * exits 77 only when no backend other than ref could run. ref's plain double loops are slow, so
 * forward ops at batch >= 100 compare ref on a sample of the images (the backend still runs the
 * whole batch, at both thread counts), cases of one layer shape share ref's results (ref_memo),
 * and the case marked "no ref" (training at batch 50) gets the thread identity only.
 * Output: one line per (case, backend) with "rel err E (tol T)" or "(exact)" (bench/gpu_check.sh
 * parses these), failures as "CHECK failed" lines on stderr, then one table row per (op, backend)
 * and "test_backend_ops: N checks, M failed".
 * usage: test_backend_ops [-b BACKEND] [-o OP] [-v]
 *   -b: only that backend; -o: only ops whose name contains OP; -v: every output's error too */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "check.h"
#include "init.h"
#include "net.h"
#include "rng.h"
#include "spec.h"

/* ---------------- tolerances ---------------- */
/* Those of the suites this test replaced (test_fast_backend: cpu; test_cuda's per-op part: cuda).
 * A backend not listed gets the strictest. They must hold on AVX2 and AVX-512 alike (oneDNN's ISA:
 * ONEDNN_MAX_CPU_ISA=AVX2; CI runs the numerics label under both). */
typedef enum { T_FWD, T_BWD, T_OPT, T_EXACT, T_SUMS, T_TRAIN, T_SELF } tol_class;
typedef struct backend_tols {
    const char *name;
    double fwd, bwd, opt;
} backend_tols;
static const backend_tols strictest = {"", 1e-5, 1e-5, 1e-6};
static const backend_tols looser[] = {{"cuda", 1e-5, 1e-4, 1e-5}};

static double tolerance(const char *backend, tol_class t) {
    backend_tols b = strictest;
    for (size_t i = 0; i < sizeof looser / sizeof *looser; i++)
        if (!strcmp(looser[i].name, backend)) b = looser[i];
    switch (t) {
    case T_FWD: return b.fwd;
    case T_BWD: return b.bwd;
    case T_OPT: return b.opt;
    case T_EXACT: return 0;
    case T_SUMS: return 1e-12; /* tensor_stats' sums: double over fixed chunks */
    case T_TRAIN: return 1e-4; /* parameters after 5 Adam steps: relative 2-norm */
    case T_SELF: return 0;     /* not against ref: against the backend's own ops (self-checks) */
    }
    return 0;
}

/* ---------------- host helpers ---------------- */
static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) abort();
    return p;
}
static float *fmk(size_t n) { return xcalloc(n, sizeof(float)); }
/* uniform in [-scale, scale), four values per Philox block */
static void fill(float *x, size_t n, uint64_t stream, float scale) {
    for (size_t blk = 0; blk < (n + 3) / 4; blk++) {
        uint32_t r[4];
        ib_philox(99, stream, blk, r);
        for (size_t k = 0; k < 4 && 4 * blk + k < n; k++) x[4 * blk + k] = scale * (2.0f * ib_u01(r[k]) - 1.0f);
    }
}
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---------------- results: every output of one run, on the host ---------------- */
typedef enum { F32, I32, F64 } dtype;
typedef struct result {
    const char *name;
    dtype type;
    size_t n;
    void *h;
    int cls; /* tol_class, or -1: the case's */
} result;
typedef struct results {
    int n;
    result r[8];
} results;
static size_t dsize(dtype t) { return t == F64 ? 8 : 4; }

static void res_host(results *o, const char *name, dtype t, const void *h, size_t n, int cls) {
    if (o->n == (int)(sizeof o->r / sizeof *o->r)) abort();
    result *r = &o->r[o->n++];
    *r = (result){name, t, n, xcalloc(n, dsize(t)), cls};
    if (n) memcpy(r->h, h, n * dsize(t));
}
/* from backend memory (F32 or I32) */
static void res_dev(results *o, ib_backend *be, const char *name, dtype t, const void *d, size_t n, int cls) {
    if (o->n == (int)(sizeof o->r / sizeof *o->r)) abort();
    result *r = &o->r[o->n++];
    *r = (result){name, t, n, xcalloc(n, dsize(t)), cls};
    if (n) be->download(be, r->h, d, n * dsize(t));
}
static void res_free(results *o) {
    for (int i = 0; i < o->n; i++) free(o->r[i].h);
    o->n = 0;
}

/* ---------------- the cases ---------------- */
typedef struct op_case op_case;
typedef void (*run_fn)(op_case *c, ib_backend *be, results *out);
struct op_case {
    const char *op; /* the table's row: the ib_backend member (or "training") */
    char desc[64];
    run_fn run;
    tol_class tol;
    int no_ref, no_threads;
    int id;
    /* Cases of one layer shape and batch share their inputs ("conv k5 32x14x14->64 b50": conv
     * forward, backward and the fused ops, whatever the plan's batch), and so ref's results: ref
     * computes each once (ref_memo). Empty: inputs of the case's own. */
    char ikey[48];
    /* parameters: each op reads its own */
    ib_conv_shape cs;
    int batch, with_dx, act, in, out, inplace, kind, nesterov, no_update, steps, classes;
    ib_pool_shape ps;
    size_t n;
    float keep;
    ib_stats_request req;
    /* A forward op at a large batch: ref runs on a sample of the images (sample_images()), and
     * the backend's outputs for those images are compared: every output is per image, and input
     * slot 0 is the only one per image. */
    int sample;
    /* inputs, made on first use and the same for every backend */
    float *inputs[6];
    size_t inputs_n[6];
};

static ib_backend *REF; /* the reference */
/* self-checks (a backend against itself) run on each backend's first run of a case only: not on
 * ref, not again on its 1-thread twin (time) */
static int self_checks;

static float *input(op_case *c, int slot, size_t n, float scale, int *fresh) {
    if (fresh) *fresh = 0;
    if (!c->inputs[slot]) {
        c->inputs[slot] = fmk(n);
        c->inputs_n[slot] = n;
        uint32_t key = (uint32_t)c->id;
        if (c->ikey[0]) /* FNV-1a */
            for (const char *k = c->ikey, *e = (key = 2166136261u, c->ikey + strlen(c->ikey)); k < e; k++)
                key = (key ^ (uint8_t)*k) * 16777619u;
        fill(c->inputs[slot], n, ib_stream(IB_RNG_TEST, 9, key * 8 + (uint32_t)slot), scale);
        if (fresh) *fresh = 1;
    }
    return c->inputs[slot];
}

/* backend memory of n words, from host data h (or zeroed) */
static void *put(ib_backend *be, const void *h, size_t n) {
    void *d = be->alloc(be, n ? n : 1);
    if (h && n) be->upload(be, d, h, n * 4);
    return d;
}
/* are n words at backend memory d the same bits as host h? (self-checks) */
static int same_bits(ib_backend *be, const void *d, const void *h, size_t n) {
    void *t = xcalloc(n, 4);
    if (n) be->download(be, t, d, n * 4);
    int same = memcmp(t, h, n * 4) == 0;
    free(t);
    return same;
}
static void self_check(int ok, const op_case *c, const ib_backend *be, const char *what) {
    CHECK(ok, "%s %s %s: %s", be->name, c->op, c->desc, what);
}
static const char *act_name(int act) { return act == IB_ACT_RELU ? "relu" : act == IB_ACT_TANH ? "tanh" : "sigmoid"; }

/* ---- convolution ---- */
static size_t conv_nx(const op_case *c) { return (size_t)c->batch * c->cs.in_c * c->cs.h * c->cs.w; }
static size_t conv_nw(const op_case *c) { return (size_t)c->cs.out_c * c->cs.in_c * c->cs.k * c->cs.k; }
static size_t conv_ny(const op_case *c) { return (size_t)c->batch * c->cs.out_c * c->cs.h * c->cs.w; }

static void run_conv_forward(op_case *c, ib_backend *be, results *o) {
    const size_t nx = conv_nx(c), nw = conv_nw(c), ny = conv_ny(c);
    float *x = put(be, input(c, 0, nx, 1, NULL), nx), *w = put(be, input(c, 1, nw, 0.2f, NULL), nw);
    float *b = put(be, input(c, 2, c->cs.out_c, 0.1f, NULL), c->cs.out_c), *y = put(be, NULL, ny);
    void *plan = be->conv_plan(be, &c->cs);
    be->conv_forward(be, plan, c->batch, x, w, b, y);
    res_dev(o, be, "y", F32, y, ny, -1);
    if (self_checks) {
        be->conv_forward(be, plan, c->batch, x, w, b, y);
        self_check(same_bits(be, y, o->r[0].h, ny), c, be, "a reused plan gives other bits");
    }
    be->conv_plan_free(be, plan);
    be->release(be, x), be->release(be, w), be->release(be, b), be->release(be, y);
}

static void run_conv_backward(op_case *c, ib_backend *be, results *o) {
    const size_t nx = conv_nx(c), nw = conv_nw(c), ny = conv_ny(c), O = (size_t)c->cs.out_c;
    float *x = put(be, input(c, 0, nx, 1, NULL), nx), *w = put(be, input(c, 1, nw, 0.2f, NULL), nw);
    float *dy = put(be, input(c, 3, ny, 1, NULL), ny);
    float *dx = c->with_dx ? put(be, NULL, nx) : NULL, *dw = put(be, NULL, nw), *db = put(be, NULL, O);
    void *plan = be->conv_plan(be, &c->cs);
    be->conv_backward(be, plan, c->batch, x, w, dy, dx, dw, db);
    if (dx) res_dev(o, be, "dx", F32, dx, nx, -1);
    res_dev(o, be, "dw", F32, dw, nw, -1);
    res_dev(o, be, "db", F32, db, O, -1);
    if (self_checks) {
        const int k = dx ? 1 : 0;
        be->zero(be, dw, nw);
        be->conv_backward(be, plan, c->batch, x, w, dy, dx, dw, db);
        self_check((!dx || same_bits(be, dx, o->r[0].h, nx)) && same_bits(be, dw, o->r[k].h, nw) &&
                       same_bits(be, db, o->r[k + 1].h, O),
                   c, be, "a reused plan gives other bits");
        if (dx) {
            be->zero(be, dw, nw), be->zero(be, db, O);
            be->conv_backward(be, plan, c->batch, x, w, dy, NULL, dw, db);
            self_check(same_bits(be, dw, o->r[1].h, nw) && same_bits(be, db, o->r[2].h, O), c, be,
                       "dw, db without dx differ from those with dx");
        }
    }
    be->conv_plan_free(be, plan);
    be->release(be, x), be->release(be, w), be->release(be, dy), be->release(be, dw), be->release(be, db);
    if (dx) be->release(be, dx);
}

/* ---- ref's results, kept across cases with the same inputs (ref's plain loops are slow) ---- */
typedef struct memo {
    char key[96];
    results r;
} memo;
static memo memos[64];
static int n_memos;
static void res_copy(results *dst, const results *src) {
    dst->n = 0;
    for (int i = 0; i < src->n; i++) {
        const result *r = &src->r[i];
        res_host(dst, r->name, r->type, r->h, r->n, r->cls);
    }
}
/* ref's results for op on the case's inputs (other parameters in extra), from the memo or run now */
static void ref_memo(op_case *c, const char *op, run_fn run, const char *extra, results *o) {
    char key[96];
    snprintf(key, sizeof key, "%s|%s|%s", op, c->ikey, extra);
    for (int i = 0; i < n_memos; i++)
        if (!strcmp(memos[i].key, key)) {
            res_copy(o, &memos[i].r);
            return;
        }
    op_case k = *c;
    k.run = run;
    run(&k, REF, o);
    for (int i = 0; i < 6; i++) /* inputs made by that run belong to the case */
        if (!c->inputs[i] && k.inputs[i]) c->inputs[i] = k.inputs[i], c->inputs_n[i] = k.inputs_n[i];
    if (n_memos < (int)(sizeof memos / sizeof *memos)) {
        snprintf(memos[n_memos].key, sizeof memos[n_memos].key, "%s", key);
        res_copy(&memos[n_memos++].r, o);
    }
}
static void memo_free(void) {
    for (int i = 0; i < n_memos; i++) res_free(&memos[i].r);
    n_memos = 0;
}
static int memoised(const op_case *c, const ib_backend *be) { return be == REF && c->ikey[0] && !c->sample; }

static void run_conv_forward(op_case *c, ib_backend *be, results *o);
static void run_fc_forward(op_case *c, ib_backend *be, results *o);
/* ref's fused ops are their composition (ib_backend_complete): act(y) and pool(act(y)) of ref's
 * conv or fc output y, here from the memo. pooled: 0 act(y); 1 pool(act(y)); 2 (training) act(y),
 * pool(act(y)) and its argmax */
static void ref_fused(op_case *c, results *o, int conv, int pooled) {
    results plain = {0};
    op_case k = *c;
    k.act = -1;
    ref_memo(&k, conv ? "conv_forward" : "fc_forward", conv ? run_conv_forward : run_fc_forward, "", &plain);
    float *y = plain.r[0].h;
    REF->act_forward(REF, (ib_act)c->act, plain.r[0].n, y, y);
    if (pooled) {
        const ib_pool_shape ps = ib_pool_make(c->cs.out_c, c->cs.h, c->cs.w, 2, 2);
        const size_t np = (size_t)c->batch * ps.c * ps.out_h * ps.out_w;
        float *yp = fmk(np);
        int32_t *am = xcalloc(np, sizeof *am);
        REF->pool_forward(REF, &ps, c->batch, y, yp, am);
        if (pooled == 2) res_host(o, "act", F32, y, plain.r[0].n, -1);
        res_host(o, "y", F32, yp, np, -1);
        if (pooled == 2) res_host(o, "argmax", I32, am, np, T_SELF);
        free(yp), free(am);
    } else {
        res_host(o, "y", F32, y, plain.r[0].n, -1);
    }
    res_free(&plain);
}

static void run_conv_fused(op_case *c, ib_backend *be, results *o, int pooled) {
    if (memoised(c, be)) {
        ref_fused(c, o, 1, pooled);
        return;
    }
    const size_t nx = conv_nx(c), nw = conv_nw(c), ny = conv_ny(c);
    const ib_pool_shape ps = ib_pool_make(c->cs.out_c, c->cs.h, c->cs.w, 2, 2);
    const size_t np = (size_t)c->batch * ps.c * ps.out_h * ps.out_w;
    float *x = put(be, input(c, 0, nx, 1, NULL), nx), *w = put(be, input(c, 1, nw, 0.2f, NULL), nw);
    float *b = put(be, input(c, 2, c->cs.out_c, 0.1f, NULL), c->cs.out_c);
    float *y = put(be, NULL, ny), *yp = put(be, NULL, np);
    void *plan = be->conv_plan(be, &c->cs);
    if (pooled) {
        be->conv_act_pool_forward(be, plan, c->batch, x, w, b, (ib_act)c->act, &ps, yp);
        res_dev(o, be, "y", F32, yp, np, -1);
    } else {
        be->conv_forward_act(be, plan, c->batch, x, w, b, (ib_act)c->act, y);
        res_dev(o, be, "y", F32, y, ny, -1);
        if (self_checks) { /* the pooled path with the same plan, then this one again: the same bits */
            be->conv_act_pool_forward(be, plan, c->batch, x, w, b, (ib_act)c->act, &ps, yp);
            be->conv_forward_act(be, plan, c->batch, x, w, b, (ib_act)c->act, y);
            self_check(same_bits(be, y, o->r[0].h, ny), c, be, "after conv_act_pool_forward: other bits");
        }
    }
    be->conv_plan_free(be, plan);
    be->release(be, x), be->release(be, w), be->release(be, b), be->release(be, y), be->release(be, yp);
}
static void run_conv_forward_act(op_case *c, ib_backend *be, results *o) { run_conv_fused(c, be, o, 0); }

/* Training's fused op: the activations, the pooled values and the argmax, which must be the bits of
 * the backend's own conv_forward_act and pool_forward (run after it on the same plan; then the
 * fused op again: the same bits) */
static void run_conv_act_pool_train(op_case *c, ib_backend *be, results *o) {
    if (memoised(c, be)) {
        ref_fused(c, o, 1, 2);
        return;
    }
    const size_t nx = conv_nx(c), nw = conv_nw(c), ny = conv_ny(c);
    const ib_pool_shape ps = ib_pool_make(c->cs.out_c, c->cs.h, c->cs.w, 2, 2);
    const size_t np = (size_t)c->batch * ps.c * ps.out_h * ps.out_w;
    const ib_act act = (ib_act)c->act;
    float *x = put(be, input(c, 0, nx, 1, NULL), nx), *w = put(be, input(c, 1, nw, 0.2f, NULL), nw);
    float *b = put(be, input(c, 2, c->cs.out_c, 0.1f, NULL), c->cs.out_c);
    float *y = put(be, NULL, ny), *yp = put(be, NULL, np);
    int32_t *am = put(be, NULL, np);
    void *plan = be->conv_plan(be, &c->cs);
    be->conv_act_pool_forward_train(be, plan, c->batch, x, w, b, act, &ps, y, yp, am);
    res_dev(o, be, "act", F32, y, ny, -1);
    res_dev(o, be, "y", F32, yp, np, -1);
    res_dev(o, be, "argmax", I32, am, np, T_SELF);
    if (self_checks) {
        be->zero(be, y, ny), be->zero(be, yp, np), be->zero(be, (float *)am, np); /* 32-bit words */
        be->conv_forward_act(be, plan, c->batch, x, w, b, act, y);
        be->pool_forward(be, &ps, c->batch, y, yp, am);
        self_check(same_bits(be, y, o->r[0].h, ny), c, be, "act differs from conv_forward_act's");
        self_check(same_bits(be, yp, o->r[1].h, np) && same_bits(be, am, o->r[2].h, np), c, be,
                   "pooled values or argmax differ from pool_forward's after conv_forward_act");
        be->zero(be, y, ny), be->zero(be, yp, np), be->zero(be, (float *)am, np); /* 32-bit words */
        be->conv_act_pool_forward_train(be, plan, c->batch, x, w, b, act, &ps, y, yp, am);
        self_check(same_bits(be, y, o->r[0].h, ny) && same_bits(be, yp, o->r[1].h, np) &&
                       same_bits(be, am, o->r[2].h, np),
                   c, be, "a second call on the same plan gives other bits");
    }
    be->conv_plan_free(be, plan);
    be->release(be, x), be->release(be, w), be->release(be, b), be->release(be, y), be->release(be, yp);
    be->release(be, am);
}
static void run_conv_act_pool_forward(op_case *c, ib_backend *be, results *o) { run_conv_fused(c, be, o, 1); }

/* ---- fully connected ---- */
static void run_fc_forward(op_case *c, ib_backend *be, results *o) {
    if (memoised(c, be) && c->act >= 0) {
        ref_fused(c, o, 0, 0);
        return;
    }
    const size_t nx = (size_t)c->batch * c->in, nw = (size_t)c->out * c->in, ny = (size_t)c->batch * c->out;
    float *x = put(be, input(c, 0, nx, 1, NULL), nx), *w = put(be, input(c, 1, nw, 0.05f, NULL), nw);
    float *b = put(be, input(c, 2, c->out, 0.1f, NULL), c->out), *y = put(be, NULL, ny);
    if (c->act < 0) be->fc_forward(be, c->batch, c->in, c->out, x, w, b, y);
    else be->fc_forward_act(be, c->batch, c->in, c->out, x, w, b, (ib_act)c->act, y);
    res_dev(o, be, "y", F32, y, ny, -1);
    if (self_checks) {
        be->zero(be, y, ny);
        if (c->act < 0) be->fc_forward(be, c->batch, c->in, c->out, x, w, b, y);
        else be->fc_forward_act(be, c->batch, c->in, c->out, x, w, b, (ib_act)c->act, y);
        self_check(same_bits(be, y, o->r[0].h, ny), c, be, "a second call gives other bits");
    }
    be->release(be, x), be->release(be, w), be->release(be, b), be->release(be, y);
}

static void run_fc_backward(op_case *c, ib_backend *be, results *o) {
    const size_t nx = (size_t)c->batch * c->in, nw = (size_t)c->out * c->in, ny = (size_t)c->batch * c->out;
    float *x = put(be, input(c, 0, nx, 1, NULL), nx), *w = put(be, input(c, 1, nw, 0.05f, NULL), nw);
    float *dy = put(be, input(c, 3, ny, 1, NULL), ny);
    float *dx = c->with_dx ? put(be, NULL, nx) : NULL, *dw = put(be, NULL, nw), *db = put(be, NULL, c->out);
    be->fc_backward(be, c->batch, c->in, c->out, x, w, dy, dx, dw, db);
    if (dx) res_dev(o, be, "dx", F32, dx, nx, -1);
    res_dev(o, be, "dw", F32, dw, nw, -1);
    res_dev(o, be, "db", F32, db, c->out, -1);
    if (self_checks && dx) {
        be->zero(be, dw, nw), be->zero(be, db, c->out);
        be->fc_backward(be, c->batch, c->in, c->out, x, w, dy, NULL, dw, db);
        self_check(same_bits(be, dw, o->r[1].h, nw) && same_bits(be, db, o->r[2].h, c->out), c, be,
                   "dw, db without dx differ from those with dx");
    }
    be->release(be, x), be->release(be, w), be->release(be, dy), be->release(be, dw), be->release(be, db);
    if (dx) be->release(be, dx);
}

/* ---- max pooling: many ties (the first maximum must win; +0 and -0 tie), NaN propagates (the
 * first NaN of a window wins: two NaNs of other bits share some windows), -inf, whole rows of -inf ---- */
static void run_pool(op_case *c, ib_backend *be, results *o, int backward) {
    const ib_pool_shape *s = &c->ps;
    const size_t nx = (size_t)c->batch * s->c * s->in_h * s->in_w, ny = (size_t)c->batch * s->c * s->out_h * s->out_w;
    int fresh;
    float *hx = input(c, 0, nx, 2, &fresh);
    if (fresh) {
        for (size_t i = 0; i < nx; i++) hx[i] = roundf(hx[i] * 2) / 2; /* also -0 */
        for (size_t i = 0; i < nx; i += 101) hx[i] = NAN;                /* every cell of a window in turn */
        for (size_t i = 1; i < nx; i += 211) hx[i] = -NAN;
        for (size_t i = 2; i < nx; i += 53) hx[i] = -INFINITY;
        for (size_t i = nx / 2; i < nx && i < nx / 2 + 2 * (size_t)s->in_w; i++) hx[i] = -INFINITY;
        hx[nx / 3] = NAN;
    }
    float *x = put(be, hx, nx), *y = put(be, NULL, ny), *dx = NULL, *dy = NULL;
    int32_t *am = put(be, NULL, ny);
    be->pool_forward(be, s, c->batch, x, y, am);
    if (!backward) {
        res_dev(o, be, "y", F32, y, ny, -1);
        res_dev(o, be, "argmax", I32, am, ny, -1);
    } else {
        dy = put(be, input(c, 1, ny, 1, NULL), ny), dx = put(be, NULL, nx);
        be->pool_backward(be, s, c->batch, dy, am, dx);
        res_dev(o, be, "dx", F32, dx, nx, -1);
        be->release(be, dy), be->release(be, dx);
    }
    be->release(be, x), be->release(be, y), be->release(be, am);
}
/* ---- activation then max pooling, backward: act_y = act(x) over the pooling's inputs above, its
 * argmax from the backend's own pool_forward; the fused op must give the bits of the backend's own
 * pool_backward + act_backward (self check) and match ref (ReLU bit for bit) ---- */
static void run_act_pool_backward(op_case *c, ib_backend *be, results *o) {
    const ib_pool_shape *s = &c->ps;
    const size_t nx = (size_t)c->batch * s->c * s->in_h * s->in_w, ny = (size_t)c->batch * s->c * s->out_h * s->out_w;
    int fresh;
    float *hx = input(c, 0, nx, 2, &fresh);
    if (fresh) {
        for (size_t i = 0; i < nx; i++) hx[i] = roundf(hx[i] * 2) / 2; /* ties, -0, x <= 0 */
        for (size_t i = 0; i < nx; i += 101) hx[i] = NAN;
        for (size_t i = 2; i < nx; i += 53) hx[i] = -INFINITY;
    }
    float *y = put(be, hx, nx), *py = put(be, NULL, ny), *dx = put(be, NULL, nx);
    float *dy = put(be, input(c, 1, ny, 1, NULL), ny);
    int32_t *am = put(be, NULL, ny);
    be->act_forward(be, (ib_act)c->act, nx, y, y);
    be->pool_forward(be, s, c->batch, y, py, am);
    be->act_pool_backward(be, (ib_act)c->act, s, c->batch, y, py, dy, am, dx);
    res_dev(o, be, "dx", F32, dx, nx, -1);
    if (self_checks) {
        be->pool_backward(be, s, c->batch, dy, am, dx);
        be->act_backward(be, (ib_act)c->act, nx, y, dx, dx);
        self_check(same_bits(be, dx, o->r[0].h, nx), c, be, "act_pool_backward differs from pool_backward + act_backward");
    }
    be->release(be, y), be->release(be, py), be->release(be, dx), be->release(be, dy), be->release(be, am);
}
static void run_pool_forward(op_case *c, ib_backend *be, results *o) { run_pool(c, be, o, 0); }
static void run_pool_backward(op_case *c, ib_backend *be, results *o) { run_pool(c, be, o, 1); }

/* ---- activations: x with a NaN (propagates); backward from a y made on the host ---- */
static void run_act_forward(op_case *c, ib_backend *be, results *o) {
    int fresh;
    float *hx = input(c, 0, c->n, 4, &fresh);
    if (fresh && c->n > 17) hx[17] = NAN;
    float *x = put(be, hx, c->n), *y = c->inplace ? x : put(be, NULL, c->n);
    be->act_forward(be, (ib_act)c->act, c->n, x, y);
    res_dev(o, be, "y", F32, y, c->n, -1);
    be->release(be, x);
    if (y != x) be->release(be, y);
}

static void run_act_backward(op_case *c, ib_backend *be, results *o) {
    int fresh;
    float *hy = input(c, 0, c->n, 4, &fresh);
    if (fresh)
        for (size_t i = 0; i < c->n; i++)
            hy[i] = c->act == IB_ACT_RELU ? fmaxf(hy[i], 0.0f)
                    : c->act == IB_ACT_TANH ? tanhf(hy[i])
                                            : 1.0f / (1.0f + expf(-hy[i]));
    float *y = put(be, hy, c->n), *dy = put(be, input(c, 1, c->n, 1, NULL), c->n);
    float *dx = c->inplace ? dy : put(be, NULL, c->n);
    be->act_backward(be, (ib_act)c->act, c->n, y, dy, dx);
    res_dev(o, be, "dx", F32, dx, c->n, -1);
    be->release(be, y), be->release(be, dy);
    if (dx != dy) be->release(be, dx);
}

/* ---- dropout: the mask from (seed, stream, element) must be the same everywhere ---- */
static void run_dropout(op_case *c, ib_backend *be, results *o, int backward) {
    const uint64_t stream = ib_stream(IB_RNG_DROPOUT, 6, (uint32_t)c->id);
    float *x = put(be, input(c, 0, c->n, 1, NULL), c->n), *y = put(be, NULL, c->n);
    if (backward) be->dropout_backward(be, c->n, c->keep, 7, stream, x, y);
    else be->dropout_forward(be, c->n, c->keep, 7, stream, x, y);
    res_dev(o, be, backward ? "dx" : "y", F32, y, c->n, -1);
    be->release(be, x), be->release(be, y);
}
static void run_dropout_forward(op_case *c, ib_backend *be, results *o) { run_dropout(c, be, o, 0); }
static void run_dropout_backward(op_case *c, ib_backend *be, results *o) { run_dropout(c, be, o, 1); }

/* ---- softmax cross-entropy: one row of logits near 1e5 ---- */
static void run_softmax_xent(op_case *c, ib_backend *be, results *o) {
    const size_t n = (size_t)c->batch * c->classes;
    int fresh;
    float *hz = input(c, 0, n, 5, &fresh);
    if (fresh && c->batch > 3)
        for (int k = 0; k < c->classes; k++) hz[3 * c->classes + k] *= 2e4f;
    float *hl = input(c, 1, (size_t)c->batch, 1, &fresh); /* labels, as int32 bits */
    if (fresh)
        for (int i = 0; i < c->batch; i++) {
            int32_t l = (int32_t)((hl[i] + 1.0f) * 0.5f * (float)c->classes);
            l = l < 0 ? 0 : l >= c->classes ? c->classes - 1 : l;
            memcpy(&hl[i], &l, 4);
        }
    float *z = put(be, hz, n), *d = c->with_dx ? put(be, NULL, n) : NULL;
    int32_t *lab = put(be, hl, (size_t)c->batch);
    double loss = 0;
    int correct = -1;
    be->softmax_xent(be, c->batch, c->classes, z, lab, 1.0f / (float)c->batch, d, &loss, &correct);
    res_host(o, "loss", F64, &loss, 1, -1);
    res_host(o, "correct", I32, &correct, 1, T_EXACT);
    if (d) res_dev(o, be, "dlogits", F32, d, n, -1), be->release(be, d);
    be->release(be, z), be->release(be, lab);
}

/* ---- optimisers: three steps, the second with gradients far below eps ---- */
static void run_optim_update(op_case *c, ib_backend *be, results *o) {
    const ib_optim_hparams hp = {(ib_optim_kind)c->kind, 1e-3, 0.9, 0.999, 1e-8, 0.9, 0.9, c->nesterov};
    float *p = put(be, input(c, 0, c->n, 1, NULL), c->n), *g = put(be, NULL, c->n);
    float *m = put(be, NULL, c->n), *v = put(be, NULL, c->n), *u = c->no_update ? NULL : put(be, NULL, c->n);
    for (long t = 1; t <= 3; t++) {
        be->upload(be, g, input(c, (int)t, c->n, t == 2 ? 1e-6f : 1e-2f, NULL), c->n * 4);
        be->optim_update(be, &hp, t, c->n, p, g, m, v, u);
    }
    res_dev(o, be, "param", F32, p, c->n, -1);
    res_dev(o, be, "m", F32, m, c->n, -1);
    res_dev(o, be, "v", F32, v, c->n, -1);
    if (u) res_dev(o, be, "update", F32, u, c->n, -1), be->release(be, u);
    be->release(be, p), be->release(be, g), be->release(be, m), be->release(be, v);
}

/* ---- statistics: zeros, denormal-range values, NaN, inf, saturated values ---- */
static void run_tensor_stats(op_case *c, ib_backend *be, results *o) {
    int fresh;
    float *hx = input(c, 0, c->n, 1, &fresh);
    if (fresh) {
        for (size_t i = 0; i < c->n; i += 97) hx[i] = 0.0f;
        for (size_t i = 5; i < c->n; i += 1001) hx[i] *= 1e-30f;
        hx[7] = NAN, hx[8] = INFINITY, hx[c->n - 1] = -INFINITY, hx[9] = 0.995f, hx[10] = -0.999f;
    }
    float *x = put(be, hx, c->n);
    ib_tensor_stats s, again;
    be->tensor_stats(be, x, c->n, &c->req, &s);
    double counts[7 + IB_HIST_BINS + 2] = {s.n, s.zeros, s.saturated, s.below, s.nonfinite, s.min, s.max};
    memcpy(counts + 7, s.hist, sizeof s.hist);
    res_host(o, "counts", F64, counts, sizeof counts / sizeof *counts, T_EXACT);
    double sums[2] = {s.sum, s.sum_sq};
    res_host(o, "sums", F64, sums, 2, -1);
    if (self_checks) {
        be->tensor_stats(be, x, c->n, &c->req, &again);
        self_check(!memcmp(&s, &again, sizeof s), c, be, "not bitwise reproducible");
    }
    be->release(be, x);
}

/* ---- the dataset where the backend computes: repeated, last and out-of-order images, then a
 * second, smaller gather from the same handle ---- */
static void run_gather_batch(op_case *c, ib_backend *be, results *o) {
    const size_t size = 28 * 28, nimg = c->n;
    int fresh;
    float *hp = input(c, 0, (nimg * size + nimg + 3) / 4 + 1, 1, &fresh); /* bytes: pixels, then labels */
    uint8_t *pixels = (uint8_t *)hp, *labels = pixels + nimg * size;
    if (fresh) {
        for (size_t i = 0; i < nimg * size; i++) pixels[i] = (uint8_t)(ib_uniform_at(5, 1, i) * 256.0f);
        for (size_t i = 0; i < nimg; i++) labels[i] = (uint8_t)(i % 10);
    }
    int64_t *index = xcalloc((size_t)c->batch + 1, sizeof *index);
    const int64_t fixed[] = {36, 0, 5, 5, 17, 1, 36, 2};
    for (int b = 0; b <= c->batch; b++)
        index[b] = nimg == 37 && b < 8 ? fixed[b] : (int64_t)(ib_uniform_at(6, 2, (uint64_t)b) * (float)nimg);
    void *im = be->images_open(be, pixels, labels, nimg, size);
    float *x = put(be, NULL, (size_t)c->batch * size);
    int32_t *y = put(be, NULL, (size_t)c->batch);
    be->gather_batch(be, im, index, c->batch, x, y);
    res_dev(o, be, "x", F32, x, (size_t)c->batch * size, -1);
    res_dev(o, be, "y", I32, y, (size_t)c->batch, -1);
    const int b2 = c->batch > 3 ? 3 : 1;
    be->gather_batch(be, im, index + 1, b2, x, y);
    res_dev(o, be, "x2", F32, x, (size_t)b2 * size, -1);
    res_dev(o, be, "y2", I32, y, (size_t)b2, -1);
    be->images_close(be, im);
    be->release(be, x), be->release(be, y);
    free(index);
}

/* ---- training: the original network, a few Adam steps on random images ---- */
static void run_training(op_case *c, ib_backend *be, results *o) {
    const int batch = c->batch;
    ib_net_spec spec;
    ib_err err;
    ib_net net;
    if (ib_spec_parse("original", &spec, &err) || ib_net_build(&net, &spec, 1, 28, 28, 10, batch, be, &err)) {
        CHECK(0, "%s training: %s", be->name, err.msg);
        return;
    }
    ib_init_config ic = {.scheme = IB_INIT_TRUNCNORMAL, .stddev = 0.1, .bias = 0.1};
    ib_net_init_params(&net, &ic, 7);
    float *x = fmk((size_t)batch * 784);
    int32_t *lab = xcalloc((size_t)batch, 4);
    const ib_optim_hparams hp = {.kind = IB_OPT_ADAM_TF, .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    for (int s = 0; s < c->steps; s++) {
        for (int i = 0; i < batch * 784; i++) x[i] = ib_uniform_at(3, ib_stream(IB_RNG_TEST, 4, (uint32_t)s), (uint64_t)i);
        for (int i = 0; i < batch; i++)
            lab[i] = (int32_t)(ib_uniform_at(3, ib_stream(IB_RNG_TEST, 5, (uint32_t)s), (uint64_t)i) * 10);
        be->upload(be, net.input, x, (size_t)batch * 784 * 4);
        be->upload(be, net.labels, lab, (size_t)batch * 4);
        ib_net_forward(&net, batch, 1, 7, s);
        double loss;
        int right;
        ib_net_loss(&net, batch, 1, &loss, &right);
        ib_net_backward(&net, batch, 7, s);
        be->optim_update(be, &hp, s + 1, net.param_count, net.param, net.grad, net.opt_m, net.opt_v, NULL);
    }
    float *params = fmk(net.param_count);
    ib_net_params_to_host(&net, params);
    res_host(o, "params", F32, params, net.param_count, -1);
    free(params), free(x), free(lab);
    ib_net_free(&net);
}

/* ---------------- the table of cases ---------------- */
enum { MAX_CASES = 512 };
static op_case cases[MAX_CASES];
static int n_cases;

static op_case *add(const char *op, run_fn run, tol_class tol, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static op_case *add(const char *op, run_fn run, tol_class tol, const char *fmt, ...) {
    if (n_cases == MAX_CASES) abort();
    op_case *c = &cases[n_cases];
    memset(c, 0, sizeof *c);
    c->op = op, c->run = run, c->tol = tol, c->id = n_cases++, c->act = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->desc, sizeof c->desc, fmt, ap);
    va_end(ap);
    return c;
}

/* Forward ops at batch >= SAMPLE_FROM compare ref on a sample of the images (ref's plain double
 * loops would take minutes at batch 500); every image still runs on the backend, at both thread
 * counts, in the full batch. */
enum { SAMPLE_FROM = 100 };

/* conv forward, and backward: bwd 0 none, 1 without dx (the first layer), 2 with dx */
static void add_conv(int plan_batch, int batch, int C, int H, int W, int O, int k, int bwd) {
    const ib_conv_shape cs = {plan_batch, C, H, W, O, k};
    op_case *c = add("conv_forward", run_conv_forward, T_FWD, "k%d %dx%dx%d->%d b%d/%d", k, C, H, W, O, batch,
                     plan_batch);
    c->cs = cs, c->batch = batch, c->sample = batch >= SAMPLE_FROM;
    snprintf(c->ikey, sizeof c->ikey, "conv k%d %dx%dx%d->%d b%d", k, C, H, W, O, batch);
    if (!bwd) return;
    c = add("conv_backward", run_conv_backward, T_BWD, "k%d %dx%dx%d->%d b%d/%d%s", k, C, H, W, O, batch, plan_batch,
            bwd == 2 ? "" : " no dx");
    c->cs = cs, c->batch = batch, c->with_dx = bwd == 2;
    snprintf(c->ikey, sizeof c->ikey, "conv k%d %dx%dx%d->%d b%d", k, C, H, W, O, batch);
}
/* the fused conv ops for activations [act0, act1]; which: a sum of 1 conv_forward_act, 2 conv_act_pool_forward,
 * 4 conv_act_pool_forward_train */
static void add_conv_fused(int plan_batch, int batch, int C, int H, int W, int O, int k, int act0, int act1, int which) {
    const ib_conv_shape cs = {plan_batch, C, H, W, O, k};
    for (int act = act0; act <= act1; act++) {
        op_case *c;
        if (which & 1) {
            c = add("conv_forward_act", run_conv_forward_act, T_FWD, "k%d %dx%dx%d->%d b%d/%d %s", k, C, H, W, O, batch,
                    plan_batch, act_name(act));
            c->cs = cs, c->batch = batch, c->act = act, c->sample = batch >= SAMPLE_FROM;
            snprintf(c->ikey, sizeof c->ikey, "conv k%d %dx%dx%d->%d b%d", k, C, H, W, O, batch);
        }
        if (which & 2) {
            c = add("conv_act_pool_forward", run_conv_act_pool_forward, T_FWD, "k%d %dx%dx%d->%d b%d/%d %s pool2", k,
                    C, H, W, O, batch, plan_batch, act_name(act));
            c->cs = cs, c->batch = batch, c->act = act, c->sample = batch >= SAMPLE_FROM;
            snprintf(c->ikey, sizeof c->ikey, "conv k%d %dx%dx%d->%d b%d", k, C, H, W, O, batch);
        }
        if (which & 4) {
            c = add("conv_act_pool_forward_train", run_conv_act_pool_train, T_FWD, "k%d %dx%dx%d->%d b%d/%d %s pool2",
                    k, C, H, W, O, batch, plan_batch, act_name(act));
            c->cs = cs, c->batch = batch, c->act = act, c->sample = batch >= SAMPLE_FROM;
            snprintf(c->ikey, sizeof c->ikey, "conv k%d %dx%dx%d->%d b%d", k, C, H, W, O, batch);
        }
    }
}
/* fc forward, and backward: bwd as add_conv's */
static void add_fc(int batch, int in, int out, int bwd) {
    op_case *c = add("fc_forward", run_fc_forward, T_FWD, "%dx%d->%d", batch, in, out);
    c->batch = batch, c->in = in, c->out = out, c->sample = batch >= SAMPLE_FROM;
    snprintf(c->ikey, sizeof c->ikey, "fc %dx%d->%d", batch, in, out);
    if (!bwd) return;
    c = add("fc_backward", run_fc_backward, T_BWD, "%dx%d->%d%s", batch, in, out, bwd == 2 ? "" : " no dx");
    c->batch = batch, c->in = in, c->out = out, c->with_dx = bwd == 2;
    snprintf(c->ikey, sizeof c->ikey, "fc %dx%d->%d", batch, in, out);
}
static void add_fc_act(int batch, int in, int out, int act0, int act1) {
    for (int act = act0; act <= act1; act++) {
        op_case *c = add("fc_forward_act", run_fc_forward, T_FWD, "%dx%d->%d %s", batch, in, out, act_name(act));
        c->batch = batch, c->in = in, c->out = out, c->act = act, c->sample = batch >= SAMPLE_FROM;
        snprintf(c->ikey, sizeof c->ikey, "fc %dx%d->%d", batch, in, out);
    }
}
static void add_pool(int batch, int ch, int h, int w, int k, int s) {
    op_case *c = add("pool_forward", run_pool_forward, T_EXACT, "k%d s%d %dx%dx%d b%d", k, s, ch, h, w, batch);
    c->ps = ib_pool_make(ch, h, w, k, s), c->batch = batch;
    c = add("pool_backward", run_pool_backward, T_EXACT, "k%d s%d %dx%dx%d b%d", k, s, ch, h, w, batch);
    c->ps = ib_pool_make(ch, h, w, k, s), c->batch = batch;
}
static void add_act_pool(int batch, int ch, int h, int w, int k, int s) {
    for (int act = 0; act < 3; act++) {
        op_case *c = add("act_pool_backward", run_act_pool_backward, act == IB_ACT_RELU ? T_EXACT : T_BWD,
                         "%s k%d s%d %dx%dx%d b%d", act_name(act), k, s, ch, h, w, batch);
        c->ps = ib_pool_make(ch, h, w, k, s), c->batch = batch, c->act = act;
    }
}
static void add_act(size_t n, int inplace) {
    for (int act = 0; act < 3; act++) {
        op_case *c = add("act_forward", run_act_forward, T_FWD, "%s n%zu%s", act_name(act), n, inplace ? " in place" : "");
        c->act = act, c->n = n, c->inplace = inplace;
        c = add("act_backward", run_act_backward, T_BWD, "%s n%zu%s", act_name(act), n, inplace ? " in place" : "");
        c->act = act, c->n = n, c->inplace = inplace;
    }
}
static void add_dropout(size_t n, float keep) {
    op_case *c = add("dropout_forward", run_dropout_forward, T_EXACT, "keep %.1f n%zu", keep, n);
    c->n = n, c->keep = keep;
    c = add("dropout_backward", run_dropout_backward, T_EXACT, "keep %.1f n%zu", keep, n);
    c->n = n, c->keep = keep;
}
static void add_softmax(int batch, int classes, int with_grad) {
    op_case *c = add("softmax_xent", run_softmax_xent, T_FWD, "b%d x%d%s", batch, classes, with_grad ? "" : " no dlogits");
    c->batch = batch, c->classes = classes, c->with_dx = with_grad;
}

static void register_cases(void) {
    enum { RELU = IB_ACT_RELU, SIGMOID = IB_ACT_SIGMOID };
    /* convolution: the original network's layers (the first needs no dx) at the training batch;
     * plans sized for the evaluation batch (500) called at 50 and at 500 (forward); batches 1, 7,
     * 37; odd sizes, k 5, 4 (even: TF's asymmetric SAME), 3, 2 */
    add_conv(50, 50, 1, 28, 28, 32, 5, 1);
    add_conv(50, 50, 32, 14, 14, 64, 5, 2);
    add_conv(500, 50, 1, 28, 28, 32, 5, 1);
    add_conv(500, 50, 32, 14, 14, 64, 5, 2);
    add_conv(500, 500, 1, 28, 28, 32, 5, 0); /* conv2 at 500: the evaluation's fused op below */
    add_conv(37, 37, 32, 14, 14, 64, 5, 2);
    add_conv(50, 1, 32, 14, 14, 64, 5, 2);
    add_conv(7, 7, 1, 28, 28, 32, 5, 2);
    add_conv(7, 7, 3, 9, 9, 5, 4, 2);
    add_conv(3, 3, 2, 9, 7, 4, 5, 2);
    add_conv(5, 3, 3, 8, 8, 5, 4, 2);
    add_conv(2, 2, 1, 6, 5, 3, 3, 2);
    add_conv(2, 2, 2, 7, 7, 3, 2, 2);
    /* fused conv ops, every activation (ref's come from one conv per shape); evaluation's pooled
     * path at batch 500; training's (conv + act + pool with argmax) at the network's layers for
     * batches 1, 7, 37, 50 (plans of 50 and 500) and 500, and where the 2x2 pooling is padded (9x9) */
    add_conv_fused(50, 50, 1, 28, 28, 32, 5, RELU, SIGMOID, 7);
    add_conv_fused(500, 50, 32, 14, 14, 64, 5, RELU, SIGMOID, 7);
    add_conv_fused(50, 50, 32, 14, 14, 64, 5, RELU, SIGMOID, 4);
    add_conv_fused(500, 500, 1, 28, 28, 32, 5, RELU, RELU, 6); /* evaluation */
    add_conv_fused(500, 500, 32, 14, 14, 64, 5, RELU, RELU, 6);
    add_conv_fused(37, 37, 32, 14, 14, 64, 5, RELU, SIGMOID, 7);
    add_conv_fused(7, 7, 1, 28, 28, 32, 5, RELU, SIGMOID, 4);
    add_conv_fused(50, 1, 32, 14, 14, 64, 5, RELU, SIGMOID, 4);
    add_conv_fused(5, 5, 3, 9, 9, 4, 3, RELU, SIGMOID, 7);
    add_conv_fused(3, 3, 3, 8, 8, 5, 4, RELU, SIGMOID, 7);
    /* fully connected: the network's layers at 50 and 500 (evaluation: forward); the cpu SGEMM
     * blocking's every path (by output columns, by rows, a long reduction cut into chunks: in >=
     * 8192, single-threaded small; transposed in row blocks at training batches with AVX-512 oneDNN,
     * here with a last partial block at the largest such batch); batches 1, 7, 37 */
    add_fc(50, 3136, 1024, 2);
    add_fc(64, 300, 600, 0);
    add_fc(50, 1024, 10, 2);
    add_fc(500, 3136, 1024, 0);
    add_fc(500, 1024, 10, 2);
    add_fc(50, 3136, 64, 1);
    add_fc(7, 9000, 10, 2);
    add_fc(7, 33, 10, 2);
    add_fc(1, 1024, 10, 2);
    add_fc(37, 100, 37, 1);
    add_fc_act(50, 3136, 1024, RELU, SIGMOID);
    add_fc_act(500, 3136, 1024, RELU, RELU);
    add_fc_act(50, 1024, 10, RELU, SIGMOID);
    add_fc_act(7, 33, 10, RELU, SIGMOID);
    add_fc_act(1, 1024, 10, RELU, SIGMOID);
    /* pooling: the network's (the cpu backend's 2x2 path) at batches 1, 7, 37, 50, 500; other even
     * sizes (rows of 5 and 2 outputs: that path's rows with and without the vector overhang), odd
     * sizes (SAME padding), overlapping windows */
    add_pool(50, 32, 28, 28, 2, 2);
    add_pool(50, 64, 14, 14, 2, 2);
    add_pool(500, 64, 14, 14, 2, 2);
    add_pool(500, 32, 28, 28, 2, 2);
    add_pool(37, 64, 14, 14, 2, 2);
    add_pool(7, 32, 28, 28, 2, 2);
    add_pool(1, 64, 14, 14, 2, 2);
    add_pool(1, 32, 28, 28, 2, 2);
    add_pool(4, 32, 28, 28, 2, 2);
    add_pool(3, 5, 6, 10, 2, 2);
    add_pool(3, 4, 4, 4, 2, 2);
    add_pool(2, 3, 7, 7, 2, 2);
    add_pool(3, 5, 7, 5, 2, 2);
    add_pool(2, 2, 8, 8, 3, 2);
    add_pool(2, 2, 5, 6, 3, 1);
    add_pool(1, 1, 1, 1, 2, 2);
    add_act_pool(50, 32, 28, 28, 2, 2); /* the network's two, then odd sizes and overlapping windows */
    add_act_pool(50, 64, 14, 14, 2, 2);
    add_act_pool(7, 64, 14, 14, 2, 2);
    add_act_pool(3, 5, 7, 5, 2, 2);
    add_act_pool(2, 2, 5, 6, 3, 1);
    /* activations */
    add_act(10001, 0);
    add_act(50 * 1024, 1);
    add_act(50 * 32 * 28 * 28, 0);
    add_act(3, 1);
    /* dropout */
    add_dropout(10001, 0.5f);
    add_dropout(10001, 0.9f);
    add_dropout(10001, 0.1f);
    add_dropout(50 * 1024, 0.5f);
    add_dropout(3, 0.5f);
    /* softmax cross-entropy */
    add_softmax(37, 10, 1);
    add_softmax(37, 10, 0);
    add_softmax(50, 10, 1);
    add_softmax(500, 10, 0);
    add_softmax(1, 10, 1);
    add_softmax(7, 3, 1);
    /* optimisers */
    const struct { ib_optim_kind k; int nesterov; const char *name; } kinds[] = {
        {IB_OPT_ADAM_TF, 0, "adam (TF)"}, {IB_OPT_ADAM_PT, 0, "adam (PyTorch)"}, {IB_OPT_SGD, 0, "sgd"},
        {IB_OPT_MOMENTUM, 0, "momentum"}, {IB_OPT_MOMENTUM, 1, "nesterov"}, {IB_OPT_RMSPROP, 0, "rmsprop"}};
    const size_t sizes[] = {10007, 100003, 1};
    for (size_t q = 0; q < sizeof kinds / sizeof *kinds; q++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            op_case *c = add("optim_update", run_optim_update, T_OPT, "%s n%zu", kinds[q].name, sizes[s]);
            c->kind = (int)kinds[q].k, c->nesterov = kinds[q].nesterov, c->n = sizes[s];
        }
    op_case *c = add("optim_update", run_optim_update, T_OPT, "adam (TF) n%d, no update", 10007);
    c->kind = IB_OPT_ADAM_TF, c->n = 10007, c->no_update = 1;
    /* statistics */
    for (int sat = 0; sat < 3; sat++) {
        c = add("tensor_stats", run_tensor_stats, T_SUMS, "n%d sat %d%s%s", 3 * 8192 + 101, sat, sat == 1 ? " below" : "",
                sat != 2 ? " hist" : "");
        c->n = 3 * 8192 + 101, c->req = (ib_stats_request){sat, sat == 1 ? 1e-3 : 0, sat != 2};
    }
    c = add("tensor_stats", run_tensor_stats, T_SUMS, "n%d hist", 1000003);
    c->n = 1000003, c->req = (ib_stats_request){0, 0, 1};
    /* the dataset on the backend */
    c = add("gather_batch", run_gather_batch, T_EXACT, "37 images b8, then b3");
    c->n = 37, c->batch = 8;
    c = add("gather_batch", run_gather_batch, T_EXACT, "1000 images b50, then b3");
    c->n = 1000, c->batch = 50;
    c = add("gather_batch", run_gather_batch, T_EXACT, "1000 images b500, then b3");
    c->n = 1000, c->batch = 500;
    /* a short training run of the original network: every op together; the thread identity at
     * batch 50 only (ref's loops would take long there) */
    c = add("training", run_training, T_TRAIN, "original b10 x5 steps");
    c->batch = 10, c->steps = 5, c->no_threads = 1;
    c = add("training", run_training, T_TRAIN, "original b50 x3 steps");
    c->batch = 50, c->steps = 3, c->no_ref = 1;
}

/* The images ref computes for a sampled case: the first, the last, the middle, and neighbours
 * across the boundaries where backends cut batches into chunks (16, 32, 128 ...). */
static int sample_images(int batch, int *idx) {
    const int want[] = {0, 15, 16, 31, 127, 128, batch / 2, batch - 2, batch - 1};
    int n = 0;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        int dup = want[i] < 0 || want[i] >= batch;
        for (int j = 0; j < n && !dup; j++) dup = idx[j] == want[i];
        if (!dup) idx[n++] = want[i];
    }
    return n;
}

/* ref's outputs for the sampled images: the case at a batch of just those images */
static void run_ref_sampled(op_case *c, const int *idx, int ns, results *o) {
    op_case s = *c;
    const size_t per = c->inputs_n[0] / (size_t)c->batch;
    s.batch = ns, s.cs.batch = ns;
    s.inputs[0] = fmk((size_t)ns * per), s.inputs_n[0] = (size_t)ns * per;
    for (int i = 0; i < ns; i++) memcpy(s.inputs[0] + (size_t)i * per, c->inputs[0] + (size_t)idx[i] * per, per * 4);
    omp_set_num_threads(REF->threads);
    s.run(&s, REF, o);
    free(s.inputs[0]);
}
/* the backend's outputs for the same images */
static void pick_images(results *got, int batch, const int *idx, int ns) {
    for (int i = 0; i < got->n; i++) {
        result *r = &got->r[i];
        const size_t w = dsize(r->type), per = r->n / (size_t)batch;
        char *picked = xcalloc((size_t)ns * per, w);
        for (int k = 0; k < ns; k++) memcpy(picked + (size_t)k * per * w, (char *)r->h + (size_t)idx[k] * per * w, per * w);
        free(r->h);
        r->h = picked, r->n = (size_t)ns * per;
    }
}

/* ---------------- comparison ---------------- */
static double val(const result *r, size_t i) {
    switch (r->type) {
    case F32: return ((const float *)r->h)[i];
    case I32: return ((const int32_t *)r->h)[i];
    case F64: return ((const double *)r->h)[i];
    }
    return 0;
}
static size_t bits_differ(const result *a, const result *b) {
    size_t k = 0, w = dsize(a->type);
    for (size_t i = 0; i < a->n; i++) k += memcmp((const char *)a->h + i * w, (const char *)b->h + i * w, w) != 0;
    return k;
}
/* normwise: max|a - b| / max|ref|; NaN where ref has NaN agrees, any other NaN is an infinite error */
static double normwise(const result *a, const result *ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a->n; i++) {
        double x = val(a, i), r = val(ref, i);
        if (isnan(x) && isnan(r)) continue;
        if (x == r) { /* also equal infinities */
            if (isfinite(r) && fabs(r) > den) den = fabs(r);
            continue;
        }
        double d = fabs(x - r);
        if (isnan(d)) d = INFINITY;
        if (d > num) num = d;
        if (isfinite(r) && fabs(r) > den) den = fabs(r);
    }
    return num == 0 ? 0 : num / (den > 0 ? den : 1e-30);
}

static int verbose;

/* One output against ref's; returns its error (relative 2-norm for training parameters). */
static double compare(const op_case *c, const char *backend, const result *a, const result *ref, double *tol_out) {
    const tol_class cls = a->cls >= 0 ? (tol_class)a->cls : c->tol;
    const double tol = tolerance(backend, cls);
    *tol_out = tol;
    if (a->n != ref->n) {
        CHECK(0, "%s %s %s: %s has %zu values, ref %zu", backend, c->op, c->desc, a->name, a->n, ref->n);
        return INFINITY;
    }
    double err;
    if (cls == T_SELF) return 0; /* checked against the backend's own ops (self-checks) and across threads */
    if (cls == T_TRAIN) {
        /* Adam turns gradients at rounding-noise level into full steps of either sign, so single
         * elements may differ by a few steps (lr = 1e-4); the parameters as a whole agree closely */
        double d2 = 0, r2 = 0, worst = 0;
        for (size_t i = 0; i < a->n; i++) {
            double d = val(a, i) - val(ref, i);
            d2 += d * d, r2 += val(ref, i) * val(ref, i);
            worst = fmax(worst, fabs(d));
        }
        err = sqrt(d2 / (r2 > 0 ? r2 : 1e-300));
        CHECK(err <= tol, "%s %s %s: parameters differ from ref's by %.3g relative (2-norm) > %.0e", backend, c->op,
              c->desc, err, tol);
        CHECK(worst < 5 * 2e-4, "%s %s %s: an element moved %.3g apart (more than a few Adam steps)", backend, c->op,
              c->desc, worst);
    } else if (tol == 0) {
        const size_t k = bits_differ(a, ref);
        err = a->type == I32 ? (k ? 1.0 : 0.0) : normwise(a, ref);
        CHECK(k == 0, "%s %s %s: %s: %zu of %zu values differ from ref's in their bits (normwise %.3g%s)", backend,
              c->op, c->desc, a->name, k, a->n, err, err == 0 ? ": equal values, so signed zeros or NaN payloads" : "");
        if (k && err == 0) err = 1e-300; /* still a difference: the table must not say 0 */
    } else {
        err = normwise(a, ref);
        CHECK(err <= tol, "%s %s %s: %s: relative error %.3g > %.0e", backend, c->op, c->desc, a->name, err, tol);
    }
    if (verbose) {
        char t[24] = "exact";
        if (tol > 0) snprintf(t, sizeof t, "tol %.0e", tol);
        printf("      %-8s rel err %.2e (%s)%s\n", a->name, err, t, bits_differ(a, ref) ? "" : " bit-identical");
    }
    return err;
}

/* ---------------- the summary table ---------------- */
typedef struct row {
    const char *op, *backend;
    int cases, ref_cases, failed;
    double max_err, tol;
    int exact;
    int threads; /* 0: not applicable, 1: checked, identical, -1: differed */
    double seconds;
} row;
static row rows[64];
static int n_rows;
static row *row_for(const char *op, const char *backend) {
    for (int i = 0; i < n_rows; i++)
        if (!strcmp(rows[i].op, op) && !strcmp(rows[i].backend, backend)) return &rows[i];
    if (n_rows == (int)(sizeof rows / sizeof *rows)) abort();
    rows[n_rows] = (row){.op = op, .backend = backend};
    return &rows[n_rows++];
}

typedef struct tested {
    const char *name;
    ib_backend *be;  /* threads = 2, or the backend's own count where it takes none */
    ib_backend *be1; /* threads = 1; NULL where the backend takes no thread count */
} tested;

static void run_on(op_case *c, ib_backend *be, results *o) {
    omp_set_num_threads(be->threads); /* the OpenMP thread count is process-wide */
    c->run(c, be, o);
}

int main(int argc, char **argv) {
    const char *only_backend = NULL, *only_op = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-b") && i + 1 < argc) only_backend = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) only_op = argv[++i];
        else if (!strcmp(argv[i], "-v")) verbose = 1;
        else {
            fprintf(stderr, "usage: test_backend_ops [-b BACKEND] [-o OP] [-v]\n");
            return 2;
        }
    }
    if (only_backend && !ib_backend_find(only_backend)) {
        fprintf(stderr, "test_backend_ops: -b: no backend '%s' (known: %s)\n", only_backend, ib_backend_names());
        return 2;
    }
    const double t_start = now_s();
    static const ib_backend_setting fp32[] = {{"tf32", 0}}; /* ignored by backends without the setting */
    char msg[512];
    const ib_backend_params ref_params = {0, fp32, 1};
    REF = ib_backend_create("ref", &ref_params, msg, sizeof msg);
    if (!REF) {
        printf("ref: %s\n", msg);
        return 1;
    }
    int n_reg;
    const ib_backend_entry *reg = ib_backend_registry(&n_reg);
    tested be[8];
    int n_be = 0;
    for (int i = 0; i < n_reg && n_be < 8; i++) {
        const char *name = reg[i].name;
        if (!strcmp(name, "ref") || (only_backend && strcmp(name, only_backend))) continue;
        const ib_backend_params two = {2, fp32, 1}, one = {1, fp32, 1};
        ib_backend *b2 = ib_backend_create(name, &two, msg, sizeof msg);
        if (!b2) { /* the reason, without the backend's own "name: " prefix */
            const size_t len = strlen(name);
            const char *why = !strncmp(msg, name, len) && !strncmp(msg + len, ": ", 2) ? msg + len + 2 : msg;
            printf("skip %s: %s\n", name, why);
            continue;
        }
        ib_backend *b1 = NULL;
        if (b2->threads == 2) {
            b1 = ib_backend_create(name, &one, msg, sizeof msg);
            CHECK(b1 && b1->threads == 1, "%s: created with 2 threads, but not with 1: %s", name, b1 ? "" : msg);
        }
        printf("%s: %s\n", name,
               b1 ? "1 and 2 threads (every output must be the same bits)"
                  : "takes no thread count (its own parallelism): no thread-identity check");
        be[n_be++] = (tested){name, b2, b1};
    }
    if (n_be == 0) {
        printf("skip: no backend other than ref can run here\n");
        REF->destroy(REF);
        return 77;
    }
    register_cases();
    printf("backend ops against ref (normwise max|be - ref| / max|ref|; tolerances forward 1e-5, backward 1e-5 "
           "(cuda 1e-4), optimiser 1e-6 (cuda 1e-5); dropout, pooling, gather bit-exact)\n");
    int ran = 0;
    for (int k = 0; k < n_cases; k++) {
        op_case *c = &cases[k];
        if (only_op && !strstr(c->op, only_op)) continue;
        ran++;
        results ref = {0};
        int have_ref = 0, idx[16], ns = 0;
        for (int b = 0; b < n_be; b++) {
            const int failed0 = check_failures_;
            const double t0 = now_s();
            row *r = row_for(c->op, be[b].name);
            results got = {0}, got1 = {0};
            self_checks = 1;
            run_on(c, be[b].be, &got);
            self_checks = 0;
            /* 1 vs 2 threads: every output, the same bits */
            const char *threads = "";
            if (be[b].be1 && !c->no_threads) {
                run_on(c, be[b].be1, &got1);
                size_t differ = 0;
                CHECK(got1.n == got.n, "%s %s %s: 1 thread: %d outputs, 2 threads: %d", be[b].name, c->op, c->desc,
                      got1.n, got.n);
                for (int i = 0; i < got.n && i < got1.n; i++) {
                    const size_t k1 = bits_differ(&got1.r[i], &got.r[i]);
                    CHECK(k1 == 0, "%s %s %s: %s: 1 and 2 threads differ in %zu of %zu values", be[b].name, c->op,
                          c->desc, got.r[i].name, k1, got.r[i].n);
                    differ += k1;
                }
                threads = differ ? ", 1/2 threads DIFFER" : ", 1/2 threads same bits";
                r->threads = differ || r->threads < 0 ? -1 : 1;
            }
            r->seconds += now_s() - t0;
            if (verbose) printf("    %s %s %s: %.2f s\n", be[b].name, c->op, c->desc, now_s() - t0);
            /* against ref (computed once per case, after the first backend made the inputs) */
            double err = 0, tol = 0;
            int identical = 1;
            if (!c->no_ref) {
                if (c->sample) ns = sample_images(c->batch, idx);
                if (!have_ref) {
                    const double t_ref = now_s();
                    if (c->sample) run_ref_sampled(c, idx, ns, &ref);
                    else if (c->ikey[0] && c->act < 0) {
                        omp_set_num_threads(REF->threads);
                        ref_memo(c, c->op, c->run, strstr(c->op, "backward") ? (c->with_dx ? "dx" : "no dx") : "", &ref);
                    } else run_on(c, REF, &ref);
                    have_ref = 1;
                    if (verbose) printf("    ref %s %s: %.2f s\n", c->op, c->desc, now_s() - t_ref);
                }
                if (c->sample) pick_images(&got, c->batch, idx, ns);
                CHECK(got.n == ref.n, "%s %s %s: %d outputs, ref %d", be[b].name, c->op, c->desc, got.n, ref.n);
                for (int i = 0; i < got.n && i < ref.n; i++) {
                    double t;
                    err = fmax(err, compare(c, be[b].name, &got.r[i], &ref.r[i], &t));
                    tol = fmax(tol, t);
                    identical &= got.r[i].n == ref.r[i].n && bits_differ(&got.r[i], &ref.r[i]) == 0;
                }
                r->ref_cases++;
                r->max_err = fmax(r->max_err, err);
                r->tol = fmax(r->tol, tol);
                r->exact = tol == 0;
            }
            const int failed = check_failures_ - failed0;
            r->cases++;
            r->failed += failed;
            char sampled[48] = "";
            if (c->sample && !c->no_ref) snprintf(sampled, sizeof sampled, " (ref: %d of %d images)", ns, c->batch);
            if (c->no_ref)
                printf("  %-5s %-27s %-36s no ref (thread identity and self-checks only)%s%s\n", be[b].name, c->op,
                       c->desc, threads, failed ? "  FAILED" : "");
            else if (tol == 0)
                printf("  %-5s %-27s %-36s rel err %.2e (exact)%s%s%s%s\n", be[b].name, c->op, c->desc, err,
                       identical ? " bit-identical" : "", sampled, threads, failed ? "  FAILED" : "");
            else
                printf("  %-5s %-27s %-36s rel err %.2e (tol %.0e)%s%s%s%s\n", be[b].name, c->op, c->desc, err, tol,
                       identical ? " bit-identical" : "", sampled, threads, failed ? "  FAILED" : "");
            res_free(&got), res_free(&got1);
        }
        res_free(&ref);
        for (int s = 0; s < 6; s++) free(c->inputs[s]), c->inputs[s] = NULL;
    }
    CHECK(ran > 0, "no case matches -o %s", only_op ? only_op : "");
    printf("\n%-27s %-7s %5s  %-11s  %-9s  %-14s %6s %8s\n", "op", "backend", "cases", "max rel err", "tolerance",
           "1 vs 2 threads", "failed", "seconds");
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        char err[32], tol[32];
        if (r->ref_cases) snprintf(err, sizeof err, "%.2e", r->max_err);
        else snprintf(err, sizeof err, "no ref");
        if (!r->ref_cases) snprintf(tol, sizeof tol, "-");
        else if (r->exact) snprintf(tol, sizeof tol, "exact");
        else snprintf(tol, sizeof tol, "%.0e", r->tol);
        printf("%-27s %-7s %5d  %-11s  %-9s  %-14s %6d %8.2f\n", r->op, r->backend, r->cases, err, tol,
               r->threads > 0 ? "identical" : r->threads < 0 ? "DIFFER" : "n/a", r->failed, r->seconds);
    }
    printf("(%d cases on %d backend%s in %.1f s; seconds: the backend's own runs, ref's not counted)\n", ran, n_be,
           n_be == 1 ? "" : "s", now_s() - t_start);
    for (int b = 0; b < n_be; b++) {
        be[b].be->destroy(be[b].be);
        if (be[b].be1) be[b].be1->destroy(be[b].be1);
    }
    memo_free();
    REF->destroy(REF);
    return check_finish("test_backend_ops");
}
