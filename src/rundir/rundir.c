#include "rundir.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ib_run_state_names[IB_RUN_NSTATES] = {"complete",    "diverged", "running", "pending",
                                                         "interrupted", "failed",   "missing"};

int ib_run_state_parse(const char *name) {
    for (int s = 0; name && s < IB_RUN_NSTATES; s++)
        if (!strcmp(name, ib_run_state_names[s])) return s;
    return -1;
}

static const char *string_at(const cJSON *obj, const char *key) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static double number_at(const cJSON *obj, const char *key, double dflt) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(x) ? x->valuedouble : dflt;
}

int ib_run_record_read(const char *run_dir, ib_run_record *rec, ib_err *err) {
    memset(rec, 0, sizeof *rec);
    rec->state = -1;
    rec->final_step = rec->diverged_step = -1;
    rec->final_accuracy = rec->final_loss = rec->bias_init = NAN;
    char path[4200];
    if (ib_snprintf(path, sizeof path, "%s/run.json", run_dir) >= (int)sizeof path)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", run_dir);
    if (!ib_path_exists(path)) return 0;
    rec->present = 1;
    uint8_t *data;
    size_t n;
    if (ib_read_file(path, &data, &n, err)) return err->code;
    rec->json = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    if (!rec->json) return 0;
    rec->parsed = 1; /* JSON; every field below is looked up, absent when it is not an object */
    const cJSON *j = rec->json;
    rec->status = string_at(j, "status");
    rec->state = ib_run_state_parse(rec->status);
    rec->reason = string_at(j, "reason");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(j, "config");
    if (config) rec->config_text = cJSON_PrintUnformatted(config);
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(config, "init");
    rec->bias_init = number_at(init, "bias", NAN);
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(j, "final");
    rec->final_accuracy = number_at(fin, "test_accuracy", NAN);
    rec->final_loss = number_at(fin, "test_loss", NAN);
    rec->final_step = ib_num_to_ll(number_at(fin, "step", -1), 0, LLONG_MAX / 2, -1);
    rec->diverged_step = ib_num_to_ll(number_at(j, "diverged_step", -1), -1, LLONG_MAX / 2, -1);
    return 0;
}

void ib_run_record_free(ib_run_record *rec) {
    free(rec->config_text);
    cJSON_Delete(rec->json);
    memset(rec, 0, sizeof *rec);
}

int ib_rundir_write_json(const char *run_dir, const char *name, const cJSON *json, ib_err *err) {
    char path[4200];
    if (ib_snprintf(path, sizeof path, "%s/%s", run_dir, name) >= (int)sizeof path)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", run_dir);
    char *text = cJSON_Print(json);
    if (!text) return ib_fail(err, IB_EXIT_INTERNAL, "cannot serialise %s", path);
    size_t len = strlen(text);
    text[len] = '\n'; /* replace the NUL: the file ends with a newline */
    int rc = ib_write_file_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}

int ib_curve_write(const char *run_dir, const ib_curve_row *rows, int n, ib_err *err) {
    char path[4200];
    if (ib_snprintf(path, sizeof path, "%s/curve.csv", run_dir) >= (int)sizeof path)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", run_dir);
    ib_atomic_file af;
    if (ib_atomic_open(&af, path, err)) return err->code;
    fprintf(af.fp, IB_CURVE_HEADER "\n");
    for (int i = 0; i < n; i++)
        fprintf(af.fp, "%lld,%.6f,%.9g,%.9g,%.6f,%.3f\n", rows[i].step, rows[i].test_accuracy, rows[i].test_loss,
                rows[i].train_loss, rows[i].train_accuracy, rows[i].elapsed_s);
    return ib_atomic_commit(&af, err);
}
