/* The CUDA backend (cuDNN convolutions, cuBLAS fully connected layers, own kernels for the
 * rest). Declared in every build: without CUDA (IB_CUDA=OFF or toolkit/cuDNN not found) the
 * constructor (kernels/cuda/cuda_loader.c) always fails with "built without CUDA". With CUDA
 * it loads the backend module libinitbench_cuda.so on first use. */
#ifndef IB_CUDA_BACKEND_H
#define IB_CUDA_BACKEND_H

#include <stddef.h>

#include "backend.h"

/* Returns NULL and a message naming the cause (no driver, no device, no kernel image for this
 * GPU, cuDNN/cuBLAS init failed, built without CUDA) when the GPU is not usable.
 * tf32: 1 lets cuDNN and cuBLAS use TF32 tensor cores, 0 keeps fp32 FMA math (the default; fp32
 * parity with the CPU backends), -1 reads the environment variable IB_CUDA_TF32 (1/0).
 * The device is CUDA device 0, or $IB_CUDA_DEVICE. threads is ignored. */
ib_backend *ib_backend_cuda_create(int threads, int tf32, char *err_msg, size_t err_len);

/* 1 when this binary was built with the CUDA backend. */
int ib_cuda_built(void);

#endif
