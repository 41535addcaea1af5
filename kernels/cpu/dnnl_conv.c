/* Convolution through oneDNN (C API, 2.6), bitwise identical for any thread count.
 *
 * oneDNN's own threading is not deterministic here (measured, oneDNN 2.6.3, 50x32x14x14 -> 64,
 * 5x5: backward-weights differs between 1 and 2 threads in both plain and blocked layouts, and
 * so does the blocked forward, since the threads split the reductions differently). So every
 * primitive is created for ONE thread, and the batch is cut into chunks fixed by the batch size
 * alone (never by the thread count); chunks run in parallel under our OpenMP loop (the same
 * pool as everything else; oneDNN runs inline in a nested region). Forward and backward-data
 * write disjoint images per chunk; backward-weights writes one partial dw/db per chunk, summed
 * afterwards in chunk order. Layouts are oneDNN's choice ("any", blocked nChw16c / OIhw16i16o
 * ...); reorders from and to the network's NCHW run inside each chunk, on data in cache.
 *
 * Everything a call needs (primitives, per-thread streams, memory objects, buffers, user-mode
 * scratchpads) is made when a batch size is first seen: at plan time for the plan's batch, and
 * on the first call for any other (e.g. the training batch when the plan is sized for
 * evaluation). After that a call allocates nothing. */
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

#define DN(call)                                                                                   \
    do {                                                                                           \
        dnnl_status_t st_ = (call);                                                                \
        if (st_ != dnnl_success) {                                                                 \
            fprintf(stderr, "initbench: internal error: %s:%d: %s failed (oneDNN status %d)\n",    \
                    __FILE__, __LINE__, #call, (int)st_);                                          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Images per chunk: about this many (the split is even, so sizes differ by at most one). */
#define DNNL_CHUNK_TARGET 16
#define MAX_SETS 8

/* Roles of memory objects; each has one descriptor per set. */
enum {
    R_USRC,   /* user NCHW input, chunk */
    R_UDST,   /* user NCHW output, chunk */
    R_UWEI,   /* user OIHW weights */
    R_BIAS,   /* bias / diff bias, x */
    R_FSRC, R_FWEI, R_FDST,  /* forward's layouts */
    R_DDSRC, R_DWEI, R_DDDST, /* backward-data's */
    R_WSRC, R_WDWEI, R_WDDST, /* backward-weights' */
    R_FPAD, R_DPAD, R_WPAD,  /* scratchpads */
    R_COUNT
};

/* Roles of the fused forward-only ops' memory objects. */
enum { P_PDST, P_UPDST, P_PPAD, P_COUNT };

typedef struct thread_slot {
    dnnl_stream_t stream;
    dnnl_memory_t mem[R_COUNT];
    dnnl_memory_t pmem[P_COUNT]; /* fused ops (made on first use) */
    dnnl_memory_t apad[3];       /* scratchpad of conv + act, per activation */
    float *cdst, *pdst;          /* conv output and pooled output of a chunk (fused ops) */
    float *fsrc, *fdst, *ddsrc, *dddst, *wsrc, *wddst, *wdwei; /* reorder targets (NULL: not needed) */
    void *pad;                                                 /* scratchpad, max of the three */
} thread_slot;

typedef struct prim_set {
    int mb;
    dnnl_primitive_t fwd, bwd_d, bwd_w;
    /* reorders; NULL where the layouts already agree */
    dnnl_primitive_t r_fsrc, r_fdst, r_fwei, r_dwei, r_dddst, r_ddsrc, r_wsrc, r_wddst, r_wdwei;
    dnnl_memory_desc_t md[R_COUNT];
    float *fwei, *dwei; /* weights in forward's / backward-data's layout, shared by the chunks */
    size_t pad_bytes;   /* scratchpad per thread */
    thread_slot *slot;
    /* fused forward ops, made on first use: conv + bias + activation (one per activation),
     * and max pooling after it (one pooling shape and activation at a time) */
    dnnl_primitive_t fwd_act[3];
    dnnl_memory_desc_t apad_md[3];
    int pool_ready, pool_act;
    ib_pool_shape pool;
    dnnl_primitive_t pool_prim, r_pdst;
    dnnl_memory_desc_t pmd[P_COUNT];
} prim_set;

typedef struct dnnl_plan {
    ib_conv_shape s;
    dnnl_engine_t eng;
    int threads; /* thread slots */
    prim_set sets[MAX_SETS];
    int n_sets;
    int max_chunks;
    float *dw_part, *db_part; /* [max_chunks][O*C*K*K], [max_chunks][O] */
} dnnl_plan;

static size_t md_bytes(const dnnl_memory_desc_t *md) { return dnnl_memory_desc_get_size(md); }

/* Zeroed, 64-byte aligned, through calloc (ib_cpu_alloc): pages a run never touches (buffers of
 * batch sizes or paths it does not use) stay out of its resident memory. Freed with xfree. */
static void *xalloc(size_t bytes) { return bytes ? ib_cpu_alloc(NULL, (bytes + 3) / 4) : NULL; }
static void xfree(void *p) { ib_cpu_release(NULL, p); }

static dnnl_primitive_t make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to) {
    if (dnnl_memory_desc_equal(from, to)) return NULL;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    DN(dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL));
    DN(dnnl_primitive_create(&p, pd));
    DN(dnnl_primitive_desc_destroy(pd));
    return p;
}

static void copy_md(dnnl_memory_desc_t *dst, const_dnnl_primitive_desc_t pd, dnnl_query_t q, int index) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, q, index);
    if (!md) {
        fprintf(stderr, "initbench: internal error: oneDNN returned no memory descriptor (query %d)\n", (int)q);
        abort();
    }
    *dst = *md;
}

