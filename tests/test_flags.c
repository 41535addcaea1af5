/* Every flag of the train table (shared by `train` and `sweep`) against bad values derived from
 * its own type and bounds: each must be refused with exit code 2 and a message naming the flag. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config.h"

static void expect_bad(ib_flag *f, const char *value, const char *why) {
    ib_err err = {0};
    int rc = ib_flag_set_value(f, value, &err);
    char name[80];
    snprintf(name, sizeof name, "--%s", f->name);
    CHECK(rc == IB_EXIT_USAGE && strstr(err.msg, name), "--%s '%s' (%s): rc %d, message '%s'", f->name, value, why,
          rc, err.msg);
    if (rc == IB_EXIT_USAGE) printf("  --%-20s %-24s -> %s\n", f->name, value[0] ? value : "(empty)", err.msg);
}

int main(void) {
    ib_train_config cfg;
    ib_train_config_defaults(&cfg);
    ib_flag flags[IB_TRAIN_MAX_FLAGS];
    int n = ib_train_flags(&cfg, flags);
    int bool_flags = 0;
    for (int i = 0; i < n; i++) {
        ib_flag *f = &flags[i];
        char v[64];
        switch (f->type) {
        case IB_FLAG_INT:
        case IB_FLAG_LONG:
            expect_bad(f, "", "empty");
            expect_bad(f, "abc", "not a number");
            expect_bad(f, "1.5", "not whole");
            expect_bad(f, "nan", "NaN");
            expect_bad(f, "99999999999999999999999", "overflow");
            snprintf(v, sizeof v, "%.0f", f->min - 1);
            expect_bad(f, v, "below the minimum");
            snprintf(v, sizeof v, "%.0f", f->max + 1);
            expect_bad(f, v, "above the maximum");
            break;
        case IB_FLAG_U64:
            expect_bad(f, "", "empty");
            expect_bad(f, "-1", "negative");
            expect_bad(f, "1e3", "not whole");
            expect_bad(f, "18446744073709551616", "2^64");
            break;
        case IB_FLAG_DOUBLE:
        case IB_FLAG_DOUBLE_LIST:
            expect_bad(f, "", "empty");
            expect_bad(f, "abc", "not a number");
            expect_bad(f, "nan", "NaN");
            expect_bad(f, "inf", "infinite");
            expect_bad(f, "-inf", "infinite");
            expect_bad(f, "1e999", "overflow");
            snprintf(v, sizeof v, "%.17g", f->open_bounds & IB_MIN_OPEN ? f->min : f->min - fabs(f->min) - 1);
            expect_bad(f, v, "at or below the minimum");
            snprintf(v, sizeof v, "%.17g", f->open_bounds & IB_MAX_OPEN ? f->max : f->max * 2 + 1);
            expect_bad(f, v, "at or above the maximum");
            break;
        case IB_FLAG_CHOICE:
            expect_bad(f, "", "empty");
            expect_bad(f, "no-such-choice", "unknown name");
            break;
        case IB_FLAG_STRING: expect_bad(f, "", "empty"); break;
        case IB_FLAG_BOOL: bool_flags++; break;
        }
    }
    /* a boolean takes no value, and no flag may be given twice */
    char *argv1[] = {"train", "--save-init=yes"};
    char *argv2[] = {"train", "--steps", "5", "--steps", "6"};
    char *argv3[] = {"train", "--steps"};
    char *pos[1];
    int npos;
    struct { char **argv; int argc; const char *want; } cli[] = {
        {argv1, 2, "--save-init takes no value"}, {argv2, 5, "--steps given more than once"}, {argv3, 2, "--steps needs a value"}};
    for (size_t k = 0; k < sizeof cli / sizeof cli[0]; k++) {
        ib_train_config c2;
        ib_train_config_defaults(&c2);
        ib_flag f2[IB_TRAIN_MAX_FLAGS];
        int n2 = ib_train_flags(&c2, f2);
        ib_err err = {0};
        int rc = ib_flags_parse(f2, n2, cli[k].argc, cli[k].argv, 1, pos, 0, &npos, &err);
        CHECK(rc == IB_EXIT_USAGE && strstr(err.msg, cli[k].want), "'%s': rc %d '%s'", cli[k].want, rc, err.msg);
    }
    printf("%d flags checked (%d boolean)\n", n, bool_flags);
    return check_finish("test_flags");
}
