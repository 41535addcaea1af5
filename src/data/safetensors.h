/* Reading and writing the safetensors format (float32 tensors only), so that parameters
 * written by initbench load unchanged into a torch.nn model's state_dict and back. */
#ifndef IB_SAFETENSORS_H
#define IB_SAFETENSORS_H

#include <stdint.h>
#include "util.h"

#define IB_ST_MAX_DIMS 8

typedef struct ib_st_tensor {
    char name[128];
    int ndim;
    int64_t shape[IB_ST_MAX_DIMS];
    float *data; /* prod(shape) floats, little-endian F32 */
} ib_st_tensor;

/* Write tensors in the given order (offsets contiguous), with optional string metadata
 * (key/value pairs, n_meta of them) under "__metadata__". Written atomically. */
int ib_safetensors_write(const char *path, const ib_st_tensor *tensors, int n,
                         const char *const *meta_keys, const char *const *meta_values, int n_meta,
                         ib_err *err);

/* Parse a safetensors buffer: validates header length, JSON, dtype (F32 only), shapes,
 * offsets (in bounds, matching shape, no overlap). `what` names the input in errors.
 * On success *out is an array of *n tensors owning their data. */
int ib_safetensors_parse(const uint8_t *buf, size_t len, const char *what,
                         ib_st_tensor **out, int *n, ib_err *err);
int ib_safetensors_read(const char *path, ib_st_tensor **out, int *n, ib_err *err);
void ib_safetensors_free(ib_st_tensor *t, int n);

/* Limits the parser enforces: header JSON size, and tensor name length (from ib_st_tensor). */
#define IB_ST_MAX_HEADER_BYTES (100u * 1000u * 1000u)

/* String metadata from "__metadata__" as read back. */
typedef struct ib_st_meta {
    char *key;
    char *value;
} ib_st_meta;

/* As ib_safetensors_parse / _read, also returning "__metadata__" (*meta is NULL and *n_meta 0
 * when there is none). Free with ib_safetensors_meta_free. */
int ib_safetensors_parse_with_meta(const uint8_t *buf, size_t len, const char *what,
                                   ib_st_tensor **out, int *n, ib_st_meta **meta, int *n_meta,
                                   ib_err *err);
int ib_safetensors_read_with_meta(const char *path, ib_st_tensor **out, int *n,
                                  ib_st_meta **meta, int *n_meta, ib_err *err);
void ib_safetensors_meta_free(ib_st_meta *meta, int n_meta);

#endif