/* Number of chunks for a batch: a function of the batch alone. */
static int chunk_count(int batch) {
    int n = (batch + DNNL_CHUNK_TARGET - 1) / DNNL_CHUNK_TARGET;
    if (n < 2 && batch >= 2) n = 2; /* at least two, so two threads both work */
    if (n > batch) n = batch;
    return n < 1 ? 1 : n;
}
static inline int chunk_start(int batch, int n, int c) { return (int)((long)batch * c / n); }

/* Create the primitives of one chunk size, under one OpenMP thread so that oneDNN plans them
 * for one thread (they run inline inside our parallel loop). */
static void set_create(dnnl_plan *p, prim_set *S, int mb) {
    const ib_conv_shape *s = &p->s;
    const int K = s->k, pl = ib_conv_pad_before(K), pr = K - 1 - pl;
    dnnl_dims_t sd = {mb, s->in_c, s->h, s->w}, wd = {s->out_c, s->in_c, K, K}, bd = {s->out_c};
    dnnl_dims_t dd = {mb, s->out_c, s->h, s->w}, strides = {1, 1}, padl = {pl, pl}, padr = {pr, pr};
    dnnl_memory_desc_t a_src, a_wei, a_dst, bias;
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    memset(S, 0, sizeof *S);
    S->mb = mb;
    DN(dnnl_memory_desc_init_by_tag(&S->md[R_USRC], 4, sd, dnnl_f32, dnnl_nchw));
    DN(dnnl_memory_desc_init_by_tag(&S->md[R_UDST], 4, dd, dnnl_f32, dnnl_nchw));
    DN(dnnl_memory_desc_init_by_tag(&S->md[R_UWEI], 4, wd, dnnl_f32, dnnl_oihw));
    DN(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x));
    S->md[R_BIAS] = bias;
    DN(dnnl_memory_desc_init_by_tag(&a_src, 4, sd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&a_wei, 4, wd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&a_dst, 4, dd, dnnl_f32, dnnl_format_tag_any));

    dnnl_primitive_attr_t attr;
    DN(dnnl_primitive_attr_create(&attr));
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t fpd, dpd, wpd;
    DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &a_src, &a_wei, &bias,
                                          &a_dst, strides, padl, padr));
    DN(dnnl_primitive_desc_create(&fpd, &cd, attr, p->eng, NULL));
    DN(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &a_src, &a_wei, &a_dst, strides, padl,
                                                padr));
    DN(dnnl_primitive_desc_create(&dpd, &cd, attr, p->eng, fpd));
    DN(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &a_src, &a_wei, &bias, &a_dst, strides,
                                                   padl, padr));
    DN(dnnl_primitive_desc_create(&wpd, &cd, attr, p->eng, fpd));
    DN(dnnl_primitive_create(&S->fwd, fpd));
    DN(dnnl_primitive_create(&S->bwd_d, dpd));
    DN(dnnl_primitive_create(&S->bwd_w, wpd));
    copy_md(&S->md[R_FSRC], fpd, dnnl_query_src_md, 0);
    copy_md(&S->md[R_FWEI], fpd, dnnl_query_weights_md, 0);
    copy_md(&S->md[R_FDST], fpd, dnnl_query_dst_md, 0);
    copy_md(&S->md[R_DDSRC], dpd, dnnl_query_diff_src_md, 0);
    copy_md(&S->md[R_DWEI], dpd, dnnl_query_weights_md, 0);
    copy_md(&S->md[R_DDDST], dpd, dnnl_query_diff_dst_md, 0);
    copy_md(&S->md[R_WSRC], wpd, dnnl_query_src_md, 0);
    copy_md(&S->md[R_WDWEI], wpd, dnnl_query_diff_weights_md, 0);
    copy_md(&S->md[R_WDDST], wpd, dnnl_query_diff_dst_md, 0);
    copy_md(&S->md[R_FPAD], fpd, dnnl_query_scratchpad_md, 0);
    copy_md(&S->md[R_DPAD], dpd, dnnl_query_scratchpad_md, 0);
    copy_md(&S->md[R_WPAD], wpd, dnnl_query_scratchpad_md, 0);
    DN(dnnl_primitive_desc_destroy(fpd));
    DN(dnnl_primitive_desc_destroy(dpd));
    DN(dnnl_primitive_desc_destroy(wpd));
    DN(dnnl_primitive_attr_destroy(attr));

    const dnnl_memory_desc_t *md = S->md;
    S->r_fsrc = make_reorder(p->eng, &md[R_USRC], &md[R_FSRC]);
    S->r_fdst = make_reorder(p->eng, &md[R_FDST], &md[R_UDST]);
    S->r_fwei = make_reorder(p->eng, &md[R_UWEI], &md[R_FWEI]);
    S->r_dwei = make_reorder(p->eng, &md[R_UWEI], &md[R_DWEI]);
    S->r_dddst = make_reorder(p->eng, &md[R_UDST], &md[R_DDDST]);
    S->r_ddsrc = make_reorder(p->eng, &md[R_DDSRC], &md[R_USRC]);
    S->r_wsrc = make_reorder(p->eng, &md[R_USRC], &md[R_WSRC]);
    S->r_wddst = make_reorder(p->eng, &md[R_UDST], &md[R_WDDST]);
    S->r_wdwei = make_reorder(p->eng, &md[R_WDWEI], &md[R_UWEI]);
    if (S->r_fwei) S->fwei = xalloc(md_bytes(&md[R_FWEI]));
    if (S->r_dwei) S->dwei = xalloc(md_bytes(&md[R_DWEI]));

    size_t pad = md_bytes(&md[R_FPAD]);
    if (md_bytes(&md[R_DPAD]) > pad) pad = md_bytes(&md[R_DPAD]);
    if (md_bytes(&md[R_WPAD]) > pad) pad = md_bytes(&md[R_WPAD]);
    S->pad_bytes = pad;
    S->slot = calloc((size_t)p->threads, sizeof *S->slot);
    if (!S->slot) abort();
    for (int t = 0; t < p->threads; t++) {
        thread_slot *T = &S->slot[t];
        DN(dnnl_stream_create(&T->stream, p->eng, dnnl_stream_default_flags));
        for (int r = 0; r < R_COUNT; r++) DN(dnnl_memory_create(&T->mem[r], &md[r], p->eng, DNNL_MEMORY_NONE));
        T->fsrc = S->r_fsrc ? xalloc(md_bytes(&md[R_FSRC])) : NULL;
        T->fdst = S->r_fdst ? xalloc(md_bytes(&md[R_FDST])) : NULL;
        T->ddsrc = S->r_ddsrc ? xalloc(md_bytes(&md[R_DDSRC])) : NULL;
        T->dddst = S->r_dddst ? xalloc(md_bytes(&md[R_DDDST])) : NULL;
        T->wsrc = S->r_wsrc ? xalloc(md_bytes(&md[R_WSRC])) : NULL;
        T->wddst = S->r_wddst ? xalloc(md_bytes(&md[R_WDDST])) : NULL;
        T->wdwei = xalloc(md_bytes(&md[R_WDWEI]));
        T->pad = xalloc(pad);
    }
    omp_set_num_threads(saved);
}

