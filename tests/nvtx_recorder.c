/* An NVTX injection library (loaded by NVTX through NVTX_INJECTION64_PATH) that records every
 * range pushed in any domain, as "domain<TAB>message" lines in $NVTX_RECORD_FILE: the tool the
 * NVTX test uses to see what a profiler would see, without a GPU or Nsight. */
#include <nvtx3/nvToolsExt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct recorder_domain {
    char name[128];
} recorder_domain;

static FILE *out;
static int depth;

static nvtxDomainHandle_t NVTX_API create_domain(const char *name) {
    recorder_domain *d = calloc(1, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name ? name : "");
    return (nvtxDomainHandle_t)d;
}

static int NVTX_API push(nvtxDomainHandle_t domain, const nvtxEventAttributes_t *a) {
    if (out && a && a->messageType == NVTX_MESSAGE_TYPE_ASCII)
        fprintf(out, "%s\t%d\t%s\n", domain ? ((recorder_domain *)domain)->name : "", depth, a->message.ascii);
    return depth++;
}

static int NVTX_API pop(nvtxDomainHandle_t domain) {
    (void)domain;
    return --depth;
}

int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t get_export_table);
int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t get_export_table) {
    const char *path = getenv("NVTX_RECORD_FILE");
    out = path ? fopen(path, "w") : NULL;
    if (out) setvbuf(out, NULL, _IOLBF, 0);
    const NvtxExportTableCallbacks *cb = get_export_table(NVTX_ETID_CALLBACKS);
    NvtxFunctionTable table = NULL;
    unsigned int size = 0;
    if (!cb || !cb->GetModuleFunctionTable(NVTX_CB_MODULE_CORE2, &table, &size) || size <= NVTX_CBID_CORE2_DomainCreateA)
        return 0;
    *table[NVTX_CBID_CORE2_DomainCreateA] = (NvtxFunctionPointer)create_domain;
    *table[NVTX_CBID_CORE2_DomainRangePushEx] = (NvtxFunctionPointer)push;
    *table[NVTX_CBID_CORE2_DomainRangePop] = (NvtxFunctionPointer)pop;
    return 1;
}
