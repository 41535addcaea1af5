/* The ops interface every backend implements. The network code (src/model/net.c) only calls these,
 * so it never knows whether the reference loops, the fast CPU path or the GPU runs.
 *
 * Conventions: tensors are float32, NCHW for images, row-major [batch, features] for fully
 * connected layers; weights in PyTorch's layouts (conv [out, in, k, k], fc [out, in]).
 * Pointers are backend memory (host for the CPU backends, device for CUDA) obtained from
 * alloc(); host data crosses with upload()/download(). Every op may run threaded but must give
 * bitwise identical results for any thread count (no reduction order that depends on it). */
#ifndef IB_BACKEND_H
#define IB_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef enum ib_act { IB_ACT_RELU, IB_ACT_TANH, IB_ACT_SIGMOID } ib_act;

/* Convolution, SAME padding (TensorFlow: for even k the extra row/column goes bottom/right),
 * stride 1, square k x k kernel. Output spatial size equals the input's. */
typedef struct ib_conv_shape {
    int batch; /* the largest batch the plan will see */
    int in_c, h, w, out_c, k;
} ib_conv_shape;

/* Max pooling k x k, stride s, SAME padding (TensorFlow: out = ceil(in / s); padded cells never win). */
typedef struct ib_pool_shape {
    int c, in_h, in_w, k, stride;
    int out_h, out_w, pad_top, pad_left;
} ib_pool_shape;

typedef enum ib_optim_kind {
    IB_OPT_ADAM_TF,  /* lr_t = lr sqrt(1-b2^t)/(1-b1^t); theta -= lr_t m / (sqrt(v) + eps) */
    IB_OPT_ADAM_PT,  /* theta -= lr m_hat / (sqrt(v_hat) + eps) */
    IB_OPT_SGD,      /* theta -= lr g */
    IB_OPT_MOMENTUM, /* a = mu a + g; theta -= lr a (Nesterov: theta -= lr (g + mu a)) */
    IB_OPT_RMSPROP,  /* v = rho v + (1-rho) g^2; theta -= lr g / (sqrt(v) + eps) */
} ib_optim_kind;

typedef struct ib_optim_hparams {
    ib_optim_kind kind;
    double lr, beta1, beta2, eps, momentum, rho;
    int nesterov;
} ib_optim_hparams;

/* An optimiser step handed to an op that applies it as it produces gradients (the fused update,
 * see fuse_update below): hp and t as optim_update takes them; param, m, v and update (NULL: not
 * kept; m, v NULL where the optimiser has no such state) are arrays parallel to the gradient
 * buffer `grad`: the op that writes gradient element grad + k updates param + k, m + k, ... */
typedef struct ib_optim_step {
    const ib_optim_hparams *hp;
    long t;
    const float *grad;
    float *param, *m, *v, *update;
} ib_optim_step;

/* Summary statistics of one tensor, reduced where the tensor lives (instrumentation). Sums run
 * over fixed chunks combined in a fixed order: the same bits for any thread count. */
#define IB_HIST_BINS 48        /* log10|x| in [IB_HIST_LO, IB_HIST_LO + bins): one bin per decade */
#define IB_HIST_LO (-40)
typedef struct ib_stats_request {
    int saturation;       /* 0: none; 1: tanh (|x| > 0.99); 2: sigmoid (x < 0.01 or x > 0.99) */
    double below;         /* count |x| < below (e.g. Adam's sqrt(v) < eps: pass v and eps^2); 0: off */
    int histogram;        /* fill hist[] */
} ib_stats_request;

typedef struct ib_tensor_stats {
    double n, sum, sum_sq, min, max;
    double zeros, saturated, below, nonfinite;
    double hist[IB_HIST_BINS + 2]; /* [0] exact zeros, [1] below the lowest bin, bins..., clamped top */
} ib_tensor_stats;

typedef struct ib_backend ib_backend;
struct ib_backend {
    const char *name;
    void *impl;
    int threads;
    void (*destroy)(ib_backend *be);

    /* Memory. alloc() returns zeroed memory; count is in floats (32-bit words). */
    void *(*alloc)(ib_backend *be, size_t count);
    void (*release)(ib_backend *be, void *p);
    void (*upload)(ib_backend *be, void *dst, const void *src, size_t bytes);
    void (*download)(ib_backend *be, void *dst, const void *src, size_t bytes);
    void (*copy)(ib_backend *be, void *dst, const void *src, size_t bytes); /* within backend memory */
    void (*zero)(ib_backend *be, float *x, size_t n);

    /* A per-layer plan lets a backend choose algorithms and workspace once per shape. */
    void *(*conv_plan)(ib_backend *be, const ib_conv_shape *shape);
    void (*conv_plan_free)(ib_backend *be, void *plan);
    /* y = conv(x, w) + b, for batch <= the plan's batch */
    void (*conv_forward)(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                         const float *b, float *y);
    /* dw, db (overwritten) and, unless dx is NULL (first layer), dx from dy */
    void (*conv_backward)(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db);