static void set_destroy(dnnl_plan *p, prim_set *S) {
    dnnl_primitive_t prims[] = {S->fwd,        S->bwd_d,      S->bwd_w,      S->r_fsrc,     S->r_fdst,
                                S->r_fwei,     S->r_dwei,     S->r_dddst,    S->r_ddsrc,    S->r_wsrc,
                                S->r_wddst,    S->r_wdwei,    S->fwd_act[0], S->fwd_act[1], S->fwd_act[2],
                                S->pool_prim,  S->r_pdst};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    for (int t = 0; t < p->threads; t++) {
        thread_slot *T = &S->slot[t];
        for (int r = 0; r < R_COUNT; r++) dnnl_memory_destroy(T->mem[r]);
        for (int r = 0; r < P_COUNT; r++)
            if (T->pmem[r]) dnnl_memory_destroy(T->pmem[r]);
        for (int r = 0; r < 3; r++)
            if (T->apad[r]) dnnl_memory_destroy(T->apad[r]);
        xfree(T->cdst), xfree(T->pdst);
        dnnl_stream_destroy(T->stream);
        xfree(T->fsrc), xfree(T->fdst), xfree(T->ddsrc), xfree(T->dddst), xfree(T->wsrc), xfree(T->wddst);
        xfree(T->wdwei), xfree(T->pad);
    }
    free(S->slot);
    xfree(S->fwei), xfree(S->dwei);
}

