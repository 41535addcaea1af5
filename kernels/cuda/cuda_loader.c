/* The CUDA backend lives in a module (libinitbench_cuda.so) loaded on first use: linking
 * cudart, cuBLAS and cuDNN into the executable cost every run several seconds of start-up,
 * GPU or not. Without a CUDA build, --backend cuda says so. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda/cuda_backend.h"

typedef ib_backend *(*cuda_create_fn)(int threads, int tf32, char *err_msg, size_t err_len);

int ib_cuda_built(void) {
#ifdef IB_CUDA_MODULE_PATH
    return 1;
#else
    return 0;
#endif
}

ib_backend *ib_backend_cuda_create(int threads, int tf32, char *err_msg, size_t err_len) {
#ifndef IB_CUDA_MODULE_PATH
    (void)threads, (void)tf32;
    snprintf(err_msg, err_len,
             "cuda: this initbench was built without CUDA (configure with -DIB_CUDA=ON; it needs the CUDA "
             "toolkit and cuDNN)");
    return NULL;
#else
    /* $INITBENCH_CUDA_MODULE, else next to the executable, else where the build put it */
    char beside[4200] = "";
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(beside, sizeof beside, "%s/libinitbench_cuda.so", exe);
        }
    }
    const char *candidates[3] = {getenv("INITBENCH_CUDA_MODULE"), beside, IB_CUDA_MODULE_PATH};
    const char *last_error = "not found";
    for (int i = 0; i < 3; i++) {
        if (!candidates[i] || !candidates[i][0] || access(candidates[i], R_OK) != 0) continue;
        void *handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            last_error = dlerror();
            continue;
        }
        cuda_create_fn create = (cuda_create_fn)dlsym(handle, "ib_cuda_module_create");
        if (!create) {
            snprintf(err_msg, err_len, "cuda: %s has no ib_cuda_module_create", candidates[i]);
            return NULL;
        }
        return create(threads, tf32, err_msg, err_len);
    }
    snprintf(err_msg, err_len, "cuda: cannot load the CUDA backend module libinitbench_cuda.so (%s); set "
             "INITBENCH_CUDA_MODULE to its path", last_error);
    return NULL;
#endif
}
