/* libFuzzer harness: the IDX parsers and the gunzip in front of them. */
#include <stdint.h>
#include <stdlib.h>

#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ib_err err;
    int n, rows, cols;
    uint8_t *pixels = NULL, *labels = NULL;
    if (ib_idx_parse_images(data, size, "fuzz", &n, &rows, &cols, &pixels, &err) == 0) free(pixels);
    if (ib_idx_parse_labels(data, size, "fuzz", 10, &n, &labels, &err) == 0) free(labels);
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (ib_gunzip(data, size, 1 << 24, "fuzz", &out, &out_len, &err) == 0) {
        if (ib_idx_parse_images(out, out_len, "fuzz", &n, &rows, &cols, &pixels, &err) == 0) free(pixels);
        free(out);
    }
    return 0;
}
