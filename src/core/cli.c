#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int check_bounds(const ib_flag *f, double v, const char *text, ib_err *err) {
    const int min_open = f->open_bounds & IB_MIN_OPEN, max_open = f->open_bounds & IB_MAX_OPEN;
    if (min_open ? !(v > f->min) : !(v >= f->min))
        return ib_fail(err, IB_EXIT_USAGE, "--%s: must be %s %g (got %s)", f->name, min_open ? ">" : ">=", f->min, text);
    if (max_open ? !(v < f->max) : !(v <= f->max))
        return ib_fail(err, IB_EXIT_USAGE, "--%s: must be %s %g (got %s)", f->name, max_open ? "<" : "<=", f->max, text);
    return 0;
}

static int parse_double(const ib_flag *f, const char *text, double *out, ib_err *err) {
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || errno == ERANGE || !*text)
        return ib_fail(err, IB_EXIT_USAGE, "--%s: '%s' is not a number", f->name, text);
    if (!isfinite(v)) return ib_fail(err, IB_EXIT_USAGE, "--%s: must be a finite number (got %s)", f->name, text);
    if (check_bounds(f, v, text, err)) return err->code;
    *out = v;
    return 0;
}

static int parse_integer(const ib_flag *f, const char *text, long long *out, ib_err *err) {
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || !*text)
        return ib_fail(err, IB_EXIT_USAGE, "--%s: '%s' is not a whole number", f->name, text);
    if (errno == ERANGE) return ib_fail(err, IB_EXIT_USAGE, "--%s: '%s' is out of range", f->name, text);
    if (check_bounds(f, (double)v, text, err)) return err->code;
    *out = v;
    return 0;
}

int ib_flag_set_value(ib_flag *f, const char *value, ib_err *err) {
    switch (f->type) {
    case IB_FLAG_INT: {
        long long v;
        if (parse_integer(f, value, &v, err)) return err->code;
        *(int *)f->target = (int)v;
        break;
    }
    case IB_FLAG_LONG: {
        long long v;
        if (parse_integer(f, value, &v, err)) return err->code;
        *(long long *)f->target = v;
        break;
    }
    case IB_FLAG_U64: {
        errno = 0;
        char *end;
        if (!*value || *value == '-' || *value == '+')
            return ib_fail(err, IB_EXIT_USAGE, "--%s: '%s' is not a non-negative whole number", f->name, value);
        unsigned long long v = strtoull(value, &end, 10);
        if (*end || errno == ERANGE)
            return ib_fail(err, IB_EXIT_USAGE, "--%s: '%s' is not a whole number in [0, 2^64)", f->name, value);
        *(uint64_t *)f->target = (uint64_t)v;
        break;
    }
    case IB_FLAG_DOUBLE:
        if (parse_double(f, value, (double *)f->target, err)) return err->code;
        break;
    case IB_FLAG_STRING:
        if (!*value) return ib_fail(err, IB_EXIT_USAGE, "--%s: empty value", f->name);
        *(const char **)f->target = value;
        break;
    case IB_FLAG_CHOICE: {
        size_t n = strlen(value);
        const char *c = f->choices;
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && n && !strncmp(c, value, n)) {
                *(const char **)f->target = value;
                return 0;
            }
            c = bar ? bar + 1 : NULL;
        }
        return ib_fail(err, IB_EXIT_USAGE, "--%s: unknown value '%s' (choose one of: %s)", f->name, value, f->choices);
    }
    case IB_FLAG_BOOL: *(int *)f->target = 1; break;
    case IB_FLAG_DOUBLE_LIST: {
        ib_double_list *list = f->target;
        list->n = 0;
        if (!*value) return ib_fail(err, IB_EXIT_USAGE, "--%s: empty list", f->name);
        char *copy = ib_xstrdup(value), *save = NULL;
        int rc = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (list->n == IB_MAX_LIST) {
                rc = ib_fail(err, IB_EXIT_USAGE, "--%s: more than %d values", f->name, IB_MAX_LIST);
                break;
            }
            if ((rc = parse_double(f, tok, &list->v[list->n], err))) break;
            list->n++;
        }
        free(copy);
        if (!rc && list->n == 0) rc = ib_fail(err, IB_EXIT_USAGE, "--%s: empty list", f->name);
        if (!rc)
            for (int i = 0; i < list->n; i++)
                for (int j = 0; j < i; j++)
                    if (list->v[i] == list->v[j])
                        return ib_fail(err, IB_EXIT_USAGE, "--%s: value %g listed twice", f->name, list->v[i]);
        return rc;
    }
    }
    return 0;
}

