/* The oneDNN convolution's plans (dnnl_conv_impl.h): the primitive set of each chunk size, made
 * on first use, and the plan's creation and release. */
#include "dnnl_conv_impl.h"

/* Backward-weights layouts. oneDNN's own choice (blocked, by `any`) is slow for some shapes:
 * measured at batch 50 on 2 threads, src and diff_dst in channels-last (nhwc) run conv2's
 * backward-weights 5 % faster with AVX-512 and with AVX2, and conv1's (one input channel) 3.4x
 * faster with AVX2 (0.90 ms against 3.09: oneDNN's blocked jit:avx2 kernel for C = 1), while with
 * AVX-512 conv1 keeps the blocked choice (0.30 ms against 0.57). A rule of the shape and of the
 * ISA oneDNN runs, never of a timing, so that a machine always runs the same kernels (bits). */
static int bwd_weights_channels_last(const ib_conv_shape *s) {
    return !(s->in_c == 1 && ib_cpu_dnnl_avx512());
}

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
    dnnl_memory_desc_t w_src = a_src, w_dst = a_dst;
    if (bwd_weights_channels_last(s)) {
        DN(dnnl_memory_desc_init_by_tag(&w_src, 4, sd, dnnl_f32, dnnl_nhwc));
        DN(dnnl_memory_desc_init_by_tag(&w_dst, 4, dd, dnnl_f32, dnnl_nhwc));
    }
    DN(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &w_src, &a_wei, &bias, &w_dst, strides,
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
void ib_dnnl_ensure_sets(dnnl_plan *p, int batch, prim_set **lo, prim_set **hi) {
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
    ib_dnnl_ensure_sets(p, shape->batch, &a, &b);
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
