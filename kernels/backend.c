/* The backend registry, the optional ops' defaults, and shape helpers shared by every backend. */
#include "backend.h"
#include "cuda/cuda_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ib_pool_shape ib_pool_make(int c, int in_h, int in_w, int k, int stride) {
    ib_pool_shape s = {.c = c, .in_h = in_h, .in_w = in_w, .k = k, .stride = stride};
    s.out_h = (in_h + stride - 1) / stride;
    s.out_w = (in_w + stride - 1) / stride;
    int pad_h = (s.out_h - 1) * stride + k - in_h;
    int pad_w = (s.out_w - 1) * stride + k - in_w;
    s.pad_top = pad_h > 0 ? pad_h / 2 : 0;
    s.pad_left = pad_w > 0 ? pad_w / 2 : 0;
    return s;
}

/* ---- the registry ---- */
static ib_backend *create_cpu(const ib_backend_params *p, char *err_msg, size_t err_len) {
    (void)err_msg, (void)err_len;
    return ib_backend_cpu_create(p->threads);
}

static ib_backend *create_ref(const ib_backend_params *p, char *err_msg, size_t err_len) {
    (void)err_msg, (void)err_len;
    return ib_backend_ref_create(p->threads);
}

static ib_backend *create_cuda(const ib_backend_params *p, char *err_msg, size_t err_len) {
    /* tf32 -1: $IB_CUDA_TF32 decides (the module reads it) */
    return ib_backend_cuda_create(p->threads, ib_backend_setting_value(p, "tf32", -1), err_msg, err_len);
}

static const char *const cuda_settings[] = {"tf32", NULL};

static const ib_backend_entry registry[] = {
    {"cpu", "the fast CPU path: oneDNN convolutions where built in, OpenBLAS SGEMM (default)", create_cpu, NULL},
    {"ref", "the reference: plain loops that read like the maths, accumulating in double", create_ref, NULL},
    {"cuda", "NVIDIA GPU: cuDNN, cuBLAS and initbench's own kernels, CUDA graphs", create_cuda, cuda_settings},
};
enum { N_BACKENDS = (int)(sizeof registry / sizeof registry[0]) };

const ib_backend_entry *ib_backend_registry(int *count) {
    *count = N_BACKENDS;
    return registry;
}

const ib_backend_entry *ib_backend_find(const char *name) {
    for (int i = 0; i < N_BACKENDS; i++)
        if (strcmp(registry[i].name, name) == 0) return &registry[i];
    return NULL;
}

static int takes(const ib_backend_entry *e, const char *setting) {
    for (const char *const *s = e->settings; s && *s; s++)
        if (strcmp(*s, setting) == 0) return 1;
    return 0;
}

int ib_backend_takes(const char *backend, const char *setting) {
    const ib_backend_entry *e = ib_backend_find(backend);
    return e && takes(e, setting);
}

/* "a<sep>b<sep>c" of the registered names (only those taking `setting`, when given) */
static const char *join_names(char *buf, size_t len, const char *sep, const char *setting) {
    buf[0] = 0;
    for (int i = 0; i < N_BACKENDS; i++) {
        if (setting && !takes(&registry[i], setting)) continue;
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", used ? sep : "", registry[i].name);
    }
    return buf;
}

const char *ib_backend_choices(void) {
    static char buf[256];
    return join_names(buf, sizeof buf, "|", NULL);
}

const char *ib_backend_names(void) {
    static char buf[256];
    return join_names(buf, sizeof buf, ", ", NULL);
}

const char *ib_backend_takers(const char *setting) {
    static char buf[256];
    return join_names(buf, sizeof buf, ", ", setting);
}

int ib_backend_setting_value(const ib_backend_params *p, const char *name, int dflt) {
    for (int i = 0; p && i < p->n_settings; i++)
        if (strcmp(p->settings[i].name, name) == 0) return p->settings[i].value;
    return dflt;
}

