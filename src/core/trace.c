#include "trace.h"

#ifdef IB_HAVE_NVTX
nvtxDomainHandle_t ib_trace_domain(void) {
    static nvtxDomainHandle_t domain;
    if (!domain) domain = nvtxDomainCreateA("initbench"); /* first use is single-threaded (setup) */
    return domain;
}
#endif
