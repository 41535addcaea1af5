/* libFuzzer harness: the safetensors parser (header length, JSON, dtypes, shapes, offsets). */
#include <stdint.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ib_err err;
    ib_st_tensor *t = NULL;
    ib_st_meta *meta = NULL;
    int n = 0, n_meta = 0;
    if (ib_safetensors_parse_with_meta(data, size, "fuzz", &t, &n, &meta, &n_meta, &err) == 0) {
        ib_safetensors_free(t, n);
        ib_safetensors_meta_free(meta, n_meta);
    }
    return 0;
}