/* The set of a chunk size, made on first use. When all slots are taken (many batch sizes),
 * a slot whose size is not `keep` is rebuilt in place (rare; allocates). */
static prim_set *set_for(dnnl_plan *p, int mb, int keep) {
    for (int i = 0; i < p->n_sets; i++)
        if (p->sets[i].mb == mb) return &p->sets[i];
    prim_set *S;
    if (p->n_sets < MAX_SETS) {
        S = &p->sets[p->n_sets++];
    } else {
        S = p->sets[0].mb == keep ? &p->sets[1] : &p->sets[0];
        set_destroy(p, S);
    }
    set_create(p, S, mb);
    return S;
}

/* The sets a batch needs: its chunks take at most two sizes, q and q + 1. */
static void ensure_sets(dnnl_plan *p, int batch, prim_set **lo, prim_set **hi) {
    const int n = chunk_count(batch), q = batch / n;
    *lo = set_for(p, q, -1);
    *hi = batch % n ? set_for(p, q + 1, q) : *lo;
}

void *ib_dnnl_conv_plan(ib_backend *be, const ib_conv_shape *shape) {
    dnnl_plan *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->s = *shape;
    p->threads = be->threads > 0 ? be->threads : omp_get_max_threads();
    if (omp_get_max_threads() > p->threads) p->threads = omp_get_max_threads();
    DN(dnnl_engine_create(&p->eng, dnnl_cpu, 0));
    p->max_chunks = chunk_count(shape->batch);
    /* partial sums for backward at up to the plan's batch (and for smaller batches: fewer chunks) */
    const size_t nw = (size_t)shape->out_c * shape->in_c * shape->k * shape->k;
    p->dw_part = xalloc(sizeof(float) * nw * p->max_chunks);
    p->db_part = xalloc(sizeof(float) * shape->out_c * p->max_chunks);
    prim_set *a, *b;
    ensure_sets(p, shape->batch, &a, &b);
    return p;
}

void ib_dnnl_conv_plan_free(ib_backend *be, void *plan) {
    (void)be;
    dnnl_plan *p = plan;
    if (!p) return;
    for (int i = 0; i < p->n_sets; i++) set_destroy(p, &p->sets[i]);
    xfree(p->dw_part), xfree(p->db_part);
    dnnl_engine_destroy(p->eng);
    free(p);
}

static dnnl_memory_t M(thread_slot *T, int role, const void *ptr) {
    DN(dnnl_memory_set_data_handle_v2(T->mem[role], (void *)ptr, T->stream));
    return T->mem[role];
}

static void run(thread_slot *T, dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args) {
    DN(dnnl_primitive_execute(prim, T->stream, n, args));
    DN(dnnl_stream_wait(T->stream));
}

static void reorder(thread_slot *T, dnnl_primitive_t r, int from_role, const void *from, int to_role, void *to) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, M(T, from_role, from)}, {DNNL_ARG_TO, M(T, to_role, to)}};
    run(T, r, 2, a);
}

static thread_slot *my_slot(const dnnl_plan *p, prim_set *S) {
    int t = omp_get_thread_num();
    if (t >= p->threads) {
        fprintf(stderr, "initbench: internal error: thread %d beyond the %d planned for oneDNN\n", t, p->threads);
        abort();
    }
    return &S->slot[t];
}

