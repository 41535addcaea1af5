#include "rundir.h"

#include "json_field.h"
#include "names.h"

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

/* Refuse run.json: the record reads as present but unparsed, the error names file and field. */
static int record_refused(ib_run_record *rec, ib_err *err, const char *path, const char *field, const char *rule) {
    ib_run_record_free(rec);
    rec->present = 1;
    rec->state = -1;
    rec->final_step = rec->diverged_step = -1;
    rec->final_accuracy = rec->final_loss = rec->bias_init = NAN;
    return ib_fail(err, IB_EXIT_USAGE, "%s: field '%s': %s", path, field, rule);
}

#define IB_STEP_LIMIT 999999999999999LL /* steps as read back: below 10^15, exact in a double */

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
    const cJSON *j = rec->json, *config = NULL, *init = NULL, *fin = NULL;
    const char *status = NULL, *reason = NULL;
    if (jf_opt_str(j, "status", IB_NAME_MAX, &status) || (status && ib_run_state_parse(status) < 0))
        return record_refused(rec, err, path, "status", "not a run state (complete, diverged, running, ...)");
    rec->status = status;
    rec->state = ib_run_state_parse(status);
    if (jf_opt_str(j, "reason", IB_TEXT_MAX, &reason))
        return record_refused(rec, err, path, "reason", "not a text of at most 4096 bytes");
    if (reason) ib_text_clean((char *)reason); /* the record owns it: control characters become spaces */
    rec->reason = reason;
    if (jf_opt_obj(j, "config", &config)) return record_refused(rec, err, path, "config", "not an object");
    if (jf_opt_obj(config, "init", &init)) return record_refused(rec, err, path, "config.init", "not an object");
    if (jf_opt_num(init, "bias", &rec->bias_init))
        return record_refused(rec, err, path, "config.init.bias", "not a finite number");
    if (jf_opt_obj(j, "final", &fin)) return record_refused(rec, err, path, "final", "not an object");
    if (jf_opt_num(fin, "test_accuracy", &rec->final_accuracy))
        return record_refused(rec, err, path, "final.test_accuracy", "not a finite number");
    if (jf_opt_num(fin, "test_loss", &rec->final_loss))
        return record_refused(rec, err, path, "final.test_loss", "not a finite number");
    if (jf_opt_int(fin, "step", 0, IB_STEP_LIMIT, &rec->final_step))
        return record_refused(rec, err, path, "final.step", "not a step (a whole number from 0 to 10^15 - 1)");
    if (jf_opt_int(j, "diverged_step", 0, IB_STEP_LIMIT, &rec->diverged_step))
        return record_refused(rec, err, path, "diverged_step", "not a step (a whole number from 0 to 10^15 - 1)");
    if (config) rec->config_text = cJSON_PrintUnformatted(config);
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
