/* Table-driven command-line flags: each flag names its type, bounds and help, so every value
 * is checked in one place and every error names the flag and the rule it broke. */
#ifndef IB_CLI_H
#define IB_CLI_H

#include <stdio.h>
#include "util.h"

typedef enum ib_flag_type {
    IB_FLAG_INT,         /* int, within [min, max] */
    IB_FLAG_LONG,        /* long long */
    IB_FLAG_U64,         /* uint64_t (seeds) */
    IB_FLAG_DOUBLE,      /* finite double within bounds */
    IB_FLAG_STRING,      /* char * (points into argv) */
    IB_FLAG_CHOICE,      /* const char * from choices "a|b|c" */
    IB_FLAG_BOOL,        /* int set to 1, takes no value */
    IB_FLAG_DOUBLE_LIST, /* comma-separated doubles into ib_double_list */
} ib_flag_type;

enum { IB_MIN_OPEN = 1, IB_MAX_OPEN = 2 };

#define IB_MAX_LIST 64
typedef struct ib_double_list {
    int n;
    double v[IB_MAX_LIST];
} ib_double_list;

typedef struct ib_flag {
    const char *name;    /* without the leading "--" */
    ib_flag_type type;
    void *target;
    double min, max;     /* inclusive bounds for numbers (and list elements) */
    int open_bounds;     /* IB_MIN_OPEN: value must be > min; IB_MAX_OPEN: < max */
    const char *choices; /* for IB_FLAG_CHOICE */
    const char *metavar;
    const char *help;
    int seen;            /* set by the parser */
} ib_flag;

/* Parse argv[start..argc). Flags are "--name VALUE" or "--name=VALUE". Positional arguments
 * are collected in order into positional[] (up to max_positional). Returns 0 or an error. */
int ib_flags_parse(ib_flag *flags, int n_flags, int argc, char **argv, int start, char **positional,
                   int max_positional, int *n_positional, ib_err *err);
void ib_flags_print_help(FILE *fp, const ib_flag *flags, int n_flags);
ib_flag *ib_flag_find(ib_flag *flags, int n_flags, const char *name);
/* Parse a single value for a flag (exposed for fuzzing and the bad-value tests). */
int ib_flag_set_value(ib_flag *f, const char *value, ib_err *err);

#endif