/* weights into the layouts of the sets in use (outside the parallel loop; pure copies) */
static void weights_in(dnnl_plan *p, prim_set *S, int bwd, const float *w) {
    thread_slot *T = &S->slot[0];
    if (!bwd && S->r_fwei) reorder(T, S->r_fwei, R_UWEI, w, R_FWEI, S->fwei);
    if (bwd && S->r_dwei) reorder(T, S->r_dwei, R_UWEI, w, R_DWEI, S->dwei);
    (void)p;
}

void ib_dnnl_conv_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                          float *y) {
    (void)be;
    dnnl_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const size_t in_img = (size_t)s->in_c * s->h * s->w, out_img = (size_t)s->out_c * s->h * s->w;
    prim_set *lo, *hi;
    ensure_sets(p, batch, &lo, &hi);
    weights_in(p, lo, 0, w);
    if (hi != lo) weights_in(p, hi, 0, w);
    const int n = chunk_count(batch);
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < n; c++) {
        const int n0 = chunk_start(batch, n, c), nb = chunk_start(batch, n, c + 1) - n0;
        prim_set *S = nb == lo->mb ? lo : hi;
        thread_slot *T = my_slot(p, S);
        const float *xs = x + n0 * in_img;
        float *ys = y + n0 * out_img;
        const float *src = xs;
        if (S->r_fsrc) reorder(T, S->r_fsrc, R_USRC, xs, R_FSRC, T->fsrc), src = T->fsrc;
        float *dst = S->r_fdst ? T->fdst : ys;
        dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, M(T, R_FSRC, src)},
                                {DNNL_ARG_WEIGHTS, M(T, R_FWEI, S->r_fwei ? S->fwei : w)},
                                {DNNL_ARG_BIAS, M(T, R_BIAS, b)},
                                {DNNL_ARG_DST, M(T, R_FDST, dst)},
                                {DNNL_ARG_SCRATCHPAD, M(T, R_FPAD, T->pad)}};
        run(T, S->fwd, 5, a);
        if (S->r_fdst) reorder(T, S->r_fdst, R_FDST, T->fdst, R_UDST, ys);
    }
}

void ib_dnnl_conv_backward(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db) {
    (void)be;
    dnnl_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const size_t in_img = (size_t)s->in_c * s->h * s->w, out_img = (size_t)s->out_c * s->h * s->w;
    const size_t nw = (size_t)s->out_c * s->in_c * s->k * s->k;
    const int O = s->out_c;
    prim_set *lo, *hi;
    ensure_sets(p, batch, &lo, &hi);
    if (dx) {
        weights_in(p, lo, 1, w);
        if (hi != lo) weights_in(p, hi, 1, w);
    }
    const int n = chunk_count(batch);
    if (n > p->max_chunks) { /* a batch beyond the plan's: grow the partial sums (allocates, once) */
        xfree(p->dw_part), xfree(p->db_part);
        p->max_chunks = n;
        p->dw_part = xalloc(sizeof(float) * nw * n);
        p->db_part = xalloc(sizeof(float) * O * n);
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < n; c++) {
        const int n0 = chunk_start(batch, n, c), nb = chunk_start(batch, n, c + 1) - n0;
        prim_set *S = nb == lo->mb ? lo : hi;
        thread_slot *T = my_slot(p, S);
        const float *xs = x + n0 * in_img, *dys = dy + n0 * out_img;
        /* backward weights: partial dw (own layout, then OIHW) and db of this chunk */
        const float *src = xs, *ddst = dys;
        if (S->r_wsrc) reorder(T, S->r_wsrc, R_USRC, xs, R_WSRC, T->wsrc), src = T->wsrc;
        if (S->r_wddst) reorder(T, S->r_wddst, R_UDST, dys, R_WDDST, T->wddst), ddst = T->wddst;
        float *dwp = p->dw_part + (size_t)c * nw, *dbp = p->db_part + (size_t)c * O;
        dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, M(T, R_WSRC, src)},
                                {DNNL_ARG_DIFF_DST, M(T, R_WDDST, ddst)},
                                {DNNL_ARG_DIFF_WEIGHTS, M(T, R_WDWEI, S->r_wdwei ? T->wdwei : dwp)},
                                {DNNL_ARG_DIFF_BIAS, M(T, R_BIAS, dbp)},
                                {DNNL_ARG_SCRATCHPAD, M(T, R_WPAD, T->pad)}};
        run(T, S->bwd_w, 5, a);
        if (S->r_wdwei) reorder(T, S->r_wdwei, R_WDWEI, T->wdwei, R_UWEI, dwp);
        if (!dx) continue;
        /* backward data: this chunk's images of dx */
        const float *dd = dys;
        if (S->r_dddst) {
            if (S->r_wddst && dnnl_memory_desc_equal(&S->md[R_WDDST], &S->md[R_DDDST])) dd = T->wddst;
            else reorder(T, S->r_dddst, R_UDST, dys, R_DDDST, T->dddst), dd = T->dddst;
        }
        float *dxs = dx + n0 * in_img;
        float *dsrc = S->r_ddsrc ? T->ddsrc : dxs;
        dnnl_exec_arg_t d[4] = {{DNNL_ARG_DIFF_DST, M(T, R_DDDST, dd)},
                                {DNNL_ARG_WEIGHTS, M(T, R_DWEI, S->r_dwei ? S->dwei : w)},
                                {DNNL_ARG_DIFF_SRC, M(T, R_DDSRC, dsrc)},
                                {DNNL_ARG_SCRATCHPAD, M(T, R_DPAD, T->pad)}};
        run(T, S->bwd_d, 4, d);
        if (S->r_ddsrc) reorder(T, S->r_ddsrc, R_DDSRC, T->ddsrc, R_USRC, dxs);
    }
    /* fixed-order sums over the chunks; parallel over the outputs */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < nw; i++) {
        float acc = p->dw_part[i];
        for (int c = 1; c < n; c++) acc += p->dw_part[(size_t)c * nw + i];
        dw[i] = acc;
    }
    for (int o = 0; o < O; o++) {
        float acc = p->db_part[o];
        for (int c = 1; c < n; c++) acc += p->db_part[(size_t)c * O + o];
        db[o] = acc;
    }
}