ib_backend *ib_backend_create(const char *name, const ib_backend_params *p, char *err_msg, size_t err_len) {
    const ib_backend_entry *e = ib_backend_find(name);
    if (!e) {
        snprintf(err_msg, err_len, "unknown backend '%s' (known: %s)", name, ib_backend_names());
        return NULL;
    }
    ib_backend_params none = {0};
    if (!p) p = &none;
    for (int i = 0; i < p->n_settings; i++)
        if (p->settings[i].value && !takes(e, p->settings[i].name)) {
            snprintf(err_msg, err_len, "%s: the %s setting applies only to %s", name, p->settings[i].name,
                     ib_backend_takers(p->settings[i].name));
            return NULL;
        }
    ib_backend *be = e->create(p, err_msg, err_len);
    if (be) ib_backend_complete(be);
    return be;
}

/* ---- the optional ops' defaults: compositions of the plain ops ---- */
static void composed_conv_forward_act(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                      const float *b, ib_act act, float *y) {
    const ib_conv_shape *s = plan; /* every plan begins with its shape */
    be->conv_forward(be, plan, batch, x, w, b, y);
    be->act_forward(be, act, (size_t)batch * s->out_c * s->h * s->w, y, y);
}

static void composed_conv_act_pool_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                           const float *b, ib_act act, const ib_pool_shape *pool, float *y) {
    const ib_conv_shape *s = plan;
    const size_t n = (size_t)batch * s->out_c * s->h * s->w;
    float *tmp = be->alloc(be, n); /* not a production path: allocates per call */
    int32_t *am = be->alloc(be, (size_t)batch * pool->c * pool->out_h * pool->out_w);
    be->conv_forward(be, plan, batch, x, w, b, tmp);
    be->act_forward(be, act, n, tmp, tmp);
    be->pool_forward(be, pool, batch, tmp, y, am);
    be->release(be, tmp), be->release(be, am);
}

static void composed_conv_act_pool_forward_train(ib_backend *be, void *plan, int batch, const float *x,
                                                 const float *w, const float *b, ib_act act, const ib_pool_shape *pool,
                                                 float *act_out, float *pool_out, int32_t *argmax) {
    be->conv_forward_act(be, plan, batch, x, w, b, act, act_out);
    be->pool_forward(be, pool, batch, act_out, pool_out, argmax);
}

static void composed_fc_forward_act(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                                    const float *b, ib_act act, float *y) {
    be->fc_forward(be, batch, in, out, x, w, b, y);
    be->act_forward(be, act, (size_t)batch * out, y, y);
}

static void composed_fc_backward_update(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                                        const float *dy, float *dx, float *dw, float *db, const ib_optim_step *opt) {
    be->fc_backward(be, batch, in, out, x, w, dy, dx, dw, db);
    const ptrdiff_t kw = dw - opt->grad, kb = db - opt->grad;
#define AT(a, k) ((a) ? (a) + (k) : NULL)
    be->optim_update(be, opt->hp, opt->t, (size_t)out * in, opt->param + kw, dw, AT(opt->m, kw), AT(opt->v, kw),
                     AT(opt->update, kw));
    be->optim_update(be, opt->hp, opt->t, (size_t)out, opt->param + kb, db, AT(opt->m, kb), AT(opt->v, kb),
                     AT(opt->update, kb));
#undef AT
}

static void composed_act_pool_backward(ib_backend *be, ib_act act, const ib_pool_shape *pool, int batch,
                                       const float *act_y, const float *pool_y, const float *dy, const int32_t *argmax,
                                       float *dx) {
    (void)pool_y;
    be->pool_backward(be, pool, batch, dy, argmax, dx);
    be->act_backward(be, act, (size_t)batch * pool->c * pool->in_h * pool->in_w, act_y, dx, dx);
}

void ib_backend_complete(ib_backend *be) {
    if (!be->conv_forward_act) be->conv_forward_act = composed_conv_forward_act;
    if (!be->conv_act_pool_forward) be->conv_act_pool_forward = composed_conv_act_pool_forward;
    if (!be->conv_act_pool_forward_train) be->conv_act_pool_forward_train = composed_conv_act_pool_forward_train;
    if (!be->fc_forward_act) be->fc_forward_act = composed_fc_forward_act;
    if (!be->fc_backward_update) be->fc_backward_update = composed_fc_backward_update;
    if (!be->act_pool_backward) be->act_pool_backward = composed_act_pool_backward;
}
