/* libFuzzer harness: a probe directory as `initbench report PROBE_DIR` reads it (probe.json and
 * configs.csv, analysis/probe_data.c). The input is both files, split at the first line
 * "--configs.csv--". What the reader accepts must keep its promises (classes and activations in
 * their lists, names that are names, free text without control characters); what it refuses
 * must name the file. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    }
    static const char sep[] = "\n--configs.csv--\n";
    const uint8_t *cut = memmem(data, size, sep, sizeof sep - 1);
    size_t json_len = cut ? (size_t)(cut - data) : size;
    put("probe.json", data, json_len);
    if (cut) put("configs.csv", cut + sizeof sep - 1, size - json_len - (sizeof sep - 1));
    else put("configs.csv", (const uint8_t *)"", 0);
    ib_probe_data p;
    ib_err err;
    if (ib_probe_read(root, &p, &err)) {
        if (err.code != IB_EXIT_USAGE || (!strstr(err.msg, "probe.json") && !strstr(err.msg, "configs.csv"))) abort();
        return 0;
    }
    if (!text_clean(p.status) || !text_clean(p.command) || !text_clean(p.preset) || !text_clean(p.rule)) abort();
    for (int i = 0; i < p.n; i++) {
        const ib_probe_row *r = &p.rows[i];
        if (r->forecast < 0 || r->forecast >= IB_CLASS_N || (int)r->act < 0 || (int)r->act >= IB_MF_NACTS) abort();
        if (!ib_name_ok(r->dataset) || !ib_name_ok(r->init) || !ib_name_ok(r->optimizer)) abort();
        if (!text_clean(r->net) || !text_clean(r->reason)) abort();
    }
    ib_probe_free(&p);
    return 0;
}