ib_flag *ib_flag_find(ib_flag *flags, int n_flags, const char *name) {
    for (int i = 0; i < n_flags; i++)
        if (!strcmp(flags[i].name, name)) return &flags[i];
    return NULL;
}

/* Test hook (tests/test_every_flag.sh): with INITBENCH_FLAG_TABLE set, a command prints its
 * flag table (name, type, bounds, choices; one flag a line) and exits 0 instead of running, so
 * a test can derive bad values for every flag of every command from the tables themselves. */
static void dump_flag_table_if_asked(const ib_flag *flags, int n_flags) {
    static const char *const types[] = {"int", "long", "u64", "double", "string", "choice", "bool", "double_list"};
    if (!getenv("INITBENCH_FLAG_TABLE")) return;
    for (int i = 0; i < n_flags; i++) {
        const ib_flag *f = &flags[i];
        printf("%s\t%s\t%.17g\t%.17g\t%d\t%s\n", f->name, types[f->type], f->min, f->max, f->open_bounds,
               f->choices ? f->choices : "-");
    }
    exit(0);
}

int ib_flags_parse(ib_flag *flags, int n_flags, int argc, char **argv, int start, char **positional,
                   int max_positional, int *n_positional, ib_err *err) {
    dump_flag_table_if_asked(flags, n_flags);
    int np = 0;
    for (int i = start; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
            if (arg[0] == '-' && arg[1] && strcmp(arg, "-") != 0)
                return ib_fail(err, IB_EXIT_USAGE, "unknown option '%s' (options are spelled --name)", arg);
            if (np >= max_positional) return ib_fail(err, IB_EXIT_USAGE, "unexpected argument '%s'", arg);
            positional[np++] = argv[i];
            continue;
        }
        char name[128];
        const char *eq = strchr(arg + 2, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof name) return ib_fail(err, IB_EXIT_USAGE, "unknown option '%.40s...'", arg);
        memcpy(name, arg + 2, len);
        name[len] = 0;
        ib_flag *f = ib_flag_find(flags, n_flags, name);
        if (!f) return ib_fail(err, IB_EXIT_USAGE, "unknown option '--%s' (see --help)", name);
        if (f->seen && f->type != IB_FLAG_BOOL)
            return ib_fail(err, IB_EXIT_USAGE, "--%s given more than once", name);
        const char *value;
        if (f->type == IB_FLAG_BOOL) {
            if (eq) return ib_fail(err, IB_EXIT_USAGE, "--%s takes no value", name);
            value = "";
        } else if (eq) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc) return ib_fail(err, IB_EXIT_USAGE, "--%s needs a value (%s)", name, f->metavar ? f->metavar : "VALUE");
            value = argv[++i];
        }
        if (ib_flag_set_value(f, value, err)) return err->code;
        f->seen = 1;
    }
    if (n_positional) *n_positional = np;
    return 0;
}

void ib_flags_print_help(FILE *fp, const ib_flag *flags, int n_flags) {
    for (int i = 0; i < n_flags; i++) {
        const ib_flag *f = &flags[i];
        char left[64];
        if (f->type == IB_FLAG_BOOL)
            snprintf(left, sizeof left, "--%s", f->name);
        else
            snprintf(left, sizeof left, "--%s %s", f->name,
                     f->metavar ? f->metavar : f->type == IB_FLAG_CHOICE ? f->choices : "VALUE");
        fprintf(fp, "  %-30s %s\n", left, f->help ? f->help : "");
    }
}
