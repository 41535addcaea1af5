/* libFuzzer harness: a probe directory as `initbench report PROBE_DIR` reads it (probe.json,
 * configs.csv and validate/validation.csv, analysis/probe_data.c). The input is the three files,
 * split at the lines "--configs.csv--" and "--validation.csv--". What the reader accepts must keep its promises (classes and activations in
 * their lists, names that are names, free text without control characters); what it refuses
 * must name the file. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names.h"
#include "probe_data.h"

static char root[64];

static void put(const char *name, const uint8_t *data, size_t size) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) abort();
    if (size && fwrite(data, 1, size, fp) != size) abort();
    fclose(fp);
}

static int text_clean(const char *s) {
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    if (!root[0]) {
        snprintf(root, sizeof root, "/tmp/ib-fuzz-probe-XXXXXX");
        if (!mkdtemp(root)) abort();
        char sub[128];
        snprintf(sub, sizeof sub, "%s/validate", root);
        if (mkdir(sub, 0700)) abort();
    }
    static const char sep[] = "\n--configs.csv--\n", vsep[] = "\n--validation.csv--\n";
    const uint8_t *cut = memmem(data, size, sep, sizeof sep - 1);
    size_t json_len = cut ? (size_t)(cut - data) : size;
    put("probe.json", data, json_len);
    const uint8_t *rest = cut ? cut + sizeof sep - 1 : data + size, *end = data + size;
    const uint8_t *vcut = memmem(rest, (size_t)(end - rest), vsep, sizeof vsep - 1);
    put("configs.csv", rest, (size_t)((vcut ? vcut : end) - rest));
    if (vcut) put("validate/validation.csv", vcut + sizeof vsep - 1, (size_t)(end - vcut) - (sizeof vsep - 1));
    else {
        char path[128];
        snprintf(path, sizeof path, "%s/validate/validation.csv", root);
        unlink(path);
    }
    ib_probe_data p;
    ib_err err;
    if (ib_probe_read(root, &p, &err)) {
        if (err.code != IB_EXIT_USAGE || (!strstr(err.msg, "probe.json") && !strstr(err.msg, "configs.csv") &&
                                          !strstr(err.msg, "validation.csv")))
            abort();
        return 0;
    }
    if (!text_clean(p.status) || !text_clean(p.command) || !text_clean(p.preset) || !text_clean(p.rule)) abort();
    for (int i = 0; i < p.n; i++) {
        const ib_probe_row *r = &p.rows[i];
        if (r->forecast < 0 || r->forecast >= IB_CLASS_N || (int)r->act < 0 || (int)r->act >= IB_MF_NACTS) abort();
        if (!ib_name_ok(r->dataset) || !ib_name_ok(r->init) || !ib_name_ok(r->optimizer)) abort();
        if (!text_clean(r->net) || !text_clean(r->reason)) abort();
    }
    for (int v = 0; v < p.n_validations; v++)
        for (int i = 0; i < p.validations[v].n; i++) {
            const ib_probe_check *k = &p.validations[v].checks[i];
            if (k->config < 0 || k->config >= p.n || k->forecast < 0 || k->forecast >= IB_CLASS_NONE ||
                k->outcome < 0 || k->outcome >= IB_OUTCOME_N || !text_clean(k->reason))
                abort();
        }
    ib_probe_free(&p);
    return 0;
}
