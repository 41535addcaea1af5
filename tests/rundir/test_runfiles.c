/* A run's CSV files read back (src/rundir/runfiles.h) and the field checks every src/rundir
 * reader uses (names.h). Each reader is fed hostile content (quotes, backticks, $(), newlines,
 * <script>, commas in names, huge numbers, NaN, negative and decreasing steps, 40-character
 * names, broken CSV quoting) and must refuse the file with IB_EXIT_USAGE and a message naming
 * the file, the line and the field; files written by initbench's own writers (ib_curve_write,
 * src/model/stats.c's recorder, the train argv of src/train/config.c) must be accepted as they
 * are, value for value. */
#define _XOPEN_SOURCE 700
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "cli.h"
#include "config.h"
#include "names.h"
#include "rundir.h"
#include "runfiles.h"
#include "stats.h"
#include "sweepdir.h"
#include "tmpdir.h"

static char root[512];

static void put(const char *name, const char *text) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

/* ---- names.h ----------------------------------------------------------------------------------- */

static void test_names(void) {
    const char *good[] = {"conv1", "fc2", "relu1", "adam-pt", "truncated_normal", "a", "a.b", "...",
                          "0123456789012345678901234567890" /* 31 */};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECK(ib_name_ok(good[i]), "'%s' is a name", good[i]);
    const char *bad[] = {"",  ".", "..", "a b", "a,b", "a'b", "a\"b", "a`b", "$(id)", "<script>", "a\nb", "a/b",
                         "a\\b", "01234567890123456789012345678901" /* 32 */,
                         "0123456789012345678901234567890123456789" /* 40 */, "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!ib_name_ok(bad[i]), "'%s' is no name", bad[i]);
    CHECK(!ib_name_ok(NULL) && ib_name_ok_n("conv1,x", 5) && !ib_name_ok_n("conv1,x", 7), "lengths");

    CHECK(ib_relpath_ok("runs/0000-w0.0001-r0", 63) && ib_relpath_ok("runs/0001-w1e-05-r0/train.log", 4095) &&
              ib_relpath_ok("tasks/0003.log", 63) && ib_relpath_ok("r", 63),
          "what the sweep writes is a relative path");
    const char *badrel[] = {"",       "/etc",  "../x",    "a/../b", "a/..",     "a//b",   "a/",   "./a",   "-rf",
                            "a/-rf",  "a b",   "a`id`",   "$(id)",  "a%j",      "a\nb",   "a,b",  "a'b",   ".",
                            "a..b"};
    for (size_t i = 0; i < sizeof badrel / sizeof *badrel; i++)
        CHECK(!ib_relpath_ok(badrel[i], 63), "'%s' is no path inside a sweep", badrel[i]);
    CHECK(!ib_relpath_ok("abcdef", 5), "over the bound");

    CHECK(ib_abspath_ok("/data/mnist") && ib_abspath_ok("/") && ib_abspath_ok("/home/a user/data"), "absolute paths");
    CHECK(!ib_abspath_ok("data") && !ib_abspath_ok("/a/../b") && !ib_abspath_ok("/a/./b") && !ib_abspath_ok("/a//b") &&
              !ib_abspath_ok("/a\nb") && !ib_abspath_ok("/a/.."),
          "no relative, dotted or control-character paths");

    CHECK(ib_spec_text_ok("conv5x5:32,relu,maxpool2,conv5x5:64,relu,maxpool2,fc:1024,relu,dropout:0.5,fc:10", 0) &&
              ib_spec_text_ok("maxpool3/2,fc:10", 0) && ib_spec_text_ok("original-tanh", 0),
          "specs");
    CHECK(!ib_spec_text_ok("@/etc/passwd", 0) && !ib_spec_text_ok("fc:10;id", 0) && !ib_spec_text_ok("fc:10 ", 0) &&
              ib_spec_text_ok("fc:10, relu", 1) && !ib_spec_text_ok("FC:10", 0) && !ib_spec_text_ok("", 0) &&
              !ib_spec_text_ok("fc:10\n", 1) && !ib_spec_text_ok("<b>", 1),
          "spec characters only");
    CHECK(ib_time_text_ok("2026-01-02T03:04:05Z") && ib_time_text_ok("2026-01-02T03:04:05+01:00") &&
              !ib_time_text_ok("<b>") && !ib_time_text_ok("") && !ib_time_text_ok("2026 01"),
          "times");
    CHECK(ib_hostname_ok("node-7.cluster") && ib_hostname_ok("") && !ib_hostname_ok("a b") && !ib_hostname_ok("`id`"),
          "host names");
    CHECK(ib_job_id_ok("991_4") && ib_job_id_ok("1234+1") && !ib_job_id_ok("") && !ib_job_id_ok("1;id") &&
              !ib_job_id_ok("123456789012345678901234567890123456789012345678"),
          "job ids");
    CHECK(ib_event_list_ok("default") && ib_event_list_ok("PAPI_TOT_CYC,perf::TASK-CLOCK") && !ib_event_list_ok("a b") &&
              !ib_event_list_ok("$(id)"),
          "event lists");

    char text[] = "line one\nline\ttwo\r\x1b[31m\x7f";
    CHECK(ib_text_clean(text) && !strcmp(text, "line one line two  [31m "), "control characters become spaces: '%s'",
          text);
    char *longtext = malloc(IB_TEXT_MAX + 2);
    memset(longtext, 'x', IB_TEXT_MAX + 1);
    longtext[IB_TEXT_MAX + 1] = 0;
    CHECK(!ib_text_clean(longtext), "text over the bound");
    longtext[IB_TEXT_MAX] = 0;
    CHECK(ib_text_clean(longtext), "text at the bound");
    free(longtext);
}

static void test_numbers(void) {
    struct {
        const char *s;
        double v;
    } good[] = {{"0", 0},           {"1", 1},         {"-2.5", -2.5},         {"+3", 3},           {".5", 0.5},
                {"5.", 5},          {"1e-08", 1e-8},  {"1.23456789e-05", 1.23456789e-05}, {"0.912500", 0.9125},
                {"12.250", 12.25},  {"2.3E+2", 230},  {"0.312345679", 0.312345679},
                {"12345678901234567890123", 12345678901234567890123.0}, {"1e-320", 1e-320}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        double v = NAN;
        CHECK(ib_parse_real(good[i].s, strlen(good[i].s), &v) && v == good[i].v, "'%s' -> %.17g", good[i].s, v);
    }
    const char *bad[] = {"", "-", ".", "e5", "1e", "1e+", "0x10", "1,5", " 1", "1 ", "--1", "1.2.3", "nan", "inf",
                         "1e999", "-1e999", "12abc", "$(id)", "1_000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double v;
        CHECK(!ib_parse_real(bad[i], strlen(bad[i]), &v), "'%s' is no number", bad[i]);
    }
    double v;
    CHECK(ib_parse_csv_number("", 0, &v) && isnan(v), "empty: NAN");
    CHECK(ib_parse_csv_number("nan", 3, &v) && isnan(v) && ib_parse_csv_number("-nan", 4, &v) && isnan(v) &&
              ib_parse_csv_number("NaN", 3, &v) && isnan(v),
          "nan as printf and Python write it");
    CHECK(ib_parse_csv_number("inf", 3, &v) && v == INFINITY && ib_parse_csv_number("-inf", 4, &v) && v == -INFINITY &&
              ib_parse_csv_number("-Infinity", 9, &v) && v == -INFINITY,
          "infinities");
    CHECK(!ib_parse_csv_number("nana", 4, &v) && !ib_parse_csv_number("<script>", 8, &v) &&
              !ib_parse_csv_number("infx", 4, &v),
          "no other words");

    unsigned long long u;
    long long st;
    CHECK(ib_parse_u64("18446744073709551615", 20, &u) && u == ULLONG_MAX, "2^64 - 1");
    CHECK(!ib_parse_u64("18446744073709551616", 20, &u) && !ib_parse_u64("-1", 2, &u) && !ib_parse_u64("", 0, &u) &&
              !ib_parse_u64("1e3", 3, &u) && !ib_parse_u64("99999999999999999999", 20, &u),
          "u64 out of range or no digits");
    CHECK(ib_parse_step("0", 1, &st) && st == 0 && ib_parse_step("999999999999999", 15, &st) && st == 999999999999999LL,
          "steps");
    CHECK(!ib_parse_step("1000000000000000", 16, &st) && !ib_parse_step("-5", 2, &st) && !ib_parse_step("nan", 3, &st) &&
              !ib_parse_step("1.0", 3, &st) && !ib_parse_step("", 0, &st) && !ib_parse_step("+1", 2, &st),
          "steps out of range or not whole");
}

/* ---- curve.csv --------------------------------------------------------------------------------- */

/* text as curve.csv must be refused, the message naming the file, line `line` (0: no line) and
 * holding `want`. */
static void bad_curve(const char *text, int line, const char *want) {
    put("curve.csv", text);
    ib_curve c;
    ib_err e = {0};
    int rc = ib_curve_read(root, &c, &e);
    char at[32];
    snprintf(at, sizeof at, "line %d:", line);
    CHECK(rc == IB_EXIT_USAGE && c.present && !c.n && !c.step && strstr(e.msg, "curve.csv") && strstr(e.msg, want) &&
              (!line || strstr(e.msg, at)),
          "curve.csv %.60s...: rc %d '%s' (want line %d, '%s')", text, rc, e.msg, line, want);
    ib_curve_free(&c);
}

#define CURVE_HEAD IB_CURVE_HEADER "\n"

static void test_curve_hostile(void) {
    ib_curve c;
    ib_err e = {0};
    CHECK(ib_curve_read(root, &c, &e) == 0 && !c.present && !c.n, "no curve.csv: not present, no error");
    ib_curve_free(&c);

    bad_curve(CURVE_HEAD "0,0.1,2.3,2.3,0.1,0.5\n-5,0.2,2,2,0.2,1\n", 3, "field 'step'");
    bad_curve(CURVE_HEAD "nan,0.1,2.3,2.3,0.1,0.5\n", 2, "field 'step'");
    bad_curve(CURVE_HEAD "NaN,0.1,2.3,2.3,0.1,0.5\n", 2, "field 'step'");
    bad_curve(CURVE_HEAD ",0.1,2.3,2.3,0.1,0.5\n", 2, "field 'step'");
    bad_curve(CURVE_HEAD "1e3,0.1,2.3,2.3,0.1,0.5\n", 2, "field 'step'");
    bad_curve(CURVE_HEAD "99999999999999999999,0.1,2.3,2.3,0.1,0.5\n", 2, "field 'step'");
    bad_curve(CURVE_HEAD "1000000000000000,0.1,2.3,2.3,0.1,0.5\n", 2, "field 'step'");
    bad_curve(CURVE_HEAD "abc,0.1,2.3,2.3,0.1,0.5\n", 2, "field 'step'");
    bad_curve(CURVE_HEAD "100,0.1,2.3,2.3,0.1,0.5\n50,0.2,2,2,0.2,1\n", 3, "never decrease");
    bad_curve(CURVE_HEAD "0,<script>,2.3,2.3,0.1,0.5\n", 2, "field 'test_accuracy'");
    bad_curve(CURVE_HEAD "0,0.1,$(id),2.3,0.1,0.5\n", 2, "field 'test_loss'");
    bad_curve(CURVE_HEAD "0,0.1,2.3,1e999,0.1,0.5\n", 2, "field 'train_loss'");
    bad_curve(CURVE_HEAD "0,0.1,2.3,2.3,0x10,0.5\n", 2, "field 'train_accuracy'");
    bad_curve(CURVE_HEAD "0,0.1,2.3,2.3,0.1,`id`\n", 2, "field 'elapsed_s'");
    bad_curve(CURVE_HEAD "0,0.1,2.3,2.3,0.1,0\"5\n", 2, "a quote inside an unquoted field");
    bad_curve(CURVE_HEAD "0,0.1,2.3,2.3,0.1,0.5,7\n", 2, "7 fields, the header has 6");
    bad_curve(CURVE_HEAD "0,0.1,2.3\n", 2, "3 fields, the header has 6");
    bad_curve(CURVE_HEAD "0,0.1,2.3,2.3,0.1,\"0.5\n", 2, "not closed");
    bad_curve(CURVE_HEAD "0,0.1,2.3,2.3,0.1,\"0.5\"x\n", 2, "after a closing quote");
    bad_curve(CURVE_HEAD "0,0.1,2.3,2.3,0.1,0.5\r0,1,1,1,1,1\n", 2, "carriage return");
    bad_curve("step,test_loss\n0,1\n", 1, "no column 'test_accuracy'");
    bad_curve("test_accuracy\n0.5\n", 1, "no column 'step'");
    bad_curve("step,test_accuracy,step\n0,1,0\n", 1, "column 'step' twice");
    bad_curve("step,test_accuracy,<script>\n0,1,0\n", 1, "a column name must be a name");
    bad_curve("", 1, "no header");
    put("curve.csv", CURVE_HEAD "0,0.1,2.3,2.3,0.1,0.5\n");
    {
        /* a NUL byte: no text file */
        char path[700];
        snprintf(path, sizeof path, "%s/curve.csv", root);
        FILE *f = fopen(path, "ab");
        fputc(0, f);
        fclose(f);
        CHECK(ib_curve_read(root, &c, &e) == IB_EXIT_USAGE && strstr(e.msg, "NUL"), "NUL: %s", e.msg);
        ib_curve_free(&c);
    }

    /* what RFC 4180 allows is read as it means: quoted fields, "" in them, CRLF, an empty line,
     * other column orders and unknown columns; a quoted comma stays in its field */
    put("curve.csv", "\"step\",test_accuracy,note\r\n\"0\",\"0.5\",\"a \"\"quoted\"\", comma\"\r\n\r\n100,nan,\"two\nlines\"\r\n");
    CHECK(ib_curve_read(root, &c, &e) == 0, "RFC 4180 file: %s", e.msg);
    CHECK(c.n == 2 && c.step[0] == 0 && c.step[1] == 100 && c.test_accuracy[0] == 0.5 && isnan(c.test_accuracy[1]) &&
              isnan(c.test_loss[0]) && isnan(c.elapsed_s[1]),
          "values of the RFC 4180 file (n %d)", c.n);
    ib_curve_free(&c);
    /* the line of a refusal counts the newlines inside quoted fields */
    bad_curve("step,test_accuracy,note\n0,0.5,\"a\nb\nc\"\n1,x,y\n", 5, "field 'test_accuracy'");
    /* a header-only file: no rows; equal steps are allowed (a last evaluation at a multiple) */
    put("curve.csv", CURVE_HEAD);
    CHECK(ib_curve_read(root, &c, &e) == 0 && c.present && c.n == 0, "header only");
    ib_curve_free(&c);
    put("curve.csv", CURVE_HEAD "100,0.5,1,1,0.5,1\n100,0.5,1,1,0.5,1");
    CHECK(ib_curve_read(root, &c, &e) == 0 && c.n == 2, "equal steps, no final newline: %s", e.msg);
    ib_curve_free(&c);
}

static void test_curve_roundtrip(void) {
    ib_curve_row rows[4] = {{0, 0.1, 2.3025851, 2.31, 0.08, 0.5},
                            {100, 0.9125, 0.31234567891, 0.4, 0.875, 12.25},
                            {200, NAN, INFINITY, -INFINITY, NAN, 25},
                            {1000000000, 0.99, 1e-30, 123456789.0, 1, 99999.5}};
    ib_err e = {0};
    CHECK(ib_curve_write(root, rows, 4, &e) == 0, "write: %s", e.msg);
    ib_curve c;
    CHECK(ib_curve_read(root, &c, &e) == 0 && c.present && c.n == 4, "what ib_curve_write writes reads back: %s",
          e.msg);
    for (int i = 0; i < c.n && i < 4; i++) {
        const ib_curve_row *w = &rows[i];
        /* as printed: %.6f / %.9g / %.3f */
        double want[5] = {round(w->test_accuracy * 1e6) / 1e6, w->test_loss, w->train_loss,
                          round(w->train_accuracy * 1e6) / 1e6, round(w->elapsed_s * 1e3) / 1e3};
        double got[5] = {c.test_accuracy[i], c.test_loss[i], c.train_loss[i], c.train_accuracy[i], c.elapsed_s[i]};
        CHECK(c.step[i] == w->step, "row %d step", i);
        for (int k = 0; k < 5; k++) {
            if (isnan(want[k]) || isinf(want[k])) {
                CHECK(isnan(want[k]) ? isnan(got[k]) : got[k] == want[k], "row %d column %d: %g vs %g", i, k, got[k],
                      want[k]);
            } else {
                CHECK_REL(got[k], want[k], 1e-8, 1e-300);
            }
        }
    }
    ib_curve_free(&c);
}

/* ---- stats.csv --------------------------------------------------------------------------------- */

#define STATS_HEAD                                                                                                 \
    "step,layer,tensor,n,l2,rms,mean,std,min,max,frac_zero,frac_saturated,frac_nonfinite,update_ratio,sqrt_v_rms," \
    "frac_sqrt_v_below_eps\n"
#define ROW_REST ",10,1,1,0,1,-1,1,0,0,0,,,\n" /* after "step,layer,tensor" */

static void bad_stats(const char *text, int line, const char *want) {
    put("stats.csv", text);
    ib_stats s;
    ib_err e = {0};
    int rc = ib_stats_read(root, &s, &e);
    char at[32];
    snprintf(at, sizeof at, "line %d:", line);
    CHECK(rc == IB_EXIT_USAGE && s.present && !s.n && !s.rows && !s.n_layers && strstr(e.msg, "stats.csv") &&
              strstr(e.msg, want) && (!line || strstr(e.msg, at)),
          "stats.csv %.200s: rc %d '%s' (want line %d, '%s')", text, rc, e.msg, line, want);
    ib_stats_free(&s);
}

/* stats.csv of one good row, then one row whose layer field is `layer` (as it stands in the file). */
static void bad_layer(const char *layer) {
    char text[1024];
    snprintf(text, sizeof text, STATS_HEAD "0,conv1,weight" ROW_REST "0,%s,weight" ROW_REST, layer);
    bad_stats(text, 3, "field 'layer'");
}

static void test_stats_hostile(void) {
    ib_stats s;
    ib_err e = {0};
    CHECK(ib_stats_read(root, &s, &e) == 0 && !s.present && !s.n, "no stats.csv: not present, no error");
    ib_stats_free(&s);

    /* layer names: everything that is no [A-Za-z0-9_.-]{1,31} */
    bad_layer("conv1'`touch /tmp/ib-pwned`'");
    bad_layer("\"conv1' $(touch /tmp/ib-pwned) '\"");
    bad_layer("<script>alert(1)</script>");
    bad_layer("<img src=x onerror=alert(1)>");
    bad_layer("\"conv,1\"");          /* a quoted comma: one field, and no name */
    bad_layer("\"conv\n1\"");         /* a quoted newline likewise */
    bad_layer("\"conv\"\"1\"");       /* a quoted quote */
    bad_layer("0123456789012345678901234567890123456789"); /* 40 characters */
    bad_layer("01234567890123456789012345678901");         /* 32 */
    bad_layer("");
    bad_layer("..");
    bad_layer("conv 1");
    bad_layer("\"\"");
    /* an unquoted comma makes one more field: refused by the count, not read as a new column */
    bad_stats(STATS_HEAD "0,conv,1,weight" ROW_REST, 2, "17 fields, the header has 16");
    /* an unquoted newline makes a new row: refused by its count */
    bad_stats(STATS_HEAD "0,conv\n1,weight" ROW_REST, 2, "fields, the header has 16");
    bad_stats(STATS_HEAD "0,conv1,`id`" ROW_REST, 2, "field 'tensor'");
    bad_stats(STATS_HEAD "0,conv1,weights" ROW_REST, 2, "field 'tensor'");
    bad_stats(STATS_HEAD "0,conv1,<b>" ROW_REST, 2, "field 'tensor'");
    bad_stats(STATS_HEAD "0,conv1,\"weight,\"" ROW_REST, 2, "field 'tensor'");
    bad_stats(STATS_HEAD "-1,conv1,weight" ROW_REST, 2, "field 'step'");
    bad_stats(STATS_HEAD "NaN,conv1,weight" ROW_REST, 2, "field 'step'");
    bad_stats(STATS_HEAD "1e300,conv1,weight" ROW_REST, 2, "field 'step'");
    bad_stats(STATS_HEAD "18446744073709551616,conv1,weight" ROW_REST, 2, "field 'step'");
    bad_stats(STATS_HEAD "\"$(id)\",conv1,weight" ROW_REST, 2, "field 'step'");
    bad_stats(STATS_HEAD "100,conv1,weight" ROW_REST "0,conv1,bias" ROW_REST, 3, "never decrease");
    bad_stats(STATS_HEAD "0,conv1,weight,10,1e999,1,0,1,-1,1,0,0,0,,,\n", 2, "field 'l2'");
    bad_stats(STATS_HEAD "0,conv1,weight,10,1,<script>,0,1,-1,1,0,0,0,,,\n", 2, "field 'rms'");
    bad_stats(STATS_HEAD "0,conv1,weight,ten,1,1,0,1,-1,1,0,0,0,,,\n", 2, "field 'n'");
    bad_stats(STATS_HEAD "0,conv1,weight,10,1,1,0,1,-1,1,0,0,0,,,1;id\n", 2, "field 'frac_sqrt_v_below_eps'");
    bad_stats("step,tensor\n0,weight\n", 1, "no column 'layer'");
    bad_stats("step,layer,tensor,l2,l2\n0,a,weight,1,1\n", 1, "column 'l2' twice");
    bad_stats("step,layer,tensor,\"a b\"\n0,a,weight,1\n", 1, "a column name must be a name");
    {
        /* more than 64 layers */
        size_t cap = 1 << 16, len = 0;
        char *text = malloc(cap);
        len += (size_t)snprintf(text + len, cap - len, STATS_HEAD);
        for (int l = 0; l < 65; l++) len += (size_t)snprintf(text + len, cap - len, "0,layer%d,act" ROW_REST, l);
        bad_stats(text, 66, "more than 64 different layers");
        free(text);
    }

    /* accepted: quoted fields as RFC 4180 has them, and columns the reader does not know */
    put("stats.csv", "step,layer,tensor,l2,extra\n\"0\",\"conv1\",\"weight\",\"1.5\",\"a, \"\"b\"\"\"\n"
                     "0,fc2,act_grad,-2,\n10,conv1,update,nan,x\n");
    CHECK(ib_stats_read(root, &s, &e) == 0 && s.n == 3 && s.n_layers == 2, "quoted and unknown: %s", e.msg);
    if (s.n == 3) {
        CHECK(!strcmp(s.layer[0], "conv1") && !strcmp(s.layer[1], "fc2"), "layers in order of appearance");
        CHECK(s.rows[0].step == 0 && s.rows[0].layer == 0 && s.rows[0].tensor == IB_TENSOR_WEIGHT &&
                  s.rows[0].v[IB_SCOL_L2] == 1.5 && isnan(s.rows[0].v[IB_SCOL_RMS]),
              "row 0");
        CHECK(s.rows[1].layer == 1 && s.rows[1].tensor == IB_TENSOR_ACT_GRAD && s.rows[1].v[IB_SCOL_L2] == -2, "row 1");
        CHECK(s.rows[2].step == 10 && s.rows[2].tensor == IB_TENSOR_UPDATE && isnan(s.rows[2].v[IB_SCOL_L2]), "row 2");
    }
    ib_stats_free(&s);
    for (int t = 0; t < IB_STATS_NTENSORS; t++) { /* every tensor name reads as itself */
        char text[512];
        snprintf(text, sizeof text, STATS_HEAD "0,x,%s" ROW_REST, ib_stats_tensor_names[t]);
        put("stats.csv", text);
        CHECK(ib_stats_read(root, &s, &e) == 0 && s.n == 1 && s.rows[0].tensor == t, "tensor %s: %s",
              ib_stats_tensor_names[t], e.msg);
        ib_stats_free(&s);
    }
}

/* What src/model/stats.c writes, from the ref backend's reductions, reads back value for value. */
static void test_stats_roundtrip(void) {
    ib_backend *be = ib_backend_ref_create(1);
    ib_stats_recorder rec;
    ib_err e = {0};
    CHECK(ib_stats_open(&rec, root, be, 0, &e) == 0, "recorder: %s", e.msg);
    float x[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-20f, -7.0f}, bad[3] = {NAN, 1.0f, INFINITY}, v[6] = {1e-9f, 1e-8f, 1, 2, 3, 4};
    const char *layers[] = {"conv1", "conv2", "fc1", "fc2"};
    ib_tensor_stats want[2][4][IB_STATS_NTENSORS];
    for (int k = 0; k < 2; k++) {
        rec.step = k * 100;
        for (int l = 0; l < 4; l++)
            for (int t = 0; t < IB_STATS_NTENSORS; t++) {
                const char *tn = ib_stats_tensor_names[t];
                if (t == IB_TENSOR_UPDATE || t == IB_TENSOR_BIAS_UPDATE)
                    ib_stats_record_update(&rec, layers[l], tn, x, t == IB_TENSOR_UPDATE ? v : NULL, 6, 2.0, 5e-9);
                else
                    want[k][l][t] = ib_stats_record(&rec, layers[l], tn, l == 3 && t == IB_TENSOR_ACT ? bad : x,
                                                    l == 3 && t == IB_TENSOR_ACT ? 3 : 6, 1, t == IB_TENSOR_ACT);
            }
    }
    /* a tensor with no finite value: mean, std, min, max are nan */
    rec.step = 200;
    float allbad[2] = {NAN, NAN};
    ib_stats_record(&rec, "fc2", "preact", allbad, 2, 0, 0);
    CHECK(ib_stats_flush(&rec, &e) == 0, "flush: %s", e.msg);
    ib_stats_close(&rec);
    be->destroy(be);

    ib_stats s;
    CHECK(ib_stats_read(root, &s, &e) == 0 && s.present, "what the recorder writes reads back: %s", e.msg);
    CHECK(s.n == 2 * 4 * IB_STATS_NTENSORS + 1 && s.n_layers == 4, "rows %d, layers %d", s.n, s.n_layers);
    for (int l = 0; l < s.n_layers && l < 4; l++) CHECK(!strcmp(s.layer[l], layers[l]), "layer %d: %s", l, s.layer[l]);
    for (int i = 0; i < s.n && i < 2 * 4 * IB_STATS_NTENSORS; i++) {
        const ib_stats_row *r = &s.rows[i];
        int k = i / (4 * IB_STATS_NTENSORS), l = i / IB_STATS_NTENSORS % 4, t = i % IB_STATS_NTENSORS;
        CHECK(r->step == k * 100 && r->layer == l && r->tensor == t, "row %d: step %lld layer %d tensor %d", i, r->step,
              r->layer, r->tensor);
        if (t == IB_TENSOR_UPDATE) {
            CHECK(!isnan(r->v[IB_SCOL_UPDATE_RATIO]) && !isnan(r->v[IB_SCOL_SQRT_V_RMS]), "row %d: the optimiser columns",
                  i);
            CHECK_REL(r->v[IB_SCOL_FRAC_SQRT_V_BELOW_EPS], 1.0 / 6, 1e-5, 1e-300);
            continue;
        }
        if (t == IB_TENSOR_BIAS_UPDATE) {
            CHECK(!isnan(r->v[IB_SCOL_UPDATE_RATIO]) && isnan(r->v[IB_SCOL_SQRT_V_RMS]), "row %d: no v", i);
            continue;
        }
        const ib_tensor_stats *w = &want[k][l][t];
        double n = w->n, total = w->n + w->nonfinite, mean = w->sum / n;
        CHECK(r->v[IB_SCOL_N] == total, "row %d n", i);
        CHECK_REL(r->v[IB_SCOL_L2], sqrt(w->sum_sq), 1e-8, 1e-300);
        CHECK_REL(r->v[IB_SCOL_MEAN], mean, 1e-8, 1e-300);
        CHECK(r->v[IB_SCOL_MIN] == w->min && r->v[IB_SCOL_MAX] == w->max, "row %d min/max", i);
        CHECK_REL(r->v[IB_SCOL_FRAC_NONFINITE], w->nonfinite / total, 1e-5, 1e-300);
        CHECK(isnan(r->v[IB_SCOL_UPDATE_RATIO]), "row %d: no update ratio", i);
    }
    if (s.n == 2 * 4 * IB_STATS_NTENSORS + 1) {
        const ib_stats_row *r = &s.rows[s.n - 1];
        CHECK(r->step == 200 && isnan(r->v[IB_SCOL_MEAN]) && isnan(r->v[IB_SCOL_MIN]) && r->v[IB_SCOL_FRAC_NONFINITE] == 1,
              "an all-NaN tensor: nan fields, all non-finite");
    }
    ib_stats_free(&s);
}

/* ---- the train argv of sweep.json against the real flag table and writer ----------------------- */

static void test_argv_table(void) {
    ib_train_config cfg;
    ib_train_config_defaults(&cfg);
    ib_flag flags[IB_TRAIN_MAX_FLAGS];
    int n = ib_train_flags(&cfg, flags);
    char why[256];
    for (int i = 0; i < n; i++) {
        const ib_flag *f = &flags[i];
        const char *value = "1";
        char choice[64];
        switch (f->type) {
        case IB_FLAG_DOUBLE: value = "0.5"; break;
        case IB_FLAG_CHOICE:
            snprintf(choice, sizeof choice, "%.*s", (int)strcspn(f->choices, "|"), f->choices);
            value = choice;
            break;
        case IB_FLAG_STRING:
            value = !strcmp(f->name, "net") ? "fc:10" : !strcmp(f->name, "data-dir") ? "/data" : "default";
            break;
        default: break;
        }
        char flag[64], joined[128];
        snprintf(flag, sizeof flag, "--%s", f->name);
        snprintf(joined, sizeof joined, "--%s=%s", f->name, value);
        char *sep[] = {"train", flag, (char *)value}, *one[] = {"train", joined}, *bare[] = {"train", flag};
        /* how a task runs on its machine, never what it computes: not in a task's argv */
        int runner_sets = !strcmp(f->name, "threads") || !strcmp(f->name, "progress") || !strcmp(f->name, "update");
        if (f->type == IB_FLAG_BOOL) {
            CHECK(!ib_sweep_argv_why(bare, 2, why, sizeof why), "--%s accepted: %s", f->name, why);
            CHECK(ib_sweep_argv_why(one, 2, why, sizeof why) != NULL, "--%s=1 refused", f->name);
        } else if (runner_sets) {
            CHECK(ib_sweep_argv_why(sep, 3, why, sizeof why) && strstr(why, "not a train flag"), "--%s refused", f->name);
        } else {
            CHECK(!ib_sweep_argv_why(sep, 3, why, sizeof why), "--%s %s accepted: %s", f->name, value, why);
            CHECK(!ib_sweep_argv_why(one, 2, why, sizeof why), "%s accepted: %s", joined, why);
        }
    }
}

/* Configs as `initbench sweep` resolves them: their argv passes, and sweep.json of them reads back. */
static void test_argv_writer(void) {
    struct {
        char *argv[12];
        int argc;
    } cases[] = {
        {{"train"}, 1},
        {{"train", "--optimizer", "momentum", "--nesterov", "--save-init", "--data-dir", "/opt/data sets/mnist"}, 7},
        {{"train", "--init", "variance_scaling", "--init-mode", "fan_avg", "--init-distribution", "uniform",
          "--init-scale", "2", "--optimizer", "rmsprop"},
         11},
        {{"train", "--init", "orthogonal", "--init-scale", "1.5", "--net", "original-tanh", "--papi-events", "none"}, 9},
        {{"train", "--net", "conv3x3:8, relu, maxpool2/1, fc:10", "--optimizer", "adam-pt", "--seed",
          "18446744073709551615", "--bias-init", "-0.25"},
         9},
    };
    ib_sweep_task tasks[sizeof cases / sizeof *cases];
    char why[256];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        ib_train_config cfg;
        ib_train_config_defaults(&cfg);
        ib_flag flags[IB_TRAIN_MAX_FLAGS];
        int n = ib_train_flags(&cfg, flags), npos;
        char *pos[1];
        ib_err e = {0};
        CHECK(ib_flags_parse(flags, n, cases[k].argc, cases[k].argv, 1, pos, 0, &npos, &e) == 0 &&
                  ib_train_config_resolve(&cfg, flags, n, &e) == 0,
              "case %zu resolves: %s", k, e.msg);
        int argc;
        char **argv = ib_train_config_to_argv(&cfg, &argc);
        const char *bad = ib_sweep_argv_why(argv, argc, why, sizeof why);
        CHECK(!bad, "case %zu: the writer's argv is refused: %s", k, bad);
        tasks[k] = (ib_sweep_task){.index = (int)k, .repeat = 0, .stddev = 0.1, .seed = cfg.seed, .argv = argv, .argc = argc};
        snprintf(tasks[k].dir, sizeof tasks[k].dir, "runs/%04zu-w0.1-r0", k);
        if (k == sizeof cases / sizeof *cases - 1) {
            char sw[700];
            snprintf(sw, sizeof sw, "%s/sw", root);
            CHECK(ib_mkdir_p(sw, &e) == 0, "mkdir");
            CHECK(ib_manifest_write_or_check(sw, "quick", cfg.seed, ib_train_config_to_json(&cfg), tasks,
                                             (int)k + 1, &e) == 0,
                  "write: %s", e.msg);
            ib_manifest m;
            CHECK(ib_manifest_read(sw, &m, &e) == 0 && m.n == (int)k + 1, "sweep.json of the writer reads back: %s",
                  e.msg);
            CHECK(m.net && !strcmp(m.net, cfg.spec_text) && m.net_given && !strcmp(m.net_given, cfg.net) &&
                      m.optimizer && !strcmp(m.optimizer, "adam-pt"),
                  "header");
            for (int t = 0; t < m.n; t++) {
                CHECK(m.tasks[t].argc == tasks[t].argc, "task %d argc", t);
                for (int a = 0; a < m.tasks[t].argc && a < tasks[t].argc; a++)
                    CHECK(!strcmp(m.tasks[t].argv[a], tasks[t].argv[a]), "task %d argv[%d]", t, a);
            }
            ib_manifest_free(&m);
        }
    }
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) ib_argv_free(tasks[k].argv, tasks[k].argc);
}

int main(void) {
    if (test_tmpdir_make(root, sizeof root, "test_runfiles")) return 1;
    test_names();
    test_numbers();
    test_curve_hostile();
    test_curve_roundtrip();
    test_stats_hostile();
    test_stats_roundtrip();
    test_argv_table();
    test_argv_writer();
    CHECK(ib_remove_stale_temps(root, NULL) == 0, "a temporary file was left");
    test_tmpdir_remove(root);
    return check_finish("runfiles");
}
