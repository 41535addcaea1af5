/* A sweep directory's files (src/rundir/sweepdir.h, submissions.h): sweep.json, tasks/NNNN.json
 * and slurm/submissions.json. Each reader is fed hostile content (wrong types, huge numbers,
 * NaN-like strings, quotes, backticks, $(), newlines, <script>, commas, truncated files, arrays of
 * 10^6 entries, train argv that `initbench sweep` never writes) and must refuse it with exit 2 and
 * a message naming the file and the field (or, for absent optional fields, read them as absent),
 * never crash; each writer round-trips and writes the bytes cJSON_Print always gave. */
#define _XOPEN_SOURCE 700
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "rundir.h"
#include "submissions.h"
#include "sweepdir.h"
#include "tmpdir.h"

static char root[512];

/* root/name (one buffer per call site's use: copy it before the next call) */
static const char *at(const char *name) {
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", root, name);
    return path;
}

static void put(const char *name, const char *text) {
    FILE *f = fopen(at(name), "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *name) {
    uint8_t *d;
    size_t n;
    ib_err e;
    return ib_read_file(at(name), &d, &n, &e) ? NULL : (char *)d;
}

static void sub_dir(const char *name) { mkdir(at(name), 0755); }

/* name holding prefix, then n copies of item joined by commas, then suffix. */
static void put_repeated(const char *name, const char *prefix, const char *item, int n, const char *suffix) {
    FILE *f = fopen(at(name), "w");
    if (!f) abort();
    fputs(prefix, f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? "," : "", item);
    fputs(suffix, f);
    fclose(f);
}

/* ---- sweep.json ---------------------------------------------------------------------------- */

/* Read a manifest from text; returns the reader's result, with the message in msg. */
static int manifest_from(const char *text, ib_manifest *m, char *msg, size_t len) {
    put("sweep.json", text);
    ib_err e = {0};
    int rc = ib_manifest_read(root, m, &e);
    snprintf(msg, len, "%s", rc ? e.msg : "");
    return rc;
}

/* A manifest of the one task `task` (any JSON value) must be refused, the message holding `want`. */
static void bad_task_json(const char *task, const char *want) {
    char text[4200], msg[1100];
    snprintf(text, sizeof text, "{\"tasks\": [%s]}", task);
    ib_manifest m;
    int rc = manifest_from(text, &m, msg, sizeof msg);
    CHECK(rc == IB_EXIT_USAGE && m.problem == IB_MANIFEST_INVALID && strstr(msg, "task 0: ") &&
              strstr(msg, want) && strstr(msg, "sweep.json") && !m.tasks && !m.n,
          "task %s: rc %d, '%s' (want '%s')", task, rc, msg, want);
    ib_manifest_free(&m);
}

/* The same for a task object with these fields. */
static void bad_task(const char *fields, const char *want) {
    char task[4096];
    snprintf(task, sizeof task, "{%s}", fields);
    bad_task_json(task, want);
}

#define TASK_OK "\"index\": 0, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [\"train\"]"

static void test_manifest_hostile(void) {
    ib_manifest m;
    ib_err e = {0};
    char msg[1100];
    CHECK(ib_manifest_read(root, &m, &e) == IB_EXIT_USAGE && m.problem == IB_MANIFEST_UNREADABLE &&
              strstr(e.msg, "sweep.json"),
          "no sweep.json: unreadable, naming it: %s", e.msg);
    ib_manifest_free(&m);

    CHECK(manifest_from("{\"tasks\": [{\"index\": 0, \"std", &m, msg, sizeof msg) && m.problem == IB_MANIFEST_INVALID &&
              strstr(msg, "not valid JSON"),
          "truncated: %s", msg);
    ib_manifest_free(&m);
    const char *no_tasks[] = {"[1, 2]", "{}", "{\"tasks\": \"x\"}", "{\"tasks\": {}}", "{\"tasks\": []}", "null", "7"};
    for (size_t i = 0; i < sizeof no_tasks / sizeof no_tasks[0]; i++) {
        CHECK(manifest_from(no_tasks[i], &m, msg, sizeof msg) && strstr(msg, "no \"tasks\" array"), "%s: %s",
              no_tasks[i], msg);
        ib_manifest_free(&m);
    }
    /* 10^6 tasks: over the bound, refused before anything is allocated per task */
    put_repeated("sweep.json", "{\"tasks\": [", "0", 1000000, "]}");
    CHECK(ib_manifest_read(root, &m, &e) && strstr(e.msg, "more than 100000 tasks"), "10^6 tasks: %s", e.msg);
    ib_manifest_free(&m);

    bad_task_json("5", "not an object");
    bad_task_json("\"text\"", "not an object");
    bad_task_json("[0, 1]", "not an object");
    /* dir: escaping the sweep, absolute, empty, too long, not a string, absent */
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"../x\", \"argv\": [\"train\"]", "relative");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"runs/../../x\", \"argv\": [\"train\"]", "relative");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"/etc\", \"argv\": [\"train\"]", "relative");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"\", \"argv\": [\"train\"]", "relative");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"runs/01234567890123456789012345678901234567890123456789012345678\","
             " \"argv\": [\"train\"]",
             "relative");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": 7, \"argv\": [\"train\"]", "relative");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"argv\": [\"train\"]", "relative");
    /* stddev: NaN-like strings, infinity, absent */
    bad_task("\"index\": 0, \"stddev\": \"NaN\", \"dir\": \"r\", \"argv\": [\"train\"]", "field 'stddev'");
    bad_task("\"index\": 0, \"stddev\": \"0.1\", \"dir\": \"r\", \"argv\": [\"train\"]", "field 'stddev'");
    bad_task("\"index\": 0, \"stddev\": 1e999, \"dir\": \"r\", \"argv\": [\"train\"]", "field 'stddev'");
    bad_task("\"index\": 0, \"stddev\": -1e999, \"dir\": \"r\", \"argv\": [\"train\"]", "field 'stddev'");
    bad_task("\"index\": 0, \"dir\": \"r\", \"argv\": [\"train\"]", "field 'stddev'");
    /* index: huge, negative, fractional, a string, another position, absent */
    bad_task("\"index\": 1e300, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [\"train\"]", "field 'index'");
    bad_task("\"index\": -1, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [\"train\"]", "field 'index'");
    bad_task("\"index\": 0.5, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [\"train\"]", "field 'index'");
    bad_task("\"index\": \"0\", \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [\"train\"]", "field 'index'");
    bad_task("\"index\": 1, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [\"train\"]", "field 'index'");
    bad_task("\"stddev\": 0.1, \"dir\": \"r\", \"argv\": [\"train\"]", "field 'index'");
    /* argv: absent, empty, not strings, not an array */
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"r\"", "field 'argv'");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": []", "field 'argv'");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [\"train\", 1]", "field 'argv'");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [null]", "field 'argv'");
    bad_task("\"index\": 0, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": \"train --steps 10\"", "field 'argv'");
    /* argv of 10^6 strings: over its bound */
    put_repeated("sweep.json", "{\"tasks\": [{" "\"index\": 0, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [", "\"x\"",
                 1000000, "]}]}");
    CHECK(ib_manifest_read(root, &m, &e) && strstr(e.msg, "field 'argv'"), "argv of 10^6: %s", e.msg);
    ib_manifest_free(&m);
    /* a good task after a bad one: still refused, naming the bad one */
    put("sweep.json", "{\"tasks\": [{" TASK_OK "}, {\"index\": 1, \"stddev\": 0.2, \"dir\": \"/x\", \"argv\": [\"t\"]}]}");
    CHECK(ib_manifest_read(root, &m, &e) && strstr(e.msg, "task 1: field 'dir'"), "second task: %s", e.msg);
    ib_manifest_free(&m);

    /* argv: only what `initbench sweep` writes; sweep.json's argv is run as `initbench train` */
    const char *bad_argv[] = {
        "\"sweep\"",                                          /* another subcommand */
        "\"data\", \"--fetch\"",
        "\"train\", \"--out\", \"/home/victim\"",             /* the runner sets these */
        "\"train\", \"--out=/home/victim\"",
        "\"train\", \"--threads\", \"4\"",
        "\"train\", \"--progress=tty\"",
        "\"train\", \"--data\", \"x\"",                        /* no train flag */
        "\"train\", \"--note\", \"x\"",
        "\"train\", \"positional\"",
        "\"train\", \"-x\"",
        "\"train\", \"--\"",
        "\"train\", \"--net\", \"@/etc/passwd\"",              /* never a file to read */
        "\"train\", \"--net=fc:10;touch /tmp/ib-pwned\"",
        "\"train\", \"--net\", \"fc:10 $(id)\"",
        "\"train\", \"--init\", \"<script>\"",
        "\"train\", \"--optimizer\", \"adam`id`\"",
        "\"train\", \"--steps\", \"1e3\"",
        "\"train\", \"--steps\", \"-5\"",
        "\"train\", \"--seed\", \"18446744073709551616\"",
        "\"train\", \"--lr\", \"nan\"",
        "\"train\", \"--lr\", \"0x10\"",
        "\"train\", \"--stddev\", \"1e999\"",
        "\"train\", \"--nesterov=1\"",
        "\"train\", \"--steps\", \"5\", \"--steps\", \"6\"",
        "\"train\", \"--steps=5\", \"--steps\", \"6\"",
        "\"train\", \"--steps\"",
        "\"train\", \"--data-dir\", \"relative/data\"",
        "\"train\", \"--data-dir\", \"/data/../etc\"",
        "\"train\", \"--data-dir\", \"/data\\nx\"",
        "\"train\", \"--papi-events\", \"$(id)\"",
    };
    for (size_t i = 0; i < sizeof bad_argv / sizeof *bad_argv; i++) {
        char t[1024];
        snprintf(t, sizeof t, "\"index\": 0, \"stddev\": 0.1, \"dir\": \"r\", \"argv\": [%s]", bad_argv[i]);
        bad_task(t, "field 'argv'");
    }
    /* the other task fields, present but wrong: refused, never read as absent */
    bad_task(TASK_OK ", \"repeat\": 1e20", "field 'repeat'");
    bad_task(TASK_OK ", \"repeat\": \"3\"", "field 'repeat'");
    bad_task(TASK_OK ", \"repeat\": -2", "field 'repeat'");
    bad_task(TASK_OK ", \"repeat\": 2.5", "field 'repeat'");
    bad_task(TASK_OK ", \"seed\": \"12a\"", "field 'seed'");
    bad_task(TASK_OK ", \"seed\": 5", "field 'seed'");
    bad_task(TASK_OK ", \"seed\": \"18446744073709551616\"", "field 'seed'");
    bad_task(TASK_OK ", \"seed\": \"-1\"", "field 'seed'");
    bad_task(TASK_OK ", \"seed\": \"$(id)\"", "field 'seed'");
    /* dir: what the shell, gnuplot, Slurm's --output or a CSV would read as something else */
    const char *bad_dirs[] = {"runs/a'b", "runs/`id`", "runs/$(id)", "runs/%j", "runs/a b", "runs/a,b", "runs/a\\nb",
                              "runs/<script>", "-rf", "runs//x", "runs/", "./runs"};
    for (size_t i = 0; i < sizeof bad_dirs / sizeof *bad_dirs; i++) {
        char t[512];
        snprintf(t, sizeof t, "\"index\": 0, \"stddev\": 0.1, \"dir\": \"%s\", \"argv\": [\"train\"]", bad_dirs[i]);
        bad_task(t, "field 'dir'");
    }

    /* the header: each field present but wrong refuses the manifest, naming it */
    struct {
        const char *header, *field;
    } bad_head[] = {
        {"\"manifest_version\": 1e300", "'manifest_version'"},
        {"\"manifest_version\": \"1\"", "'manifest_version'"},
        {"\"preset\": 7", "'preset'"},
        {"\"preset\": \"quick'; touch /tmp/ib-pwned; '\"", "'preset'"},
        {"\"preset\": \"<script>alert(1)</script>\"", "'preset'"},
        {"\"preset\": \"a,b\"", "'preset'"},
        {"\"preset\": \"0123456789012345678901234567890123456789\"", "'preset'"},
        {"\"base_seed\": \"99999999999999999999999\"", "'base_seed'"},
        {"\"base_seed\": 5", "'base_seed'"},
        {"\"config\": \"text\"", "'config'"},
        {"\"config\": {\"net\": [\"x\"]}", "'config.net'"},
        {"\"config\": {\"net\": \"fc:10`id`\"}", "'config.net'"},
        {"\"config\": {\"net\": \"@/etc/passwd\"}", "'config.net'"},
        {"\"config\": {\"net\": \"fc:10\\nrelu\"}", "'config.net'"},
        {"\"config\": {\"net_given\": \"<img src=x onerror=alert(1)>\"}", "'config.net_given'"},
        {"\"config\": {\"net_given\": \"@/a\\nb\"}", "'config.net_given'"},
        {"\"config\": {\"net_given\": \"'$(id)'\"}", "'config.net_given'"},
        {"\"config\": {\"steps\": 1e300}", "'config.steps'"},
        {"\"config\": {\"steps\": -1}", "'config.steps'"},
        {"\"config\": {\"optimizer\": \"adam\"}", "'config.optimizer'"},
        {"\"config\": {\"optimizer\": {\"name\": {}}}", "'config.optimizer.name'"},
        {"\"config\": {\"optimizer\": {\"name\": \"adam<script>\"}}", "'config.optimizer.name'"},
        {"\"config\": {\"optimizer\": {\"name\": \"adam, sgd\"}}", "'config.optimizer.name'"},
        {"\"config\": {\"optimizer\": {\"lr\": \"0.1\"}}", "'config.optimizer.lr'"},
        {"\"config\": {\"optimizer\": {\"eps\": 1e999}}", "'config.optimizer.eps'"},
        {"\"config\": {\"init\": \"text\"}", "'config.init'"},
        {"\"config\": {\"init\": {\"scheme\": \"he`id`\"}}", "'config.init.scheme'"},
        {"\"config\": {\"init\": {\"scheme\": \"\"}}", "'config.init.scheme'"},
    };
    for (size_t i = 0; i < sizeof bad_head / sizeof *bad_head; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{%s, \"tasks\": [{" TASK_OK "}]}", bad_head[i].header);
        int rc = manifest_from(text, &m, msg, sizeof msg);
        CHECK(rc == IB_EXIT_USAGE && m.problem == IB_MANIFEST_INVALID && strstr(msg, "sweep.json") &&
                  strstr(msg, bad_head[i].field) && !m.tasks && !m.preset,
              "%s: rc %d '%s'", bad_head[i].header, rc, msg);
        ib_manifest_free(&m);
    }

    /* absent optional fields read as absent (a hand-written manifest, or one of an older version);
     * the writer's "" preset likewise; a net given as @FILE or with spaces is kept as given */
    const char *lax = "{\"preset\": \"\", \"config\": {\"net_given\": \"@/home/me/my nets/deep.spec\", \"optimizer\": {},"
                      " \"init\": {}}, \"tasks\": [{" TASK_OK "},"
                      " {\"index\": 1, \"stddev\": -2, \"dir\": \"s\", \"argv\": [\"train\", \"--steps=5\"]}]}";
    CHECK(manifest_from(lax, &m, msg, sizeof msg) == 0, "lax manifest reads: %s", msg);
    CHECK(m.n == 2 && m.version == -1 && !m.preset && !m.has_base_seed && !m.net && m.net_given &&
              !strcmp(m.net_given, "@/home/me/my nets/deep.spec") && !m.optimizer && !m.init_scheme && isnan(m.lr) &&
              isnan(m.eps) && m.steps == -1,
          "absent header fields are absent");
    for (int i = 0; i < m.n; i++)
        CHECK(m.tasks[i].repeat == 0 && !m.tasks[i].has_seed && m.tasks[i].seed == 0 && m.tasks[i].index == i,
              "task %d: repeat %d, seed %d", i, m.tasks[i].repeat, m.tasks[i].has_seed);
    CHECK(m.tasks[1].stddev == -2 && !strcmp(m.tasks[1].dir, "s"), "the valid fields stay");
    ib_manifest_free(&m);
}