/* ---- fused forward ops ---- */

static dnnl_alg_kind_t eltwise_of(ib_act act) {
    return act == IB_ACT_RELU ? dnnl_eltwise_relu : act == IB_ACT_TANH ? dnnl_eltwise_tanh : dnnl_eltwise_logistic;
}

static void grow_pads(dnnl_plan *p, prim_set *S, size_t bytes) {
    if (bytes <= S->pad_bytes) return;
    for (int t = 0; t < p->threads; t++) {
        xfree(S->slot[t].pad);
        S->slot[t].pad = xalloc(bytes);
    }
    S->pad_bytes = bytes;
}

static void replace_mem(dnnl_plan *p, prim_set *S, int role, const dnnl_memory_desc_t *md) {
    for (int t = 0; t < p->threads; t++) {
        thread_slot *T = &S->slot[t];
        if (T->pmem[role]) dnnl_memory_destroy(T->pmem[role]);
        DN(dnnl_memory_create(&T->pmem[role], md, p->eng, DNNL_MEMORY_NONE));
    }
}

/* conv + bias + activation for one chunk size; 0 when oneDNN would pick other layouts than the
 * plain forward's (then the caller composes conv and activation instead). */
static int ensure_fwd_act(dnnl_plan *p, prim_set *S, ib_act act) {
    if (S->fwd_act[act]) return 1;
    const ib_conv_shape *s = &p->s;
    const int K = s->k, pl = ib_conv_pad_before(K), pr = K - 1 - pl;
    dnnl_dims_t strides = {1, 1}, padl = {pl, pl}, padr = {pr, pr};
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    dnnl_post_ops_t po;
    dnnl_primitive_attr_t attr;
    DN(dnnl_post_ops_create(&po));
    DN(dnnl_post_ops_append_eltwise(po, 1.0f, eltwise_of(act), 0.0f, 0.0f));
    DN(dnnl_primitive_attr_create(&attr));
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    DN(dnnl_primitive_attr_set_post_ops(attr, po));
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd;
    /* the forward's own layouts, so that its reorders and weight buffers serve */
    DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &S->md[R_FSRC],
                                          &S->md[R_FWEI], &S->md[R_BIAS], &S->md[R_FDST], strides, padl, padr));
    int ok = dnnl_primitive_desc_create(&pd, &cd, attr, p->eng, NULL) == dnnl_success;
    if (ok) {
        DN(dnnl_primitive_create(&S->fwd_act[act], pd));
        copy_md(&S->apad_md[act], pd, dnnl_query_scratchpad_md, 0);
        grow_pads(p, S, md_bytes(&S->apad_md[act]));
        for (int t = 0; t < p->threads; t++)
            DN(dnnl_memory_create(&S->slot[t].apad[act], &S->apad_md[act], p->eng, DNNL_MEMORY_NONE));
        DN(dnnl_primitive_desc_destroy(pd));
    }
    DN(dnnl_primitive_attr_destroy(attr));
    DN(dnnl_post_ops_destroy(po));
    omp_set_num_threads(saved);
    return ok;
}

