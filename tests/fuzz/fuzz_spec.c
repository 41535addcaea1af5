/* libFuzzer harness: the layer-spec parser, and building the network it describes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    if (text[0] == '@') text[0] = '#'; /* never read files named by the input */
    ib_err err;
    ib_net_spec spec;
    if (ib_spec_parse(text, &spec, &err) == 0) {
        char canon[4096];
        ib_spec_format(&spec, canon, sizeof canon);
        ib_net_spec again;
        if (ib_spec_parse(canon, &again, &err) != 0 || memcmp(&spec, &again, sizeof spec) != 0) abort();
        /* shape inference on a small input, without allocating huge layers */
        size_t total = 0;
        for (int i = 0; i < spec.n; i++) total += (size_t)spec.layers[i].units;
        if (total < 4096) {
            ib_backend *be = ib_backend_ref_create(1);
            ib_net net;
            if (ib_net_build(&net, &spec, 1, 8, 8, 10, 2, be, &err) == 0) ib_net_free(&net);
            be->destroy(be);
        }
    }
    free(text);
    return 0;
}
