/* The run-directory module (src/rundir): run.json read back as a validated record (a file whose
 * field breaks its rule is refused, naming file and field); run.json and curve.csv written whole;
 * the run-state names. curve.csv and stats.csv read back: test_runfiles.c. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rundir.h"
#include "tmpdir.h"

static char root[512];

static void put(const char *name, const char *text) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *name) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", root, name);
    uint8_t *d;
    size_t n;
    ib_err e;
    return ib_read_file(path, &d, &n, &e) ? NULL : (char *)d;
}

static void test_states(void) {
    for (int s = 0; s < IB_RUN_NSTATES; s++)
        CHECK(ib_run_state_parse(ib_run_state_names[s]) == s, "state %d does not round-trip", s);
    CHECK(ib_run_state_parse("Complete") == -1 && ib_run_state_parse("") == -1 && ib_run_state_parse(NULL) == -1,
          "unknown names parse to -1");
    CHECK(ib_run_state_final(IB_RUN_COMPLETE) && ib_run_state_final(IB_RUN_DIVERGED) &&
              !ib_run_state_final(IB_RUN_INTERRUPTED) && !ib_run_state_final(IB_RUN_RUNNING),
          "only complete and diverged are final");
}

static void test_record(void) {
    ib_run_record r;
    ib_err e = {0};
    CHECK(ib_run_record_read(root, &r, &e) == 0 && !r.present && r.state == -1, "no run.json: not present, no error");
    ib_run_record_free(&r);

    put("run.json", "{\"status\": \"compl");
    CHECK(ib_run_record_read(root, &r, &e) == 0 && r.present && !r.parsed, "truncated JSON: present, not parsed");
    ib_run_record_free(&r);

    put("run.json", "[1, 2, 3]");
    CHECK(ib_run_record_read(root, &r, &e) == 0 && r.parsed && !r.status && r.state == -1 && !r.config_text &&
              r.final_step == -1 && isnan(r.final_accuracy),
          "JSON that is no object: parsed, every field absent");
    ib_run_record_free(&r);

    put("run.json", "{\"status\": \"diverged\", \"reason\": \"non-finite training loss\", \"diverged_step\": 41,"
                    " \"config\": {\"init\": {\"bias\": 0.25}, \"steps\": 100},"
                    " \"final\": {\"step\": 42, \"test_accuracy\": 0.5, \"test_loss\": 1.5}}");
    CHECK(ib_run_record_read(root, &r, &e) == 0, "a complete record reads: %s", e.msg);
    CHECK(r.state == IB_RUN_DIVERGED && !strcmp(r.status, "diverged"), "state %d", r.state);
    CHECK(r.reason && !strcmp(r.reason, "non-finite training loss"), "reason");
    CHECK(r.diverged_step == 41 && r.final_step == 42, "steps %lld %lld", r.diverged_step, r.final_step);
    CHECK(r.final_accuracy == 0.5 && r.final_loss == 1.5 && r.bias_init == 0.25, "numbers");
    CHECK(r.config_text && !strcmp(r.config_text, "{\"init\":{\"bias\":0.25},\"steps\":100}"),
          "config printed compactly: %s", r.config_text ? r.config_text : "(null)");
    ib_run_record_free(&r);

    /* hostile values: each field of the wrong type, out of range, or no run state refuses the
     * file, naming it and the field; nothing of it is read */
    struct {
        const char *json, *field;
    } bad[] = {
        {"{\"status\": 7}", "'status'"},
        {"{\"status\": \"finished\"}", "'status'"},
        {"{\"status\": \"Complete\"}", "'status'"},
        {"{\"status\": \"complete'; touch /tmp/ib-pwned; '\"}", "'status'"},
        {"{\"status\": \"<script>alert(1)</script>\"}", "'status'"},
        {"{\"status\": \"complete\\n\"}", "'status'"},
        {"{\"status\": \"complete\", \"reason\": [\"x\"]}", "'reason'"},
        {"{\"status\": \"complete\", \"config\": \"text\"}", "'config'"},
        {"{\"status\": \"complete\", \"config\": {\"init\": 5}}", "'config.init'"},
        {"{\"status\": \"complete\", \"config\": {\"init\": {\"bias\": \"0.1\"}}}", "'config.init.bias'"},
        {"{\"status\": \"complete\", \"config\": {\"init\": {\"bias\": 1e999}}}", "'config.init.bias'"},
        {"{\"status\": \"complete\", \"final\": [1]}", "'final'"},
        {"{\"status\": \"complete\", \"final\": {\"step\": -5}}", "'final.step'"},
        {"{\"status\": \"complete\", \"final\": {\"step\": 1e300}}", "'final.step'"},
        {"{\"status\": \"complete\", \"final\": {\"step\": 2.5}}", "'final.step'"},
        {"{\"status\": \"complete\", \"final\": {\"step\": \"42\"}}", "'final.step'"},
        {"{\"status\": \"complete\", \"final\": {\"step\": 1000000000000000}}", "'final.step'"},
        {"{\"status\": \"complete\", \"final\": {\"test_accuracy\": \"0.9\"}}", "'final.test_accuracy'"},
        {"{\"status\": \"complete\", \"final\": {\"test_loss\": true}}", "'final.test_loss'"},
        {"{\"status\": \"diverged\", \"diverged_step\": \"NaN\"}", "'diverged_step'"},
        {"{\"status\": \"diverged\", \"diverged_step\": -1}", "'diverged_step'"},
        {"{\"status\": \"diverged\", \"diverged_step\": 1e20}", "'diverged_step'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put("run.json", bad[i].json);
        int rc = ib_run_record_read(root, &r, &e);
        CHECK(rc == IB_EXIT_USAGE && r.present && !r.parsed && !r.status && r.state == -1 && !r.reason &&
                  !r.config_text && r.final_step == -1 && r.diverged_step == -1 && isnan(r.final_accuracy) &&
                  strstr(e.msg, "run.json") && strstr(e.msg, bad[i].field),
              "%s: rc %d '%s'", bad[i].json, rc, e.msg);
        ib_run_record_free(&r);
    }
    /* a reason over 4096 bytes is refused; one with control characters is kept, cleaned */
    char big[5200];
    int k = snprintf(big, sizeof big, "{\"status\": \"failed\", \"reason\": \"");
    memset(big + k, 'x', 4097);
    snprintf(big + k + 4097, sizeof big - (size_t)k - 4097, "\"}");
    put("run.json", big);
    CHECK(ib_run_record_read(root, &r, &e) == IB_EXIT_USAGE && strstr(e.msg, "'reason'"), "long reason: %s", e.msg);
    ib_run_record_free(&r);
    put("run.json", "{\"status\": \"failed\", \"reason\": \"bad\\n\\u001b[2Jthing\\r\\u0000rest\"}");
    CHECK(ib_run_record_read(root, &r, &e) == 0 && r.reason && !strcmp(r.reason, "bad  [2Jthing "),
          "control characters become spaces: '%s'", r.reason ? r.reason : "(null)");
    ib_run_record_free(&r);
    /* null (what cJSON writes for a NaN) reads as absent; absent fields too */
    put("run.json", "{\"status\": \"complete\", \"final\": {\"step\": 10, \"test_accuracy\": null, \"test_loss\": null},"
                    " \"config\": {\"init\": {\"bias\": null}}}");
    CHECK(ib_run_record_read(root, &r, &e) == 0 && r.state == IB_RUN_COMPLETE && r.final_step == 10 &&
              isnan(r.final_accuracy) && isnan(r.bias_init) && !r.reason,
          "nulls are absent: %s", e.msg);
    ib_run_record_free(&r);
    put("run.json", "{\"status\": \"interrupted\"}");
    CHECK(ib_run_record_read(root, &r, &e) == 0 && r.state == IB_RUN_INTERRUPTED && r.final_step == -1 &&
              r.diverged_step == -1 && !r.config_text,
          "a bare record");
    ib_run_record_free(&r);
}

