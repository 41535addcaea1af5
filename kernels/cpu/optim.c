/* The optimisers on the CPU, elementwise: hyperparameter arithmetic in double, state in float.
 *
 * One serial kernel (ib_cpu_optim_apply) holds each optimiser's arithmetic. The whole-buffer
 * step (optim_update, after backward) runs it over thread-owned ranges; the fused update runs it
 * inside backward on a layer's gradients as they are produced (the fully connected weight
 * gradient block by block, in blas.c). Both call the same code with the same expression order,
 * so the parameters and the optimiser state are the same bits either way (tests/test_fused_update.c). */
#include <math.h>
#include <omp.h>

#include "cpu_ops.h"

/* The per-step scalars of an optimiser, computed once per call (in double, as documented in
 * backend.h) so that every range of a step sees the same floats. */
typedef struct optim_scalars {
    float lr, b1, b2, eps, lr_t, c1, c2, mu, rho;
} optim_scalars;

static optim_scalars scalars_of(const ib_optim_hparams *hp, long t) {
    optim_scalars s = {(float)hp->lr, (float)hp->beta1, (float)hp->beta2, (float)hp->eps, 0, 0, 0,
                       (float)hp->momentum, (float)hp->rho};
    if (hp->kind == IB_OPT_ADAM_TF)
        s.lr_t = (float)(hp->lr * sqrt(1.0 - pow(hp->beta2, (double)t)) / (1.0 - pow(hp->beta1, (double)t)));
    if (hp->kind == IB_OPT_ADAM_PT) {
        s.c1 = (float)(1.0 / (1.0 - pow(hp->beta1, (double)t)));
        s.c2 = (float)(1.0 / (1.0 - pow(hp->beta2, (double)t)));
    }
    return s;
}

static void apply(const ib_optim_hparams *hp, const optim_scalars *s, size_t n, float *restrict param,
                  const float *restrict grad, float *restrict m, float *restrict v, float *restrict update) {
    const float lr = s->lr, b1 = s->b1, b2 = s->b2, eps = s->eps;
    switch (hp->kind) {
    case IB_OPT_ADAM_TF: {
        const float lr_t = s->lr_t;
        for (size_t i = 0; i < n; i++) {
            m[i] = b1 * m[i] + (1.0f - b1) * grad[i];
            v[i] = b2 * v[i] + (1.0f - b2) * grad[i] * grad[i];
            float d = -lr_t * m[i] / (sqrtf(v[i]) + eps);
            param[i] += d;
            if (update) update[i] = d;
        }
        break;
    }
    case IB_OPT_ADAM_PT: {
        const float c1 = s->c1, c2 = s->c2;
        for (size_t i = 0; i < n; i++) {
            m[i] = b1 * m[i] + (1.0f - b1) * grad[i];
            v[i] = b2 * v[i] + (1.0f - b2) * grad[i] * grad[i];
            float d = -lr * (m[i] * c1) / (sqrtf(v[i] * c2) + eps);
            param[i] += d;
            if (update) update[i] = d;
        }
        break;
    }
    case IB_OPT_SGD:
        for (size_t i = 0; i < n; i++) {
            float d = -lr * grad[i];
            param[i] += d;
            if (update) update[i] = d;
        }
        break;
    case IB_OPT_MOMENTUM: {
        const float mu = s->mu;
        const int nesterov = hp->nesterov;
        for (size_t i = 0; i < n; i++) {
            m[i] = mu * m[i] + grad[i];
            float d = nesterov ? -lr * (grad[i] + mu * m[i]) : -lr * m[i];
            param[i] += d;
            if (update) update[i] = d;
        }
        break;
    }
    case IB_OPT_RMSPROP: {
        const float rho = s->rho;
        for (size_t i = 0; i < n; i++) {
            v[i] = rho * v[i] + (1.0f - rho) * grad[i] * grad[i];
            float d = -lr * grad[i] / (sqrtf(v[i]) + eps);
            param[i] += d;
            if (update) update[i] = d;
        }
        break;
    }
    }
}

void ib_cpu_optim_apply_rows(const ib_optim_step *opt, const float *grad, int rows, size_t cols, size_t ld) {
    const optim_scalars s = scalars_of(opt->hp, opt->t);
    for (int r = 0; r < rows; r++) {
        const ptrdiff_t o = grad + (size_t)r * ld - opt->grad; /* where this row sits in the parallel arrays */
        apply(opt->hp, &s, cols, opt->param + o, opt->grad + o, opt->m ? opt->m + o : NULL, opt->v ? opt->v + o : NULL,
              opt->update ? opt->update + o : NULL);
    }
}

void ib_cpu_optim_apply_range(const ib_optim_step *opt, const float *grad, size_t n) {
    ib_cpu_optim_apply_rows(opt, grad, 1, n, 0);
}

/* Whole buffers: contiguous ranges of whole 64-byte lines per thread (an element's result does
 * not depend on which thread computes it, so neither does the step's). */
void ib_ref_optim_update(ib_backend *be, const ib_optim_hparams *hp, long t, size_t n, float *param,
                         const float *grad, float *m, float *v, float *update) {
    (void)be;
    const optim_scalars s = scalars_of(hp, t);
#pragma omp parallel
    {
        const size_t threads = (size_t)omp_get_num_threads(), me = (size_t)omp_get_thread_num();
        const size_t per = ((n + threads - 1) / threads + 15) & ~(size_t)15;
        const size_t lo = me * per < n ? me * per : n, hi = lo + per < n ? lo + per : n;
        if (hi > lo)
            apply(hp, &s, hi - lo, param + lo, grad + lo, m ? m + lo : NULL, v ? v + lo : NULL,
                  update ? update + lo : NULL);
    }
}