/* The bytes cJSON_Print gives for this manifest: what `initbench sweep` has always written. */
static const char manifest_text[] =
    "{\n"
    "\t\"manifest_version\":\t1,\n"
    "\t\"preset\":\t\"quick\",\n"
    "\t\"base_seed\":\t\"18446744073709551615\",\n"
    "\t\"config\":\t{\n"
    "\t\t\"net\":\t\"original\",\n"
    "\t\t\"net_given\":\t\"original\",\n"
    "\t\t\"steps\":\t1000,\n"
    "\t\t\"optimizer\":\t{\n"
    "\t\t\t\"name\":\t\"adam\",\n"
    "\t\t\t\"lr\":\t0.0001,\n"
    "\t\t\t\"eps\":\t1e-08\n"
    "\t\t},\n"
    "\t\t\"init\":\t{\n"
    "\t\t\t\"scheme\":\t\"truncated_normal\"\n"
    "\t\t}\n"
    "\t},\n"
    "\t\"tasks\":\t[{\n"
    "\t\t\t\"index\":\t0,\n"
    "\t\t\t\"stddev\":\t0.0001,\n"
    "\t\t\t\"repeat\":\t0,\n"
    "\t\t\t\"seed\":\t\"1\",\n"
    "\t\t\t\"dir\":\t\"runs/0000-w0.0001-r0\",\n"
    "\t\t\t\"argv\":\t[\"train\", \"--stddev\", \"0.0001\"]\n"
    "\t\t}, {\n"
    "\t\t\t\"index\":\t1,\n"
    "\t\t\t\"stddev\":\t0.3,\n"
    "\t\t\t\"repeat\":\t1,\n"
    "\t\t\t\"seed\":\t\"2\",\n"
    "\t\t\t\"dir\":\t\"runs/0001-w0.3-r1\",\n"
    "\t\t\t\"argv\":\t[\"train\", \"--data-dir\", \"/data/a \\\"quoted\\\" \\\\ dir\", \"--lr=0.5\", \"--nesterov\"]\n"
    "\t\t}]\n"
    "}\n";