static void test_writers(void) {
    ib_err e = {0};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "running");
    CHECK(ib_rundir_write_json(root, "run.json", j, &e) == 0, "write run.json: %s", e.msg);
    cJSON_Delete(j);
    char *text = slurp("run.json");
    CHECK(text && text[strlen(text) - 1] == '\n' && strstr(text, "\"running\""), "run.json ends in a newline");
    free(text);
    ib_run_record r;
    CHECK(ib_run_record_read(root, &r, &e) == 0 && r.state == IB_RUN_RUNNING, "written state reads back");
    ib_run_record_free(&r);

    ib_curve_row rows[2] = {{0, 0.1, 2.3, 2.31, 0.08, 0.5}, {100, 0.9125, 0.31234567891, 0.4, 0.875, 12.25}};
    CHECK(ib_curve_write(root, rows, 2, &e) == 0, "write curve.csv: %s", e.msg);
    text = slurp("curve.csv");
    const char *want = IB_CURVE_HEADER "\n0,0.100000,2.3,2.31,0.080000,0.500\n100,0.912500,0.312345679,0.4,0.875000,12.250\n";
    CHECK(text && !strcmp(text, want), "curve.csv is\n%s", text ? text : "(unreadable)");
    free(text);
    /* nothing but the two files: no temporary file left behind */
    CHECK(ib_remove_stale_temps(root, NULL) == 0, "a temporary file was left");
}

int main(void) {
    if (test_tmpdir_make(root, sizeof root, "test_rundir")) return 1;
    test_states();
    test_record();
    test_writers();
    test_tmpdir_remove(root);
    return check_finish("rundir");
}
