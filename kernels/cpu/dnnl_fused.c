/* The oneDNN convolution's fused forward ops (dnnl_conv_impl.h): conv + bias + activation as one
 * primitive (an eltwise post-op), and max pooling after it while a chunk is in cache. */
#include "dnnl_conv_impl.h"

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

/* y = act(conv(x) + b) in NCHW, chunk by chunk (the sets prepared by prepare_fused); with ps, each
 * chunk's images are then max-pooled with argmax (the cpu backend's 2x2/2 kernel) while in cache.
 * Pooling is per image, so chunking it changes no bit. */
static void conv_act_chunks(dnnl_plan *p, prim_set *lo, prim_set *hi, int batch, const float *x, const float *w,
                            const float *b, ib_act act, float *y, const ib_pool_shape *ps, float *pool_out,
                            int32_t *argmax) {
    const ib_conv_shape *s = &p->s;
    const size_t in_img = (size_t)s->in_c * s->h * s->w, out_img = (size_t)s->out_c * s->h * s->w;
    const size_t pool_img = ps ? (size_t)ps->c * ps->out_h * ps->out_w : 0;
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
        if (ps)
            ib_cpu_pool2x2_rows(ps, 0, (size_t)nb * ps->c * ps->out_h, ys, pool_out + n0 * pool_img,
                                argmax + n0 * pool_img);
    }
}

void ib_dnnl_conv_forward_act(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                              ib_act act, float *y) {
    dnnl_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const size_t out_img = (size_t)s->out_c * s->h * s->w;
    prim_set *lo, *hi;
    ib_dnnl_ensure_sets(p, batch, &lo, &hi);
    if (!prepare_fused(p, lo, act) || (hi != lo && !prepare_fused(p, hi, act))) {
        ib_dnnl_conv_forward(be, plan, batch, x, w, b, y);
        be->act_forward(be, act, out_img * batch, y, y);
        return;
    }
    conv_act_chunks(p, lo, hi, batch, x, w, b, act, y, NULL, NULL, NULL);
}

/* Forward only: y = maxpool(act(conv(x) + b)); the conv output stays in a per-thread buffer. */
void ib_dnnl_conv_act_pool_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                   const float *b, ib_act act, const ib_pool_shape *ps, float *y) {
    dnnl_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const size_t in_img = (size_t)s->in_c * s->h * s->w, pool_img = (size_t)ps->c * ps->out_h * ps->out_w;
    prim_set *lo, *hi;
    ib_dnnl_ensure_sets(p, batch, &lo, &hi);
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

/* Training: act_out as ib_dnnl_conv_forward_act writes it (the same chunks, primitives and
 * reorders), each chunk pooled with argmax right after (conv_act_chunks; the 2x2/2 path only: any
 * other pooling composes the two ops). */
void ib_dnnl_conv_act_pool_forward_train(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                         const float *b, ib_act act, const ib_pool_shape *ps, float *act_out,
                                         float *pool_out, int32_t *argmax) {
    dnnl_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const int pool_fits = ps->c == s->out_c && ps->in_h == s->h && ps->in_w == s->w && ib_cpu_pool2x2_applies(ps);
    prim_set *lo, *hi;
    ib_dnnl_ensure_sets(p, batch, &lo, &hi);
    if (!pool_fits || !prepare_fused(p, lo, act) || (hi != lo && !prepare_fused(p, hi, act))) {
        be->conv_forward_act(be, plan, batch, x, w, b, act, act_out);
        be->pool_forward(be, ps, batch, act_out, pool_out, argmax);
        return;
    }
    conv_act_chunks(p, lo, hi, batch, x, w, b, act, act_out, ps, pool_out, argmax);
}