static cJSON *config_json(void) {
    return cJSON_Parse("{\"net\": \"original\", \"net_given\": \"original\", \"steps\": 1000,"
                       " \"optimizer\": {\"name\": \"adam\", \"lr\": 1e-4, \"eps\": 1e-8},"
                       " \"init\": {\"scheme\": \"truncated_normal\"}}");
}

static void test_manifest_write(void) {
    char *argv0[] = {"train", "--stddev", "0.0001", NULL},
         *argv1[] = {"train", "--data-dir", "/data/a \"quoted\" \\ dir", "--lr=0.5", "--nesterov", NULL};
    ib_sweep_task tasks[2] = {{.index = 0, .repeat = 0, .stddev = 1e-4, .seed = 1, .dir = "runs/0000-w0.0001-r0",
                               .argv = argv0, .argc = 3},
                              {.index = 1, .repeat = 1, .stddev = 0.3, .seed = 2, .dir = "runs/0001-w0.3-r1",
                               .argv = argv1, .argc = 5}};
    ib_err e = {0};
    remove(at("sweep.json"));
    CHECK(ib_manifest_write_or_check(root, "quick", ULLONG_MAX, config_json(), tasks, 2, &e) == 0, "write: %s", e.msg);
    char *text = slurp("sweep.json");
    CHECK(text && !strcmp(text, manifest_text), "sweep.json bytes:\n%s", text ? text : "(unreadable)");
    free(text);

    ib_manifest m;
    CHECK(ib_manifest_read(root, &m, &e) == 0, "read back: %s", e.msg);
    CHECK(m.n == 2 && m.version == 1 && !strcmp(m.preset, "quick") && m.has_base_seed && m.base_seed == ULLONG_MAX,
          "header round-trips");
    CHECK(!strcmp(m.net, "original") && !strcmp(m.net_given, "original") && !strcmp(m.optimizer, "adam") &&
              !strcmp(m.init_scheme, "truncated_normal") && m.lr == 1e-4 && m.eps == 1e-8 && m.steps == 1000,
          "config fields round-trip");
    for (int i = 0; i < 2; i++) {
        const ib_sweep_task *a = &tasks[i], *b = &m.tasks[i];
        CHECK(b->index == a->index && b->repeat == a->repeat && b->stddev == a->stddev && b->has_seed &&
                  b->seed == a->seed && !strcmp(b->dir, a->dir) && b->argc == a->argc && !b->argv[b->argc],
              "task %d round-trips", i);
        for (int k = 0; k < a->argc; k++) CHECK(!strcmp(a->argv[k], b->argv[k]), "task %d argv[%d]", i, k);
    }
    ib_manifest_free(&m);

    /* the same tasks again: accepted, nothing rewritten; other tasks: refused; no JSON: refused */
    CHECK(ib_manifest_write_or_check(root, "other", 5, config_json(), tasks, 2, &e) == 0, "same tasks: %s", e.msg);
    text = slurp("sweep.json");
    CHECK(text && !strcmp(text, manifest_text), "a rerun leaves sweep.json as it was");
    free(text);
    tasks[1].stddev = 0.5;
    CHECK(ib_manifest_write_or_check(root, "quick", 5, config_json(), tasks, 2, &e) == IB_EXIT_USAGE &&
              strstr(e.msg, "different settings"),
          "other tasks refused: %s", e.msg);
    CHECK(ib_manifest_write_or_check(root, "quick", 5, config_json(), tasks, 1, &e) == IB_EXIT_USAGE,
          "fewer tasks refused");
    put("sweep.json", "{\"tasks\": [");
    CHECK(ib_manifest_write_or_check(root, "quick", 5, config_json(), tasks, 2, &e) == IB_EXIT_USAGE &&
              strstr(e.msg, "refusing to overwrite"),
          "a broken sweep.json is not overwritten: %s", e.msg);
    text = slurp("sweep.json");
    CHECK(text && !strcmp(text, "{\"tasks\": ["), "and stays as it was");
    free(text);

    CHECK(ib_sweep_dir_ok("runs/0000-w0.1-r0") && ib_sweep_dir_ok("r") && !ib_sweep_dir_ok(NULL) &&
              !ib_sweep_dir_ok("") && !ib_sweep_dir_ok("/r") && !ib_sweep_dir_ok("a/../b") && !ib_sweep_dir_ok(".."),
          "run directory names");
    char longest[IB_SWEEP_DIR_MAX + 1];
    memset(longest, 'd', sizeof longest);
    longest[IB_SWEEP_DIR_MAX - 1] = 0;
    CHECK(ib_sweep_dir_ok(longest), "%d bytes are a run directory name", IB_SWEEP_DIR_MAX - 1);
    longest[IB_SWEEP_DIR_MAX - 1] = 'd';
    longest[IB_SWEEP_DIR_MAX] = 0;
    CHECK(!ib_sweep_dir_ok(longest), "%d bytes are too many", IB_SWEEP_DIR_MAX);
}