    /* y[batch, out] = x[batch, in] w[out, in]^T + b */
    void (*fc_forward)(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                       const float *b, float *y);
    void (*fc_backward)(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db);

    /* argmax[i] = flat index (h * in_w + w) of the winner within its input plane */
    void (*pool_forward)(ib_backend *be, const ib_pool_shape *s, int batch, const float *x, float *y,
                         int32_t *argmax);
    void (*pool_backward)(ib_backend *be, const ib_pool_shape *s, int batch, const float *dy,
                          const int32_t *argmax, float *dx);

    /* Elementwise; may run in place (y == x, dx == dy). Backward uses the output y only. */
    void (*act_forward)(ib_backend *be, ib_act act, size_t n, const float *x, float *y);
    void (*act_backward)(ib_backend *be, ib_act act, size_t n, const float *y, const float *dy,
                         float *dx);

    /* Inverted dropout: element i is kept when uniform(seed, stream, i) < keep, and scaled by
     * 1/keep. The mask is recomputed in backward from the same counters, never stored. */
    void (*dropout_forward)(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream,
                            const float *x, float *y);
    void (*dropout_backward)(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream,
                             const float *dy, float *dx);

    /* Softmax cross-entropy through log-softmax. Host outputs: the loss summed over the batch
     * and the count of correct argmax predictions. dlogits (if not NULL) = (softmax - onehot) *
     * grad_scale, where the caller passes 1/batch for a mean loss. */
    void (*softmax_xent)(ib_backend *be, int batch, int classes, const float *logits,
                         const int32_t *labels, float grad_scale, float *dlogits, double *loss_sum,
                         int *correct);

    /* One optimiser step over n parameters at step t (1-based). m and v are the optimiser's
     * state (unused ones may be NULL). If update is not NULL it receives the applied change. */
    void (*optim_update)(ib_backend *be, const ib_optim_hparams *hp, long t, size_t n, float *param,
                         const float *grad, float *m, float *v, float *update);

    /* Statistics of x[0..n) into *out (host). Non-finite values are counted, not summed. */
    void (*tensor_stats)(ib_backend *be, const float *x, size_t n, const ib_stats_request *req,
                         ib_tensor_stats *out);
    /* Later ops are appended below this line. */

    /* Fused forward ops: optional. Left NULL, ib_backend_complete() composes them from the ops
     * above; a backend sets them where it fuses for real (cpu: oneDNN post-ops; cuda). Results
     * equal the unfused sequence up to rounding, and like every op they are the same bits for
     * any thread count. */
    /* y = act(conv(x, w) + b): conv_forward and the act_forward that follows it in one pass; the
     * output is what act_backward expects as y. */
    void (*conv_forward_act)(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                             const float *b, ib_act act, float *y);
    /* Forward only (evaluation): y = maxpool(act(conv(x, w) + b)) with pool over the conv output
     * (pool->c == out_c); the full-size activations never leave the cache and no argmax is kept. */
    void (*conv_act_pool_forward)(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                  const float *b, ib_act act, const ib_pool_shape *pool, float *y);
    /* Training: act_out = conv_forward_act(x) (what act_backward needs as y) and pool_out, argmax =
     * pool_forward(act_out), with pool over the conv output (pool->c == out_c); a backend pools
     * each chunk of images while its activations are in cache. Unlike the ops above, the outputs
     * are those of conv_forward_act and pool_forward bit for bit. */
    void (*conv_act_pool_forward_train)(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                        const float *b, ib_act act, const ib_pool_shape *pool, float *act_out,
                                        float *pool_out, int32_t *argmax);
    /* y = act(x w^T + b) */
    void (*fc_forward_act)(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                           const float *b, ib_act act, float *y);

    /* A dataset where the backend computes: the cuda backend copies it to the device once and
     * gathers each batch there (only the indices cross per step); the CPU backends read the host
     * arrays in place, which must then outlive the handle. n images of `size` uint8 pixels, n
     * uint8 labels. */
    void *(*images_open)(ib_backend *be, const uint8_t *pixels, const uint8_t *labels, size_t n, size_t size);
    void (*images_close)(ib_backend *be, void *images);
    /* x[b][i] = pixels[index[b]][i] / 255 (float), y[b] = labels[index[b]]; index is a host
     * array of `batch` image numbers < n. */
    void (*gather_batch)(ib_backend *be, void *images, const int64_t *index, int batch, float *x, int32_t *y);