/* max pooling (forward inference) over the conv output in its own layout, then to NCHW */
static int ensure_pool(dnnl_plan *p, prim_set *S, ib_act act, const ib_pool_shape *ps) {
    if (S->pool_ready && S->pool_act == (int)act && !memcmp(&S->pool, ps, sizeof *ps)) return 1;
    if (S->pool_prim) dnnl_primitive_destroy(S->pool_prim), S->pool_prim = NULL;
    if (S->r_pdst) dnnl_primitive_destroy(S->r_pdst), S->r_pdst = NULL;
    S->pool_ready = 0;
    if (ps->c != p->s.out_c || ps->in_h != p->s.h || ps->in_w != p->s.w) return 0;
    const int mb = S->mb, saved = omp_get_max_threads();
    omp_set_num_threads(1);
    dnnl_dims_t od = {mb, ps->c, ps->out_h, ps->out_w}, strides = {ps->stride, ps->stride}, kernel = {ps->k, ps->k};
    int pb = (ps->out_h - 1) * ps->stride + ps->k - ps->in_h - ps->pad_top;
    int pr = (ps->out_w - 1) * ps->stride + ps->k - ps->in_w - ps->pad_left;
    dnnl_dims_t padl = {ps->pad_top, ps->pad_left}, padr = {pb > 0 ? pb : 0, pr > 0 ? pr : 0};
    dnnl_memory_desc_t any;
    DN(dnnl_memory_desc_init_by_tag(&any, 4, od, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&S->pmd[P_UPDST], 4, od, dnnl_f32, dnnl_nchw));
    dnnl_primitive_attr_t attr;
    DN(dnnl_primitive_attr_create(&attr));
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    dnnl_pooling_desc_t pdsc;
    dnnl_primitive_desc_t pd;
    int ok = dnnl_pooling_forward_desc_init(&pdsc, dnnl_forward_inference, dnnl_pooling_max, &S->md[R_FDST], &any,
                                            strides, kernel, padl, padr) == dnnl_success &&
             dnnl_primitive_desc_create(&pd, &pdsc, attr, p->eng, NULL) == dnnl_success;
    if (ok) {
        DN(dnnl_primitive_create(&S->pool_prim, pd));
        copy_md(&S->pmd[P_PDST], pd, dnnl_query_dst_md, 0);
        copy_md(&S->pmd[P_PPAD], pd, dnnl_query_scratchpad_md, 0);
        DN(dnnl_primitive_desc_destroy(pd));
        S->r_pdst = make_reorder(p->eng, &S->pmd[P_PDST], &S->pmd[P_UPDST]);
        grow_pads(p, S, md_bytes(&S->pmd[P_PPAD]));
        replace_mem(p, S, P_PDST, &S->pmd[P_PDST]);
        replace_mem(p, S, P_UPDST, &S->pmd[P_UPDST]);
        replace_mem(p, S, P_PPAD, &S->pmd[P_PPAD]);
        for (int t = 0; t < p->threads; t++) {
            thread_slot *T = &S->slot[t];
            if (!T->cdst) T->cdst = xalloc(md_bytes(&S->md[R_FDST]));
            xfree(T->pdst);
            T->pdst = S->r_pdst ? xalloc(md_bytes(&S->pmd[P_PDST])) : NULL;
        }
        S->pool = *ps, S->pool_act = (int)act, S->pool_ready = 1;
    }
    DN(dnnl_primitive_attr_destroy(attr));
    omp_set_num_threads(saved);
    return ok;
}

/* One chunk of conv + bias + act into dst (the forward's dst layout). */
static void chunk_conv_act(dnnl_plan *p, prim_set *S, thread_slot *T, ib_act act, const float *xs, const float *w,
                           const float *b, float *dst) {
    (void)p;
    const float *src = xs;
    if (S->r_fsrc) reorder(T, S->r_fsrc, R_USRC, xs, R_FSRC, T->fsrc), src = T->fsrc;
    DN(dnnl_memory_set_data_handle_v2(T->apad[act], T->pad, T->stream));
    dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, M(T, R_FSRC, src)},
                            {DNNL_ARG_WEIGHTS, M(T, R_FWEI, S->r_fwei ? S->fwei : w)},
                            {DNNL_ARG_BIAS, M(T, R_BIAS, b)},
                            {DNNL_ARG_DST, M(T, R_FDST, dst)},
                            {DNNL_ARG_SCRATCHPAD, T->apad[act]}};
    run(T, S->fwd_act[act], 5, a);
}

