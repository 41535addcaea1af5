/* Convolution through oneDNN (C API, 2.6), bitwise identical for any thread count: the parts the
 * ops share (built when IB_HAVE_DNNL is defined). The files:
 *   dnnl_plan.c   the plan, and the primitive set of each chunk size (made on first use, freed)
 *   dnnl_conv.c   the plain forward and backward
 *   dnnl_fused.c  the fused forward ops: conv + bias + activation, and max pooling after it
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
#ifndef IB_DNNL_CONV_IMPL_H
#define IB_DNNL_CONV_IMPL_H

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

static inline size_t md_bytes(const dnnl_memory_desc_t *md) { return dnnl_memory_desc_get_size(md); }

/* Zeroed, 64-byte aligned, through calloc (ib_cpu_alloc): pages a run never touches (buffers of
 * batch sizes or paths it does not use) stay out of its resident memory. Freed with xfree. */
static inline void *xalloc(size_t bytes) { return bytes ? ib_cpu_alloc(NULL, (bytes + 3) / 4) : NULL; }
static inline void xfree(void *p) { ib_cpu_release(NULL, p); }

static inline dnnl_primitive_t make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *from,
                                            const dnnl_memory_desc_t *to) {
    if (dnnl_memory_desc_equal(from, to)) return NULL;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    DN(dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL));
    DN(dnnl_primitive_create(&p, pd));
    DN(dnnl_primitive_desc_destroy(pd));
    return p;
}

static inline void copy_md(dnnl_memory_desc_t *dst, const_dnnl_primitive_desc_t pd, dnnl_query_t q, int index) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, q, index);
    if (!md) {
        fprintf(stderr, "initbench: internal error: oneDNN returned no memory descriptor (query %d)\n", (int)q);
        abort();
    }
    *dst = *md;
}

/* Number of chunks for a batch: a function of the batch alone. */
static inline int chunk_count(int batch) {
    int n = (batch + DNNL_CHUNK_TARGET - 1) / DNNL_CHUNK_TARGET;
    if (n < 2 && batch >= 2) n = 2; /* at least two, so two threads both work */
    if (n > batch) n = batch;
    return n < 1 ? 1 : n;
}
static inline int chunk_start(int batch, int n, int c) { return (int)((long)batch * c / n); }

static inline dnnl_memory_t M(thread_slot *T, int role, const void *ptr) {
    DN(dnnl_memory_set_data_handle_v2(T->mem[role], (void *)ptr, T->stream));
    return T->mem[role];
}

static inline void run(thread_slot *T, dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args) {
    DN(dnnl_primitive_execute(prim, T->stream, n, args));
    DN(dnnl_stream_wait(T->stream));
}

static inline void reorder(thread_slot *T, dnnl_primitive_t r, int from_role, const void *from, int to_role,
                           void *to) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, M(T, from_role, from)}, {DNNL_ARG_TO, M(T, to_role, to)}};
    run(T, r, 2, a);
}

static inline thread_slot *my_slot(const dnnl_plan *p, prim_set *S) {
    int t = omp_get_thread_num();
    if (t >= p->threads) {
        fprintf(stderr, "initbench: internal error: thread %d beyond the %d planned for oneDNN\n", t, p->threads);
        abort();
    }
    return &S->slot[t];
}

/* weights into the layouts of the sets in use (outside the parallel loop; pure copies) */
static inline void weights_in(dnnl_plan *p, prim_set *S, int bwd, const float *w) {
    thread_slot *T = &S->slot[0];
    if (!bwd && S->r_fwei) reorder(T, S->r_fwei, R_UWEI, w, R_FWEI, S->fwei);
    if (bwd && S->r_dwei) reorder(T, S->r_dwei, R_UWEI, w, R_DWEI, S->dwei);
    (void)p;
}

/* The sets a batch needs (dnnl_plan.c): its chunks take at most two sizes, q and q + 1. */
void ib_dnnl_ensure_sets(dnnl_plan *p, int batch, prim_set **lo, prim_set **hi);

#endif
