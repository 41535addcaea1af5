/* Philox4x32-10 (kernels/philox.h, the one copy that host and device code compile) against the
 * known-answer vectors published with Random123 (Salmon et al. 2011), and through kernels/rng.c's
 * API for many (seed, stream, index). In a CUDA build it also checks the nvcc-compiled host
 * instance of the header (ibk_philox_host). The device instance itself is checked by test_cuda on
 * a GPU (raw words and dropout masks). Needs no GPU. */
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "philox.h"
#include "rng.h"
#ifdef IB_HAVE_CUDA
#include "cuda/cuda_kernels.h"
#endif

int main(void) {
    /* Random123's kat_vectors for philox4x32_10: counter (4 words) and key (2 words) map to
     * (index lo, index hi, stream lo, stream hi) and (seed lo, seed hi). */
    static const struct {
        uint64_t seed, stream, index;
        uint32_t out[4];
    } kat[] = {
        {0, 0, 0, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
        {~0ull, ~0ull, ~0ull, {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
        {0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull,
         {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
    };
    for (size_t t = 0; t < sizeof kat / sizeof *kat; t++) {
        uint32_t w[4];
        ib_philox(kat[t].seed, kat[t].stream, kat[t].index, w);
        CHECK(w[0] == kat[t].out[0] && w[1] == kat[t].out[1] && w[2] == kat[t].out[2] && w[3] == kat[t].out[3],
              "known-answer vector %zu: got %08x %08x %08x %08x", t, w[0], w[1], w[2], w[3]);
    }
    const uint64_t seeds[] = {0, 1, 7, 0xffffffffull, 0x123456789abcdef0ull, ~0ull};
    const uint64_t streams[] = {0, 1, ib_stream(IB_RNG_DROPOUT, 5, 9999), ib_stream(IB_RNG_INIT, 0xffffff, ~0u), ~0ull};
    const uint64_t bases[] = {0, 1000, 0xfffffff0ull, (1ull << 40) - 8, ~0ull - 64};
    long words = 0, bad = 0, bad_nvcc = 0, bad_u01 = 0;
    for (size_t a = 0; a < sizeof seeds / sizeof *seeds; a++)
        for (size_t b = 0; b < sizeof streams / sizeof *streams; b++)
            for (size_t c = 0; c < sizeof bases / sizeof *bases; c++)
                for (uint64_t i = bases[c]; i < bases[c] + 64 && i >= bases[c]; i++) {
                    uint32_t ref[4], dev[4];
                    ib_philox(seeds[a], streams[b], i, ref);
                    ib_philox4x32(seeds[a], streams[b], i, dev);
                    for (int k = 0; k < 4; k++) {
                        words++;
                        bad += ref[k] != dev[k];
                        bad_u01 += ib_u01(ref[k]) != ib_philox_u01(dev[k]);
                    }
#ifdef IB_HAVE_CUDA
                    uint32_t nv[4];
                    ibk_philox_host(seeds[a], streams[b], i, nv);
                    for (int k = 0; k < 4; k++) bad_nvcc += ref[k] != nv[k];
#endif
                }
    CHECK(bad == 0, "%ld of %ld words differ between ib_philox (kernels/rng.c) and ib_philox4x32", bad, words);
    CHECK(bad_u01 == 0, "%ld uniforms differ", bad_u01);
    CHECK(bad_nvcc == 0, "%ld words differ in the nvcc-compiled host instance", bad_nvcc);
    /* The uniform a dropout element uses, element by element (block i/4, word i%4). */
    long bad_el = 0;
    for (uint64_t i = 0; i < 4096; i++) {
        uint32_t w[4];
        ib_philox4x32(42, ib_stream(IB_RNG_DROPOUT, 7, 3), i / 4, w);
        bad_el += ib_philox_u01(w[i % 4]) != ib_uniform_at(42, ib_stream(IB_RNG_DROPOUT, 7, 3), i);
    }
    CHECK(bad_el == 0, "%ld element uniforms differ from ib_uniform_at", bad_el);
    printf("philox: %ld words compared%s\n", words,
#ifdef IB_HAVE_CUDA
           " (gcc and nvcc host instances)"
#else
           " (gcc instance; built without CUDA)"
#endif
    );
    return check_finish("philox");
}
