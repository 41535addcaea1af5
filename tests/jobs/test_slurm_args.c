/* The Slurm executor's inputs and command lines, without a cluster: the one sbatch-argument rule
 * (--sbatch-arg and slurm/submissions.json alike), the other fields of submissions.json, '%' in
 * the output patterns, a dependency list of 1000 array jobs, the task list reader, and the job
 * liveness probe against a stand-in squeue. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "executor_slurm.h"
#include "executor_slurm_argv.h"
#include "slurm.h"
#include "strbuf.h"
#include "submissions.h"
#include "tmpdir.h"

static char root[512];

static const char *at(const char *rel) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return path;
}

static void put(const char *rel, const char *text) {
    FILE *f = fopen(at(rel), "wb");
    if (!f) {
        perror(at(rel));
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* ---- the sbatch-argument rule --------------------------------------------------------------- */

static void test_sbatch_arg_rule(void) {
    char why[600];
    const char *good[] = {"--qos=long", "--constraint=a100&nvlink", "--mail-user=a@b.example", "--exclusive=user",
                          "--comment=two words", "--nice=10", "--gpus-per-task=1", "--wait-all-nodes=1",
                          "--exclude=node1", "--mem-per-cpu=2G"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(ib_sbatch_arg_check(good[i], why, sizeof why) == 0, "'%s' refused: %s", good[i], why);

    const struct {
        const char *arg, *why_has;
    } bad[] = {
        {"--qos", "--sbatch-arg=--qos=VALUE"}, /* its value would be the next argument: the script */
        {"-p x", "--name=value"},
        {"-px", "--name=value"},
        {"--x=a\nb", "control characters"},
        {"--x=a\tb", "control characters"},
        {"bare", "--name=value"},
        {"/tmp/planted.sh", "--name=value"},    /* a script path in the script's place */
        {"--qos=", "1 to"},
        {"--Qos=x", "--name=value"},
        {"---qos=x", "--name=value"},
        {"--=x", "--name=value"},
        {"--q os=x", "--name=value"},
        {"--output=/home/u/.bashrc", "--output"},
        {"--out=/home/u/.bashrc", "prefix"}, /* sbatch takes an unambiguous prefix for the option */
        {"--export=ALL,LD_PRELOAD=/tmp/x.so", "--export"},
        {"--exp=LD_PRELOAD=/tmp/x.so", "prefix"},
        {"--wrap=touch /tmp/x", "--wrap"},
        {"--chdir=/", "--chdir"},
        {"--array=0-1000", "--array"},
        {"--dependency=afterok:1", "--dependency"},
        {"--uid=0", "--uid"},
        {"--error=/x", "--error"},
        {"--input=/x", "--input"},
        {"--get-user-env=L", "--get-user-env"},
        {"--wait=1", "--wait"},
        {"--parsable=x", "--parsable"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = 0;
        CHECK(ib_sbatch_arg_check(bad[i].arg, why, sizeof why) != 0 && strstr(why, bad[i].why_has),
              "'%s' accepted or unclear: %s", bad[i].arg, why);
    }
    char long_value[IB_SBATCH_ARG_MAX + 16];
    snprintf(long_value, sizeof long_value, "--comment=%0*d", IB_SBATCH_ARG_MAX + 1, 0);
    CHECK(ib_sbatch_arg_check(long_value, why, sizeof why) != 0, "a value of %d bytes accepted", IB_SBATCH_ARG_MAX + 1);
    /* a hostile value is shown with its control bytes escaped, never raw */
    CHECK(ib_sbatch_arg_check("\x1b[31mx", why, sizeof why) != 0 && !strchr(why, '\x1b') && strstr(why, "\\x1b"),
          "escape sequence shown raw: %s", why);

    /* the command line goes through the same rule */
    char *argv[] = {"sweep", "--out", "d", "--sbatch-arg", "--qos=long", "--sbatch-arg=--comment=x", NULL};
    int argc = 6;
    slurm_opts o;
    sweep_slurm_opts_defaults(&o);
    ib_err e = {0};
    CHECK(sweep_take_sbatch_args(&argc, argv, &o, &e) == 0 && argc == 3 && o.n_extra == 2 &&
              !strcmp(o.extra[0], "--qos=long") && !strcmp(o.extra[1], "--comment=x"),
          "good --sbatch-arg taken out: %s", e.msg);
    const char *refused[] = {"--sbatch-arg=--qos", "--sbatch-arg=-p", "--sbatch-arg=/tmp/x.sh", "--sbatch-arg=--out=/x"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char *a[] = {"sweep", (char *)refused[i], NULL};
        argc = 2;
        sweep_slurm_opts_defaults(&o);
        CHECK(sweep_take_sbatch_args(&argc, a, &o, &e) == IB_EXIT_USAGE && strstr(e.msg, "--sbatch-arg"),
              "%s: not refused with exit 2 (%s)", refused[i], e.msg);
    }
    char *qos[] = {"sweep", "--sbatch-arg=--qos", NULL};
    argc = 2;
    sweep_slurm_opts_defaults(&o);
    CHECK(sweep_take_sbatch_args(&argc, qos, &o, &e) == IB_EXIT_USAGE && strstr(e.msg, "--sbatch-arg=--qos=VALUE"),
          "--sbatch-arg=--qos: no hint: %s", e.msg);

    /* option values: the same rule for flags and record */
    const char *ok_opts[][2] = {{"partition", "gpu,cpu"}, {"account", "proj-1.a"}, {"time", "1-00:00:00"},
                                {"time", "UNLIMITED"},    {"mem", "4G"},            {"mem", "4000"},
                                {"gres", "gpu:a100:2"}};
    for (size_t i = 0; i < sizeof ok_opts / sizeof ok_opts[0]; i++)
        CHECK(ib_slurm_option_check(ok_opts[i][0], ok_opts[i][1], why, sizeof why) == 0, "--%s=%s refused: %s",
              ok_opts[i][0], ok_opts[i][1], why);
    const char *bad_opts[][2] = {{"partition", "a b"},    {"partition", "x --wrap=y"}, {"account", "a;b"},
                                 {"time", "10 minutes"},  {"mem", "4GB;x"},            {"mem", "G"},
                                 {"gres", "gpu:1\n"},     {"partition", ""},           {"time", "$(id)"}};
    for (size_t i = 0; i < sizeof bad_opts / sizeof bad_opts[0]; i++)
        CHECK(ib_slurm_option_check(bad_opts[i][0], bad_opts[i][1], why, sizeof why) != 0 &&
                  strstr(why, bad_opts[i][0]),
              "--%s='%s' accepted", bad_opts[i][0], bad_opts[i][1]);
    sweep_slurm_opts_defaults(&o);
    o.partition = "a b";
    CHECK(sweep_slurm_check(&o, "/tmp/s", &e) == IB_EXIT_USAGE && strstr(e.msg, "partition"), "--partition 'a b': %s",
          e.msg);
}

/* ---- slurm/submissions.json ----------------------------------------------------------------- */

static const char good_record[] =
    "{\"submissions\": [{\"job_id\": \"1001\", \"list\": \"slurm/sub-001.tasks\", \"array_tasks\": 2,"
    " \"submitted_at\": \"2026-01-02T03:04:05Z\", \"sbatch\": [\"sbatch\", \"--parsable\"]}],"
    " \"collect_jobs\": [{\"job_id\": \"1002\", \"dependency\": \"afterany:1001\"}],"
    " \"options\": {\"partition\": \"debug\", \"time\": \"0:10:00\", \"mem\": \"4G\", \"gres\": \"gpu:1\","
    " \"account\": \"p1\", \"cpus_per_task\": 2, \"array_throttle\": 0, \"tasks_per_job\": 1, \"signal_lead\": 120,"
    " \"max_array_size\": 0, \"sbatch_args\": [\"--qos=low\"]}}";

/* The good record with one substring replaced. */
static void put_record_with(const char *from, const char *to) {
    char text[4096];
    const char *p = strstr(good_record, from);
    if (!p) {
        fprintf(stderr, "test bug: '%s' not in the record\n", from);
        exit(1);
    }
    snprintf(text, sizeof text, "%.*s%s%s", (int)(p - good_record), good_record, to, p + strlen(from));
    put("slurm/submissions.json", text);
}

static void test_submissions_record(void) {
    ib_submissions s;
    ib_err e = {0};
    put("slurm/submissions.json", good_record);
    CHECK(ib_submissions_read(root, &s, &e) == 0 && s.n_subs == 1 && s.n_collects == 1 &&
              s.options.n_sbatch_args == 1 && !strcmp(s.options.sbatch_args[0], "--qos=low") &&
              !strcmp(s.options.gres, "gpu:1"),
          "the good record reads: %s", e.msg);
    ib_submissions_free(&s);

    const struct {
        const char *from, *to, *field;
    } planted[] = {
        /* a planted sbatch argument in each form that used to reach sbatch's command line */
        {"[\"--qos=low\"]", "[\"--qos=low\", \"/tmp/planted.sh\"]", "options.sbatch_args[1]"},
        {"[\"--qos=low\"]", "[\"--qos\"]", "options.sbatch_args[0]"},
        {"[\"--qos=low\"]", "[\"-o/tmp/x\"]", "options.sbatch_args[0]"},
        {"[\"--qos=low\"]", "[\"--export=ALL,LD_PRELOAD=/tmp/x.so\"]", "options.sbatch_args[0]"},
        {"[\"--qos=low\"]", "[\"--qos=low\\nx\"]", "options.sbatch_args[0]"},
        {"[\"--qos=low\"]", "[\"--qos=low\", 7]", "options.sbatch_args[1]"},
        {"[\"--qos=low\"]", "\"--qos=low\"", "options.sbatch_args"},
        {"\"debug\"", "\"debug --wrap=x\"", "options.partition"},
        {"\"debug\"", "5", "options.partition"},
        {"\"p1\"", "\"p1;id\"", "options.account"},
        {"\"0:10:00\"", "\"$(id)\"", "options.time"},
        {"\"4G\"", "\"4G \"", "options.mem"},
        {"\"gpu:1\"", "\"gpu:1'\"", "options.gres"},
        {"\"1001\", \"list\"", "\"12a\", \"list\"", "submissions[0].job_id"},
        {"\"1001\", \"list\"", "1001, \"list\"", "submissions[0].job_id"},
        {"\"slurm/sub-001.tasks\"", "\"../../etc/passwd\"", "submissions[0].list"},
        {"\"slurm/sub-001.tasks\"", "\"/etc/passwd\"", "submissions[0].list"},
        {"\"slurm/sub-001.tasks\"", "\"slurm/sub-001.tasks/../../x\"", "submissions[0].list"},
        {"\"2026-01-02T03:04:05Z\"", "\"<script>\"", "submissions[0].submitted_at"},
        {"\"--parsable\"]", "\"--parsable\\u001b[2J\"]", "submissions[0].sbatch[1]"},
        {"\"1002\"", "\"1002_\"", "collect_jobs[0].job_id"},
        {"\"afterany:1001\"", "\"afterany:1001,afterok:1\"", "collect_jobs[0].dependency"},
        {"\"afterany:1001\"", "\"afterany\"", "collect_jobs[0].dependency"},
    };
    for (size_t i = 0; i < sizeof planted / sizeof planted[0]; i++) {
        put_record_with(planted[i].from, planted[i].to);
        memset(&e, 0, sizeof e);
        int rc = ib_submissions_read(root, &s, &e);
        CHECK(rc == IB_EXIT_USAGE && strstr(e.msg, "slurm/submissions.json") && strstr(e.msg, planted[i].field),
              "%s = %s: rc %d, '%s'", planted[i].field, planted[i].to, rc, e.msg);
        CHECK(!s.n_subs && !s.n_collects && !s.options.sbatch_args && !s.options.partition,
              "%s: nothing of a refused record is kept", planted[i].field);
        CHECK(!strchr(e.msg, '\n') && !strchr(e.msg, '\x1b'), "%s: the message holds a control character",
              planted[i].field);
        ib_submissions_free(&s);
    }
    /* an array job id as a lock claim names it is a job id too */
    CHECK(ib_slurm_job_id_ok("123") && ib_slurm_job_id_ok("123_4") && !ib_slurm_job_id_ok("123_") &&
              !ib_slurm_job_id_ok("_4") && !ib_slurm_job_id_ok("1-2") && !ib_slurm_job_id_ok("") &&
              !ib_slurm_job_id_ok("12345678901234567890123456789012"),
          "job id rule");
    CHECK(ib_slurm_task_list_name_ok("slurm/sub-001.tasks") && ib_slurm_task_list_name_ok("slurm/sub-1000.tasks") &&
              !ib_slurm_task_list_name_ok("slurm/sub-01.tasks") && !ib_slurm_task_list_name_ok("slurm/sub-001.tasks.x") &&
              !ib_slurm_task_list_name_ok("./slurm/sub-001.tasks"),
          "task list name rule");
}

/* ---- command lines: '%' in patterns, the script's place, 1000 dependencies ----------------- */

static int find_arg(const sbatch_argv *v, const char *prefix) {
    for (int i = 0; i < v->k; i++)
        if (!strncmp(v->a[i], prefix, strlen(prefix))) return i;
    return -1;
}

static void test_sbatch_argv(void) {
    sweep sw = {0};
    snprintf(sw.dir, sizeof sw.dir, "/scratch/u/100%%A%%a%%j-%%%%x/s");
    slurm_opts o;
    sweep_slurm_opts_defaults(&o);
    o.partition = "gpu";
    o.extra[o.n_extra++] = "--qos=long";
    o.extra[o.n_extra++] = "--comment=last";
    sbatch_argv v;
    sweep_array_sbatch_argv(&v, &sw, &o, 5, "/scratch/u/100%A%a%j-%%x/s/slurm/sub-001.tasks");
    int out = find_arg(&v, "--output=");
    CHECK(out > 0 && !strcmp(v.a[out], "--output=/scratch/u/100%%A%%a%%j-%%%%x/s/slurm/logs/%A_%a.out"),
          "array --output: %s", out > 0 ? v.a[out] : "(none)");
    CHECK(v.k >= 3 && !strcmp(v.a[v.k - 2], "/scratch/u/100%A%a%j-%%x/s/slurm/array.sbatch") &&
              !strcmp(v.a[v.k - 1], "/scratch/u/100%A%a%j-%%x/s/slurm/sub-001.tasks") && !v.a[v.k],
          "the job script and its list come last, unescaped: %s %s", v.k >= 2 ? v.a[v.k - 2] : "", v.a[v.k - 1]);
    int chdir = find_arg(&v, "--chdir=");
    CHECK(chdir > 0 && !strcmp(v.a[chdir], "--chdir=/scratch/u/100%A%a%j-%%x/s"), "--chdir is no pattern: %s",
          chdir > 0 ? v.a[chdir] : "(none)");
    /* every option before the script is one "--name=value" word: none can take the script as its value */
    for (int i = 1; i < v.k - 2; i++)
        CHECK(!strncmp(v.a[i], "--", 2) && (strchr(v.a[i], '=') || !strcmp(v.a[i], "--parsable")),
              "argument %d '%s' could take the next one as its value", i, v.a[i]);
    CHECK(!strcmp(v.a[v.k - 3], "--comment=last"), "the user's options just before the script: %s", v.a[v.k - 3]);
    sbatch_argv_free(&v);

    sweep_collect_sbatch_argv(&v, &sw, &o, "afterany:1");
    out = find_arg(&v, "--output=");
    CHECK(out > 0 && !strcmp(v.a[out], "--output=/scratch/u/100%%A%%a%%j-%%%%x/s/slurm/logs/collect-%j.out"),
          "collect --output: %s", out > 0 ? v.a[out] : "(none)");
    CHECK(!strcmp(v.a[v.k - 1], "/scratch/u/100%A%a%j-%%x/s/slurm/collect.sbatch"), "collect script last: %s",
          v.a[v.k - 1]);
    sbatch_argv_free(&v);

    ib_err e = {0};
    CHECK(sweep_slurm_check(&o, "/scratch/a\\b", &e) == IB_EXIT_USAGE && strstr(e.msg, "backslash"),
          "a sweep directory with a backslash: %s", e.msg);
    CHECK(sweep_slurm_check(&o, "/scratch/a\nb", &e) == IB_EXIT_USAGE, "a sweep directory with a newline");
    CHECK(sweep_slurm_check(&o, sw.dir, &e) == 0, "'%%' in the directory is fine: %s", e.msg);

    /* 1000 array jobs of 8-digit ids: ~9000 bytes, more than the old fixed buffers held (4096 and 8300) */
    ib_strbuf deps = {0}, want = {0};
    ib_strbuf_append(&deps, "afterany");
    ib_strbuf_append(&want, "--dependency=afterany");
    for (int i = 0; i < 1000; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", 40000000 + i);
        sweep_dependency_add(&deps, id);
        ib_strbuf_appendf(&want, ":%s", id);
    }
    sweep_collect_sbatch_argv(&v, &sw, &o, ib_strbuf_str(&deps));
    int dep = find_arg(&v, "--dependency=");
    CHECK(dep > 0 && strlen(v.a[dep]) == want.len && !strcmp(v.a[dep], ib_strbuf_str(&want)),
          "--dependency with 1000 ids: %zu bytes, expected %zu", dep > 0 ? strlen(v.a[dep]) : 0, want.len);
    CHECK(dep > 0 && strstr(v.a[dep], ":40000999") && v.a[dep][strlen(v.a[dep]) - 1] == '9', "the last id is there");
    sbatch_argv_free(&v);
    /* and it is recorded and read back whole */
    ib_submissions s = {0};
    ib_submissions_add_collect(&s, "4001000", ib_strbuf_str(&deps));
    CHECK(ib_submissions_write(root, &s, &e) == 0, "write: %s", e.msg);
    ib_submissions_free(&s);
    CHECK(ib_submissions_read(root, &s, &e) == 0 && s.n_collects == 1 && s.collects[0].dependency &&
              !strcmp(s.collects[0].dependency, ib_strbuf_str(&deps)),
          "the dependency of 1000 ids read back whole: %s", e.msg);
    ib_submissions_free(&s);
    ib_strbuf_free(&deps);
    ib_strbuf_free(&want);
}

/* ---- task lists ----------------------------------------------------------------------------- */

static void test_task_lists(void) {
    ib_err e = {0};
    int *t = NULL, k = 0;
    const int todo[] = {0, 2, 3, 5, 7, 8, 9};
    CHECK(ib_tasklist_write(at("slurm/sub-001.tasks"), todo, 7, 3, &e) == 0, "write: %s", e.msg);
    FILE *f = fopen(at("slurm/sub-001.tasks"), "r");
    char text[128] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    CHECK(!strcmp(text, "0,2,3\n5,7,8\n9\n"), "the list as written: '%s'", text);
    CHECK(ib_tasklist_read(at("slurm/sub-001.tasks"), 10, 1, &t, &k, &e) == 0 && k == 3 && t[0] == 5 && t[1] == 7 &&
              t[2] == 8,
          "line 2: %s", e.msg);
    free(t);
    CHECK(ib_tasklist_read(at("slurm/sub-001.tasks"), 10, 2, &t, &k, &e) == 0 && k == 1 && t[0] == 9, "line 3: %s",
          e.msg);
    free(t);
    CHECK(ib_tasklist_read(at("slurm/sub-001.tasks"), 10, -1, &t, &k, &e) == 0 && !t && !k, "whole file: %s", e.msg);
    CHECK(ib_tasklist_read(at("slurm/sub-001.tasks"), 10, 3, &t, &k, &e) == IB_EXIT_USAGE && !t &&
              strstr(e.msg, "sub-001.tasks") && strstr(e.msg, "array index 3"),
          "no line 4: %s", e.msg);
    CHECK(ib_tasklist_read(at("slurm/sub-001.tasks"), 9, 0, &t, &k, &e) == IB_EXIT_USAGE && !t &&
              strstr(e.msg, "line 3") && strstr(e.msg, "task 9"),
          "a task the manifest lacks (checked on every line, not only the one run): %s", e.msg);

    const struct {
        const char *text, *line;
    } bad[] = {
        {"1,2\n\n3\n", "line 2"},      {"01\n", "line 1"},       {"1,,2\n", "line 1"},
        {"-1\n", "line 1"},            {"1,2,\n", "line 1"},     {",1\n", "line 1"},
        {"1\n1\n", "line 2"},          {"1\n2", "line 2"},       {"1 \n", "line 1"},
        {"1\r\n", "line 1"},           {"4\n", "line 1"},        {"99999999999999999999\n", "line 1"},
        {"2\n0x1\n", "line 2"},        {"1\n$(touch x)\n", "line 2"}, {"", "no line 1"},
        {"1\n2\n3\n\x1b[2J\n", "line 4"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&e, 0, sizeof e);
        int rc = ib_tasklist_parse(bad[i].text, strlen(bad[i].text), "slurm/sub-007.tasks", 4, 0, &t, &k, &e);
        CHECK(rc == IB_EXIT_USAGE && !t && !k && strstr(e.msg, "slurm/sub-007.tasks") && strstr(e.msg, bad[i].line) &&
                  !strchr(e.msg, '\x1b') && !strchr(e.msg, '\n'),
              "list %zu: rc %d, '%s'", i, rc, e.msg);
    }
    /* more bytes than a list of the sweep's tasks can hold: refused before it is read */
    FILE *big = fopen(at("slurm/sub-002.tasks"), "w");
    for (int i = 0; big && i < 200; i++) fputs("1\n", big);
    if (big) fclose(big);
    CHECK(ib_tasklist_read(at("slurm/sub-002.tasks"), 10, 0, &t, &k, &e) == IB_EXIT_USAGE && strstr(e.msg, "bytes"),
          "an oversized list: %s", e.msg);
    CHECK(ib_tasklist_read(at("slurm/none.tasks"), 10, 0, &t, &k, &e) == IB_EXIT_USAGE && strstr(e.msg, "none.tasks"),
          "a missing list: %s", e.msg);
    CHECK(ib_tasklist_read(at("slurm"), 10, 0, &t, &k, &e) == IB_EXIT_USAGE, "a directory as a list: %s", e.msg);
    /* a FIFO in the list's place is refused at once, not waited on (the job would hang) */
    CHECK(mkfifo(at("slurm/sub-003.tasks"), 0644) == 0, "mkfifo");
    CHECK(ib_tasklist_read(at("slurm/sub-003.tasks"), 10, 0, &t, &k, &e) == IB_EXIT_USAGE &&
              strstr(e.msg, "not a regular file"),
          "a FIFO as a list: %s", e.msg);
}

/* ---- the job liveness probe, against a stand-in squeue ------------------------------------- */

static void test_job_probe(void) {
    char bin[600], path_env[1300], saved_path[4096];
    snprintf(bin, sizeof bin, "%s/bin", root);
    mkdir(bin, 0755);
    snprintf(saved_path, sizeof saved_path, "%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    /* lists 123_4 and 77; says what squeue says of a purged id for 999; fails for 555; logs its argv */
    put("bin/squeue", "#!/bin/sh\n"
                      "printf '%s\\n' \"$@\" > \"$(dirname \"$0\")/args\"\n"
                      "case \"$2\" in\n"
                      "  --jobs=123_4) echo 123_4 ;;\n"
                      "  --jobs=77) echo 77 ;;\n"
                      "  --jobs=999) echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1 ;;\n"
                      "  --jobs=555) echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1 ;;\n"
                      "esac\n"
                      "exit 0\n");
    chmod(at("bin/squeue"), 0755);
    snprintf(path_env, sizeof path_env, "%s:/usr/bin:/bin", bin);
    setenv("PATH", path_env, 1);
    CHECK(ib_slurm_job_alive("123_4") == 1, "a listed array element is alive");
    FILE *f = fopen(at("bin/args"), "r");
    char args[256] = "";
    size_t n = f ? fread(args, 1, sizeof args - 1, f) : 0;
    if (f) fclose(f);
    args[n] = 0;
    CHECK(!strcmp(args, "-h\n--jobs=123_4\n-o\n%i\n"), "squeue's argv: '%s'", args);
    CHECK(ib_slurm_job_alive("77") == 1, "a listed job is alive");
    CHECK(ib_slurm_job_alive("123_5") == 0, "not listed: gone");
    CHECK(ib_slurm_job_alive("999") == 0, "'Invalid job id specified': gone");
    CHECK(ib_slurm_job_alive("555") == -1, "squeue failing otherwise: cannot tell");
    remove(at("bin/args"));
    CHECK(ib_slurm_job_alive("1;touch x") == -1 && ib_slurm_job_alive("") == -1 && ib_slurm_job_alive(NULL) == -1 &&
              ib_slurm_job_alive("-1") == -1 && ib_slurm_job_alive("12 34") == -1,
          "an id that is no job id: cannot tell");
    CHECK(access(at("bin/args"), F_OK) != 0, "squeue was not even run for a bad id");
    remove(at("bin/squeue"));
    snprintf(path_env, sizeof path_env, "%s", bin); /* no squeue anywhere */
    setenv("PATH", path_env, 1);
    CHECK(ib_slurm_job_alive("77") == -1, "no squeue: cannot tell");
    setenv("PATH", saved_path, 1);
}

int main(void) {
    if (test_tmpdir_make(root, sizeof root, "ib-test-slurm-args")) return 1;
    mkdir(at("slurm"), 0755);
    test_sbatch_arg_rule();
    test_submissions_record();
    test_sbatch_argv();
    test_task_lists();
    test_job_probe();
    test_tmpdir_remove(root);
    return check_finish("test_slurm_args");
}