/* ---- tasks/NNNN.json ----------------------------------------------------------------------- */

static void check_record_absent(const ib_task_record *r, const char *what) {
    CHECK(r->index == -1 && !r->dir && !r->status && r->state == -1 && !r->reason && r->exit_status == -1 &&
              !r->host && r->pid == 0 && !r->slurm_job && r->slurm_restart_count == -1 && !r->log && !r->started_at &&
              !r->finished_at,
          "%s: every field absent", what);
}

static void test_task_record_hostile(void) {
    ib_task_record r;
    ib_err e = {0};
    sub_dir("tasks");
    CHECK(ib_task_record_read(root, 3, &r, &e) == 0 && !r.present && !r.parsed, "no record: not present, no error");
    check_record_absent(&r, "missing");
    ib_task_record_free(&r);

    put("tasks/0003.json", "{\"index\": 3, \"status\": \"runn");
    CHECK(ib_task_record_read(root, 3, &r, &e) == 0 && r.present && !r.parsed, "truncated: present, not parsed");
    check_record_absent(&r, "truncated");
    ib_task_record_free(&r);

    put("tasks/0003.json", "");
    CHECK(ib_task_record_read(root, 3, &r, &e) == 0 && r.present && !r.parsed, "empty: present, not parsed");
    ib_task_record_free(&r);

    put("tasks/0003.json", "[\"running\", 3]");
    CHECK(ib_task_record_read(root, 3, &r, &e) == 0 && r.parsed, "an array: parsed");
    check_record_absent(&r, "an array");
    ib_task_record_free(&r);

    /* each field present but wrong: the record is refused, naming the file and the field */
    char host[300];
    memset(host, 'h', 256);
    host[256] = 0;
    char longtext[5000];
    memset(longtext, 'x', 4097);
    longtext[4097] = 0;
    char text[6000];
    struct {
        const char *fields, *field;
    } bad[] = {
        {"\"index\": \"3\"", "'index'"},
        {"\"index\": 4", "'index'"},
        {"\"index\": 1e300", "'index'"},
        {"\"dir\": \"../../etc\"", "'dir'"},
        {"\"dir\": \"runs/`id`\"", "'dir'"},
        {"\"dir\": 7", "'dir'"},
        {"\"status\": 7", "'status'"},
        {"\"status\": \"finished\"", "'status'"},
        {"\"status\": \"running\\n\"", "'status'"},
        {"\"status\": \"<script>alert(1)</script>\"", "'status'"},
        {"\"reason\": [\"x\"]", "'reason'"},
        {"\"reason\": \"LONG\"", "'reason'"},
        {"\"exit_status\": -3", "'exit_status'"},
        {"\"exit_status\": \"1\"", "'exit_status'"},
        {"\"host\": \"HOST\"", "'host'"},
        {"\"host\": \"node 7\"", "'host'"},
        {"\"host\": \"`id`\"", "'host'"},
        {"\"pid\": 1e300", "'pid'"},
        {"\"pid\": -5", "'pid'"},
        {"\"pid\": 2.5", "'pid'"},
        {"\"pid\": \"123\"", "'pid'"},
        {"\"pid\": 2147483648", "'pid'"},
        {"\"slurm_job\": \"123456789012345678901234567890123456789012345678_1\"", "'slurm_job'"},
        {"\"slurm_job\": \"1; scancel -u victim\"", "'slurm_job'"},
        {"\"slurm_job\": \"\"", "'slurm_job'"},
        {"\"slurm_restart_count\": 1e20", "'slurm_restart_count'"},
        {"\"log\": {}", "'log'"},
        {"\"log\": \"../../etc/passwd\"", "'log'"},
        {"\"log\": \"/etc/passwd\"", "'log'"},
        {"\"log\": \"runs/$(id)/train.log\"", "'log'"},
        {"\"started_at\": null", "'started_at'"},
        {"\"started_at\": \"<b>now</b>\"", "'started_at'"},
        {"\"finished_at\": false", "'finished_at'"},
        {"\"finished_at\": \"2026-01-02T03:04:05Z'; id; '\"", "'finished_at'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *f = bad[i].fields;
        char fields[5200];
        if (strstr(f, "HOST")) snprintf(fields, sizeof fields, "\"host\": \"%s\"", host);
        else if (strstr(f, "LONG")) snprintf(fields, sizeof fields, "\"reason\": \"%s\"", longtext);
        else snprintf(fields, sizeof fields, "%s", f);
        snprintf(text, sizeof text, "{\"index\": 3, \"status\": \"running\", %s}", fields);
        /* the field under test comes last: a JSON object keeps the last of two equal keys? no:
         * cJSON finds the first, so the status under test must be the only one */
        if (!strncmp(f, "\"status\"", 8) || !strncmp(f, "\"index\"", 7)) snprintf(text, sizeof text, "{%s}", fields);
        put("tasks/0003.json", text);
        int rc = ib_task_record_read(root, 3, &r, &e);
        CHECK(rc == IB_EXIT_USAGE && r.present && !r.parsed && strstr(e.msg, "0003.json") && strstr(e.msg, bad[i].field),
              "%.80s: rc %d '%s'", fields, rc, e.msg);
        check_record_absent(&r, fields);
        ib_task_record_free(&r);
    }
    /* a reason is free text: kept, its control characters as spaces */
    put("tasks/0003.json", "{\"status\": \"failed\", \"reason\": \"<script>\\u001b[2J\\nx\\u0007\"}");
    CHECK(ib_task_record_read(root, 3, &r, &e) == 0 && r.reason && !strcmp(r.reason, "<script> [2J x "),
          "reason kept as text: '%s'", r.reason ? r.reason : "(null)");
    ib_task_record_free(&r);
    /* the writer's "" for a missing dir or status, and pid 0, read as absent */
    put("tasks/0003.json", "{\"index\": 3, \"dir\": \"\", \"status\": \"\", \"host\": \"\", \"pid\": 0, \"started_at\": \"\"}");
    CHECK(ib_task_record_read(root, 3, &r, &e) == 0 && !r.dir && !r.status && r.state == -1 && r.pid == 0 && r.host &&
              !r.host[0] && r.started_at && !r.started_at[0],
          "empty strings: %s", e.msg);
    ib_task_record_free(&r);
    snprintf(text, sizeof text, "{\"status\": \"running\", \"pid\": NaN}");
    put("tasks/0003.json", text);
    CHECK(ib_task_record_read(root, 3, &r, &e) == 0 && r.present && !r.parsed, "NaN: no JSON");
    ib_task_record_free(&r);
    put("tasks/0003.json", "{\"status\": \"pending\"}");
    CHECK(ib_task_record_read(root, 3, &r, &e) == 0 && r.state == IB_RUN_PENDING, "pending");
    ib_task_record_free(&r);

    /* a record that cannot be read (a directory in its place) is an error, not a state */
    sub_dir("tasks/0004.json");
    CHECK(ib_task_record_read(root, 4, &r, &e) != 0 && r.present && strstr(e.msg, "0004.json"), "unreadable: %s",
          e.msg);
    ib_task_record_free(&r);
}

static const char record_text[] = "{\n"
                                   "\t\"index\":\t12345,\n"
                                   "\t\"dir\":\t\"runs/12345-w0.1-r0\",\n"
                                   "\t\"status\":\t\"failed\",\n"
                                   "\t\"reason\":\t\"killed by signal 9 (Killed)\",\n"
                                   "\t\"exit_status\":\t137,\n"
                                   "\t\"host\":\t\"node7\",\n"
                                   "\t\"pid\":\t2147483647,\n"
                                   "\t\"slurm_job\":\t\"991_4\",\n"
                                   "\t\"slurm_restart_count\":\t2,\n"
                                   "\t\"log\":\t\"runs/12345-w0.1-r0/train.log\",\n"
                                   "\t\"started_at\":\t\"2026-01-02T03:04:05Z\",\n"
                                   "\t\"finished_at\":\t\"2026-01-02T03:04:06Z\"\n"
                                   "}\n";

static void test_task_record_write(void) {
    ib_err e = {0};
    ib_task_record w = {.index = 12345,
                        .dir = "runs/12345-w0.1-r0",
                        .status = "failed",
                        .reason = "killed by signal 9 (Killed)",
                        .exit_status = 137,
                        .host = "node7",
                        .pid = INT_MAX,
                        .slurm_job = "991_4",
                        .slurm_restart_count = 2,
                        .log = "runs/12345-w0.1-r0/train.log",
                        .started_at = "2026-01-02T03:04:05Z",
                        .finished_at = "2026-01-02T03:04:06Z"};
    CHECK(ib_task_record_write(root, &w, &e) == 0, "write: %s", e.msg);
    char *text = slurp("tasks/12345.json");
    CHECK(text && !strcmp(text, record_text), "record bytes:\n%s", text ? text : "(unreadable)");
    free(text);
    ib_task_record r;
    CHECK(ib_task_record_read(root, 12345, &r, &e) == 0 && r.parsed, "read back");
    CHECK(r.index == w.index && !strcmp(r.dir, w.dir) && !strcmp(r.status, w.status) && r.state == IB_RUN_FAILED &&
              !strcmp(r.reason, w.reason) && r.exit_status == 137 && !strcmp(r.host, w.host) && r.pid == INT_MAX &&
              !strcmp(r.slurm_job, w.slurm_job) && r.slurm_restart_count == 2 && !strcmp(r.log, w.log) &&
              !strcmp(r.started_at, w.started_at) && !strcmp(r.finished_at, w.finished_at),
          "every field round-trips");
    ib_task_record_free(&r);

    /* a running task outside Slurm: the optional fields are left out */
    ib_task_record run = {.index = 7, .dir = "r", .status = "running", .exit_status = -1, .host = "h", .pid = 42,
                          .slurm_restart_count = -1, .started_at = "t0"};
    CHECK(ib_task_record_write(root, &run, &e) == 0, "write running: %s", e.msg);
    text = slurp("tasks/0007.json");
    CHECK(text && !strcmp(text, "{\n\t\"index\":\t7,\n\t\"dir\":\t\"r\",\n\t\"status\":\t\"running\",\n\t\"host\":\t\"h\",\n"
                                "\t\"pid\":\t42,\n\t\"started_at\":\t\"t0\"\n}\n"),
          "running record:\n%s", text ? text : "(unreadable)");
    free(text);
    CHECK(ib_task_record_read(root, 7, &r, &e) == 0 && r.state == IB_RUN_RUNNING && !r.reason && r.exit_status == -1 &&
              !r.slurm_job && r.slurm_restart_count == -1 && !r.log && !r.finished_at,
          "optional fields read back absent");
    ib_task_record_free(&r);
    char path[700];
    ib_task_record_path("/s", 7, path, sizeof path);
    CHECK(!strcmp(path, "/s/tasks/0007.json"), "record path %s", path);
}

/* ---- slurm/submissions.json ---------------------------------------------------------------- */

static int subs_from(const char *text, ib_submissions *s, ib_err *e) {
    put("slurm/submissions.json", text);
    return ib_submissions_read(root, s, e);
}

static void test_submissions_hostile(void) {
    ib_submissions s;
    ib_err e = {0};
    sub_dir("slurm");
    CHECK(ib_submissions_read(root, &s, &e) == 0 && !s.present && !s.parsed && !s.n_subs && !s.has_options,
          "no record: empty, no error");
    ib_submissions_free(&s);
    CHECK(subs_from("{\"submissions\": [{\"job_id\": \"1", &s, &e) == 0 && s.present && !s.parsed && !s.n_subs,
          "truncated: present, not parsed, empty");
    ib_submissions_free(&s);
    CHECK(subs_from("[{\"job_id\": \"1\"}]", &s, &e) == 0 && s.parsed && !s.n_subs && !s.has_options,
          "an array: parsed, nothing in it");
    ib_submissions_free(&s);
    CHECK(subs_from("{\"submissions\": \"1001\", \"collect_jobs\": 7, \"options\": [1]}", &s, &e) == 0 &&
              !s.n_subs && !s.n_collects && !s.has_options && !s.options_last,
          "mistyped arrays and options are absent");
    ib_submissions_free(&s);

    /* entries: only objects count; numbers out of range are absent, a bad string refuses the file
     * naming the field (its position in the array); more cases in tests/jobs/test_slurm_args.c */
    CHECK(subs_from("{\"submissions\": [1, \"x\", null, {\"job_id\": \"1001\", \"array_tasks\": 0},"
                    " {\"array_tasks\": 1e300}, {\"array_tasks\": \"2\"}, {\"array_tasks\": -1}],"
                    " \"collect_jobs\": [{}, 4]}",
                    &s, &e) == 0,
          "entries read: %s", e.msg);
    CHECK(s.n_subs == 4 && s.n_collects == 1 && s.options_last, "objects kept: %d, %d", s.n_subs, s.n_collects);
    for (int i = 0; i < s.n_subs; i++)
        CHECK(s.subs[i].array_tasks == -1 && !s.subs[i].list && !s.subs[i].submitted_at && !s.subs[i].sbatch,
              "submission %d: array_tasks absent", i);
    ib_submissions_free(&s);
    const char *bad_entries[][2] = {
        {"{\"submissions\": [1, \"x\", null, {\"job_id\": 1001}]}", "submissions[3].job_id: not a string"},
        {"{\"submissions\": [{\"job_id\": \"12a\"}]}", "submissions[0].job_id"},
        {"{\"submissions\": [{\"job_id\": \"\"}]}", "submissions[0].job_id"},
        {"{\"submissions\": [{\"job_id\": \"1234567890123456789012345678901234\"}]}", "submissions[0].job_id"},
        {"{\"submissions\": [{\"list\": \"../../etc/passwd\"}]}", "submissions[0].list"},
        {"{\"submissions\": [{\"list\": \"/etc/passwd\"}]}", "submissions[0].list"},
        {"{\"submissions\": [{\"list\": 7}]}", "submissions[0].list"},
        {"{\"submissions\": [{\"submitted_at\": 5}]}", "submissions[0].submitted_at"},
        {"{\"submissions\": [{\"sbatch\": [\"sbatch\", 3]}]}", "submissions[0].sbatch[1]"},
        {"{\"collect_jobs\": [{\"job_id\": \"-1\"}]}", "collect_jobs[0].job_id"},
        {"{\"collect_jobs\": [{\"dependency\": []}]}", "collect_jobs[0].dependency"},
    };
    for (size_t i = 0; i < sizeof bad_entries / sizeof bad_entries[0]; i++) {
        CHECK(subs_from(bad_entries[i][0], &s, &e) == IB_EXIT_USAGE && strstr(e.msg, "submissions.json") &&
                  strstr(e.msg, bad_entries[i][1]) && !s.n_subs && !s.n_collects,
              "%s: %s", bad_entries[i][0], e.msg);
        ib_submissions_free(&s);
    }

    /* options: out of their flags' ranges, mistyped, NaN-like */
    CHECK(subs_from("{\"options\": {\"mem\": \"4G\","
                    " \"cpus_per_task\": 0, \"array_throttle\": 1e300, \"tasks_per_job\": 0, \"signal_lead\": \"NaN\","
                    " \"max_array_size\": -1, \"sbatch_args\": [\"--qos=x\"]}}",
                    &s, &e) == 0 && s.has_options,
          "hostile options read");
    const ib_slurm_options *o = &s.options;
    CHECK(!o->partition && !o->account && !o->time && o->mem && !strcmp(o->mem, "4G"), "option strings");
    CHECK(o->cpus_per_task == -1 && o->array_throttle == -1 && o->tasks_per_job == -1 && o->signal_lead == -1 &&
              o->max_array_size == -1,
          "numbers out of range are absent (tasks_per_job 0 would divide by zero)");
    CHECK(o->n_sbatch_args == 1 && !strcmp(o->sbatch_args[0], "--qos=x"), "sbatch_args read");
    ib_submissions_free(&s);
    CHECK(subs_from("{\"options\": {\"cpus_per_task\": 4096.5, \"tasks_per_job\": 100001}}", &s, &e) == 0 &&
              s.options.cpus_per_task == -1 && s.options.tasks_per_job == -1,
          "fractional and too large: absent");
    ib_submissions_free(&s);
    /* a mistyped or non-option string is refused, never dropped: resume would submit without it */
    const char *bad_options[][2] = {
        {"{\"options\": {\"partition\": 5}}", "options.partition: not a string"},
        {"{\"options\": {\"account\": [\"a\"]}}", "options.account"},
        {"{\"options\": {\"time\": null}}", "options.time"},
        {"{\"options\": {\"sbatch_args\": [\"--qos=x\", \"no-dash\"]}}", "options.sbatch_args[1]"},
        {"{\"options\": {\"sbatch_args\": [1]}}", "options.sbatch_args[0]"},
    };
    for (size_t i = 0; i < sizeof bad_options / sizeof bad_options[0]; i++) {
        CHECK(subs_from(bad_options[i][0], &s, &e) == IB_EXIT_USAGE && strstr(e.msg, bad_options[i][1]) &&
                  !s.options.sbatch_args,
              "%s: %s", bad_options[i][0], e.msg);
        ib_submissions_free(&s);
    }

    /* 10^6 entries: sbatch_args or submissions over their bounds are refused */
    put_repeated("slurm/submissions.json", "{\"options\": {\"sbatch_args\": [", "\"--x=1\"", 1000000, "]}}");
    CHECK(ib_submissions_read(root, &s, &e) == IB_EXIT_USAGE && strstr(e.msg, "options.sbatch_args: more than 64"),
          "10^6 sbatch_args: %s", e.msg);
    ib_submissions_free(&s);
    put_repeated("slurm/submissions.json", "{\"options\": {}, \"submissions\": [", "{}", 1000000, "]}");
    CHECK(ib_submissions_read(root, &s, &e) == IB_EXIT_USAGE && strstr(e.msg, "more than 100000 submissions") &&
              strstr(e.msg, "submissions.json") && !s.n_subs && !s.has_options,
          "10^6 submissions: %s", e.msg);
    ib_submissions_free(&s);
    put_repeated("slurm/submissions.json", "{\"collect_jobs\": [", "{\"job_id\": \"1\"}", 1000000, "]}");
    CHECK(ib_submissions_read(root, &s, &e) == IB_EXIT_USAGE && strstr(e.msg, "collect jobs"), "10^6 collects: %s",
          e.msg);
    ib_submissions_free(&s);
    /* 10^6 entries that are no objects do not count against the bound, and are left out */
    put_repeated("slurm/submissions.json", "{\"submissions\": [", "0", 1000000, ", {\"job_id\": \"5\"}]}");
    CHECK(ib_submissions_read(root, &s, &e) == 0 && s.n_subs == 1 && !strcmp(s.subs[0].job_id, "5"),
          "10^6 non-objects: %s", e.msg);
    ib_submissions_free(&s);
    put_repeated("slurm/submissions.json", "{\"submissions\": [{\"job_id\": \"1\", \"sbatch\": [", "\"a\"", 1000000,
                 "]}]}");
    CHECK(ib_submissions_read(root, &s, &e) == IB_EXIT_USAGE && strstr(e.msg, "submissions[0].sbatch: more than"),
          "sbatch of 10^6: %s", e.msg);
    ib_submissions_free(&s);

    /* unreadable (a directory in its place) */
    remove(at("slurm/submissions.json"));
    sub_dir("slurm/submissions.json");
    CHECK(ib_submissions_read(root, &s, &e) != 0 && strstr(e.msg, "submissions.json"), "unreadable: %s", e.msg);
    ib_submissions_free(&s);
    rmdir(at("slurm/submissions.json"));
}

static const char subs_text[] =
    "{\n"
    "\t\"options\":\t{\n"
    "\t\t\"partition\":\t\"debug\",\n"
    "\t\t\"time\":\t\"0:10:00\",\n"
    "\t\t\"cpus_per_task\":\t2,\n"
    "\t\t\"array_throttle\":\t0,\n"
    "\t\t\"tasks_per_job\":\t3,\n"
    "\t\t\"signal_lead\":\t120,\n"
    "\t\t\"max_array_size\":\t0,\n"
    "\t\t\"sbatch_args\":\t[\"--qos=low\"]\n"
    "\t},\n"
    "\t\"submissions\":\t[{\n"
    "\t\t\t\"job_id\":\t\"1001\",\n"
    "\t\t\t\"list\":\t\"slurm/sub-001.tasks\",\n"
    "\t\t\t\"array_tasks\":\t2,\n"
    "\t\t\t\"submitted_at\":\t\"2026-01-02T03:04:05Z\",\n"
    "\t\t\t\"sbatch\":\t[\"sbatch\", \"--parsable\", \"--array=0-1\"]\n"
    "\t\t}],\n"
    "\t\"collect_jobs\":\t[{\n"
    "\t\t\t\"job_id\":\t\"1002\",\n"
    "\t\t\t\"dependency\":\t\"afterany:1001\"\n"
    "\t\t}]\n"
    "}\n";

static void test_submissions_write(void) {
    ib_err e = {0};
    ib_submissions s;
    memset(&s, 0, sizeof s);
    char *extra[] = {"--qos=low"}, *sb[] = {"sbatch", "--parsable", "--array=0-1"};
    ib_slurm_options o = {.partition = "debug", .time = "0:10:00", .cpus_per_task = 2, .tasks_per_job = 3,
                          .signal_lead = 120, .n_sbatch_args = 1, .sbatch_args = extra};
    ib_submissions_set_options(&s, &o);
    ib_submissions_add_array(&s, "1001", "slurm/sub-001.tasks", 2, "2026-01-02T03:04:05Z", sb, 3);
    ib_submissions_add_collect(&s, "1002", "afterany:1001");
    CHECK(ib_submissions_write(root, &s, &e) == 0, "write: %s", e.msg);
    ib_submissions_free(&s);
    char *text = slurp("slurm/submissions.json");
    CHECK(text && !strcmp(text, subs_text), "a new record (options first):\n%s", text ? text : "(unreadable)");
    free(text);

    CHECK(ib_submissions_read(root, &s, &e) == 0 && s.parsed && s.has_options && s.options_last, "read back");
    const ib_slurm_options *r = &s.options;
    CHECK(!strcmp(r->partition, "debug") && !r->account && !strcmp(r->time, "0:10:00") && !r->mem && !r->gres &&
              r->cpus_per_task == 2 && r->array_throttle == 0 && r->tasks_per_job == 3 && r->signal_lead == 120 &&
              r->max_array_size == 0 && r->n_sbatch_args == 1 && !strcmp(r->sbatch_args[0], "--qos=low"),
          "options round-trip");
    CHECK(s.n_subs == 1 && !strcmp(s.subs[0].job_id, "1001") && !strcmp(s.subs[0].list, "slurm/sub-001.tasks") &&
              s.subs[0].array_tasks == 2 && !strcmp(s.subs[0].submitted_at, "2026-01-02T03:04:05Z") &&
              s.subs[0].n_sbatch == 3 && !strcmp(s.subs[0].sbatch[2], "--array=0-1"),
          "submission round-trips");
    CHECK(s.n_collects == 1 && !strcmp(s.collects[0].job_id, "1002") && !strcmp(s.collects[0].dependency, "afterany:1001"),
          "collect job round-trips");
    /* a later submission: its options replace the old ones (here a copy of the record's own, which
     * must survive the replacement) and go after the arrays, as they always did */
    ib_slurm_options same = s.options;
    ib_submissions_set_options(&s, &same);
    CHECK(ib_submissions_write(root, &s, &e) == 0, "rewrite: %s", e.msg);
    ib_submissions_free(&s);
    text = slurp("slurm/submissions.json");
    const char *opt = text ? strstr(text, "\t\"options\"") : NULL, *col = text ? strstr(text, "\t\"collect_jobs\"") : NULL;
    CHECK(opt && col && opt > col && !strncmp(text, "{\n\t\"submissions\"", 16) &&
              strstr(opt, "\"partition\":\t\"debug\"") && strstr(opt, "[\"--qos=low\"]"),
          "a rewritten record: submissions, collect_jobs, options:\n%s", text ? text : "(unreadable)");
    /* and that layout reads back and rewrites to the same bytes */
    CHECK(ib_submissions_read(root, &s, &e) == 0 && s.options_last, "reread");
    CHECK(ib_submissions_write(root, &s, &e) == 0, "rewrite 2");
    ib_submissions_free(&s);
    char *text2 = slurp("slurm/submissions.json");
    CHECK(text && text2 && !strcmp(text, text2), "stable when rewritten");
    free(text);
    free(text2);
}

int main(void) {
    if (test_tmpdir_make(root, sizeof root, "test_sweepdir")) return 1;
    test_manifest_hostile();
    test_manifest_write();
    test_task_record_hostile();
    test_task_record_write();
    test_submissions_hostile();
    test_submissions_write();
    int left = ib_remove_stale_temps(root, NULL);
    left += ib_remove_stale_temps(at("tasks"), NULL);
    left += ib_remove_stale_temps(at("slurm"), NULL);
    CHECK(left == 0, "%d temporary files were left", left);
    test_tmpdir_remove(root);
    return check_finish("sweepdir");
}