static int prepare_fused(dnnl_plan *p, prim_set *S, ib_act act) { return ensure_fwd_act(p, S, act); }

void ib_dnnl_conv_forward_act(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                              ib_act act, float *y) {
    dnnl_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const size_t in_img = (size_t)s->in_c * s->h * s->w, out_img = (size_t)s->out_c * s->h * s->w;
    prim_set *lo, *hi;
    ensure_sets(p, batch, &lo, &hi);
    if (!prepare_fused(p, lo, act) || (hi != lo && !prepare_fused(p, hi, act))) {
        ib_dnnl_conv_forward(be, plan, batch, x, w, b, y);
        be->act_forward(be, act, out_img * batch, y, y);
        return;
    }
    weights_in(p, lo, 0, w);
    if (hi != lo) weights_in(p, hi, 0, w);
    const int n = chunk_count(batch);
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < n; c++) {
        const int n0 = chunk_start(batch, n, c), nb = chunk_start(batch, n, c + 1) - n0;
        prim_set *S = nb == lo->mb ? lo : hi;
        thread_slot *T = my_slot(p, S);
        float *ys = y + n0 * out_img;
        chunk_conv_act(p, S, T, act, x + n0 * in_img, w, b, S->r_fdst ? T->fdst : ys);
        if (S->r_fdst) reorder(T, S->r_fdst, R_FDST, T->fdst, R_UDST, ys);
    }
}

/* Forward only: y = maxpool(act(conv(x) + b)); the conv output stays in a per-thread buffer. */
void ib_dnnl_conv_act_pool_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                   const float *b, ib_act act, const ib_pool_shape *ps, float *y) {
    dnnl_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const size_t in_img = (size_t)s->in_c * s->h * s->w, pool_img = (size_t)ps->c * ps->out_h * ps->out_w;
    prim_set *lo, *hi;
    ensure_sets(p, batch, &lo, &hi);
    int ok = prepare_fused(p, lo, act) && ensure_pool(p, lo, act, ps);
    if (ok && hi != lo) ok = prepare_fused(p, hi, act) && ensure_pool(p, hi, act, ps);
    if (!ok) { /* compose (allocates: a fallback for shapes oneDNN will not fuse) */
        const size_t out_img = (size_t)s->out_c * s->h * s->w;
        float *tmp = xalloc(sizeof(float) * out_img * batch);
        int32_t *am = xalloc(sizeof(int32_t) * pool_img * batch);
        ib_dnnl_conv_forward(be, plan, batch, x, w, b, tmp);
        be->act_forward(be, act, out_img * batch, tmp, tmp);
        be->pool_forward(be, ps, batch, tmp, y, am);
        xfree(tmp), xfree(am);
        return;
    }
    weights_in(p, lo, 0, w);
    if (hi != lo) weights_in(p, hi, 0, w);
    const int n = chunk_count(batch);
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < n; c++) {
        const int n0 = chunk_start(batch, n, c), nb = chunk_start(batch, n, c + 1) - n0;
        prim_set *S = nb == lo->mb ? lo : hi;
        thread_slot *T = my_slot(p, S);
        float *ys = y + n0 * pool_img;
        chunk_conv_act(p, S, T, act, x + n0 * in_img, w, b, T->cdst);
        float *pd = S->r_pdst ? T->pdst : ys;
        DN(dnnl_memory_set_data_handle_v2(T->pmem[P_PDST], pd, T->stream));
        DN(dnnl_memory_set_data_handle_v2(T->pmem[P_PPAD], T->pad, T->stream));
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, M(T, R_FDST, T->cdst)},
                                {DNNL_ARG_DST, T->pmem[P_PDST]},
                                {DNNL_ARG_SCRATCHPAD, T->pmem[P_PPAD]}};
        run(T, S->pool_prim, 3, a);
        if (S->r_pdst) {
            DN(dnnl_memory_set_data_handle_v2(T->pmem[P_UPDST], ys, T->stream));
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, T->pmem[P_PDST]}, {DNNL_ARG_TO, T->pmem[P_UPDST]}};
            run(T, S->r_pdst, 2, r);
        }
    }
}
