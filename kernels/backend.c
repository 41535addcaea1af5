#include "backend.h"
#include "cuda/cuda_backend.h"

#include <stdio.h>
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

const char *ib_backend_names(void) { return "cpu, ref, cuda"; }

ib_backend *ib_backend_create(const char *name, int threads, int tf32, char *err_msg, size_t err_len) {
    if (strcmp(name, "cpu") == 0) return ib_backend_cpu_create(threads);
    if (strcmp(name, "ref") == 0) return ib_backend_ref_create(threads);
    if (strcmp(name, "cuda") == 0) return ib_backend_cuda_create(threads, tf32, err_msg, err_len);
    snprintf(err_msg, err_len, "unknown backend '%s' (known: %s)", name, ib_backend_names());
    return NULL;
}