    /* Segments: optional (NULL in the CPU backends, which run every op as it is called). The ops
     * called between segment_begin(id) and segment_end(id) form segment `id`. A backend may record
     * a segment once its shapes are fixed and replay the recording on later calls (cuda: CUDA
     * graphs), the ops then only supplying their per-step values (batch indices, dropout stream,
     * optimiser step). So: host outputs of ops inside a segment (softmax_xent's loss and count)
     * are valid only after segment_end; ops that hand back host data at once (download,
     * tensor_stats) and allocation do not belong in one; segments do not nest. segment_end returns
     * nonzero when none of the segment's work ran (its recording could not be used, and the
     * backend runs that segment eagerly from now on): the caller then calls the same ops again. */
    void (*segment_begin)(ib_backend *be, int id);
    int (*segment_end)(ib_backend *be, int id);

    /* The fused update: optional. A backend that sets fuse_update lets the network apply the
     * optimiser to each weight layer's parameters inside backward, as soon as that layer's
     * gradients are complete (while they are in cache), instead of in one optim_update pass after
     * backward; each element's arithmetic is optim_update's, so the parameters are the same bits.
     * Backends that record segments leave it 0 (a recorded backward would bake the step in). */
    int fuse_update;
    /* fc_backward, then opt's step on dw and db (dw, db inside opt's gradient buffer; w, which is
     * opt's param at dw's place, is read for dx before it is updated). A backend may interleave
     * the update with the blocks of dw as they are produced. Composed by default. */
    void (*fc_backward_update)(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                               const float *dy, float *dx, float *dw, float *db, const ib_optim_step *opt);

    /* pool_backward (dy, argmax -> the gradient at the activation's output) and then act_backward
     * over act_y, the activation's output that the pooling read, into dx: the backward of
     * act -> pool. pool_y and argmax are pool_forward's outputs from act_y (so pool_y[o] is
     * act_y at argmax[o], bit for bit). A backend may do both in one pass. Composed by default;
     * the same bits either way. */
    void (*act_pool_backward)(ib_backend *be, ib_act act, const ib_pool_shape *pool, int batch, const float *act_y,
                              const float *pool_y, const float *dy, const int32_t *argmax, float *dx);
};

/* The trainer's segments (src/train/train.c): one training step is three, so that per-phase timings
 * stay per phase. Statistics steps run outside segments (their ops read values back). */
enum { IB_SEGMENT_FORWARD = 0, IB_SEGMENT_BACKWARD = 1, IB_SEGMENT_UPDATE = 2 };

/* ---- The registry: every backend by name, in one table (kernels/backend.c) ----
 * A backend-specific knob is a *setting* that only the backends declaring it take ("tf32":
 * cuda's TF32 tensor-core math); the generic code passes settings through without knowing them. */
typedef struct ib_backend_setting {
    const char *name;
    int value;
} ib_backend_setting;

typedef struct ib_backend_params {
    int threads;                        /* <= 0: all available */
    const ib_backend_setting *settings; /* may be NULL */
    int n_settings;
} ib_backend_params;

typedef struct ib_backend_entry {
    const char *name;
    const char *summary; /* one line for --help and docs */
    ib_backend *(*create)(const ib_backend_params *p, char *err_msg, size_t err_len);
    const char *const *settings; /* the settings it takes, NULL-terminated; NULL: none */
} ib_backend_entry;

/* The registered backends, in the order --help lists them; *count receives their number. */
const ib_backend_entry *ib_backend_registry(int *count);
const ib_backend_entry *ib_backend_find(const char *name);
/* Creates a backend and fills its optional ops with the defaults (ib_backend_complete). A
 * setting the backend does not declare is refused when nonzero and ignored when zero. Returns
 * NULL and fills err_msg when unavailable. */
ib_backend *ib_backend_create(const char *name, const ib_backend_params *p, char *err_msg, size_t err_len);
/* The value of setting `name` in p, or dflt where p does not set it. */
int ib_backend_setting_value(const ib_backend_params *p, const char *name, int dflt);
/* "cpu|ref|cuda" (for a flag's choices) and "cpu, ref, cuda" (for messages). */
const char *ib_backend_choices(void);
const char *ib_backend_names(void);
/* Does the backend called `backend` take setting `setting`? (0 for an unknown backend) */
int ib_backend_takes(const char *backend, const char *setting);
/* The backends that take setting `name`, as "a, b" ("" when none). */
const char *ib_backend_takers(const char *setting);

/* The optional ops, filled in one place: each fused forward op left NULL becomes the
 * composition of the plain ops it fuses (the same arithmetic, without the speed); the segment
 * ops stay NULL (every op then runs as it is called). A backend sets only what it does better. */
void ib_backend_complete(ib_backend *be);

/* The CPU backends' constructors, for tests and benchmarks that want one directly. */
ib_backend *ib_backend_ref_create(int threads);
ib_backend *ib_backend_cpu_create(int threads);

/* Shape helpers shared by every backend. */
ib_pool_shape ib_pool_make(int c, int in_h, int in_w, int k, int stride);
static inline int ib_conv_pad_before(int k) { return (k - 1) / 2; }

#endif
