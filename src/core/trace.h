/* NVTX ranges in the domain "initbench" around every phase (step, forward, backward, update,
 * evaluation, statistics) and every layer inside them (fwd/conv1, bwd/fc1 ...), so Nsight
 * Systems shows a readable timeline and Nsight Compute can filter kernels by range
 * (ncu --nvtx --nvtx-include "initbench@fwd/conv1/"). NVTX3 is header-only; with no profiler
 * attached a push/pop costs about a nanosecond. -DIB_WITH_NVTX=OFF compiles the calls away. */
#ifndef IB_TRACE_H
#define IB_TRACE_H

#ifdef IB_HAVE_NVTX
#include <nvtx3/nvToolsExt.h>

nvtxDomainHandle_t ib_trace_domain(void);

static inline void ib_trace_push(const char *name) {
    nvtxEventAttributes_t a = {0};
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    a.messageType = NVTX_MESSAGE_TYPE_ASCII;
    a.message.ascii = name;
    nvtxDomainRangePushEx(ib_trace_domain(), &a);
}
static inline void ib_trace_pop(void) { nvtxDomainRangePop(ib_trace_domain()); }
#define IB_TRACE_ENABLED 1
#else
static inline void ib_trace_push(const char *name) { (void)name; }
static inline void ib_trace_pop(void) {}
#define IB_TRACE_ENABLED 0
#endif

#endif
