/* The oneDNN convolution's plain forward and backward (dnnl_conv_impl.h): chunks of images in
 * parallel, each through single-threaded primitives. */
#include "dnnl_conv_impl.h"

void ib_dnnl_conv_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                          float *y) {
    (void)be;
    dnnl_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const size_t in_img = (size_t)s->in_c * s->h * s->w, out_img = (size_t)s->out_c * s->h * s->w;
    prim_set *lo, *hi;
    ib_dnnl_ensure_sets(p, batch, &lo, &hi);
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
    ib_dnnl_ensure_sets(p, batch, &lo, &hi);
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
