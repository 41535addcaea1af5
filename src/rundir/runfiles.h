/* A run's CSV files read back, validated once, as plain arrays (docs/ARCHITECTURE.md):
 *   curve.csv   one row per evaluation (written by ib_curve_write, rundir.h)
 *   stats.csv   per-layer statistics, one row per (recorded step, layer, tensor) (written by
 *               src/model/stats.c)
 * CSV is parsed here and nowhere else (RFC 4180: quoted fields, "" inside them, CRLF), strictly:
 * the header names its columns; every row has the header's number of fields; steps are decimal
 * integers in [0, 10^15), never decreasing; a number field is a decimal number, empty, nan or
 * inf; a layer is a name (ib_name_ok) and a tensor one of the writer's. A file that breaks a rule
 * is refused (IB_EXIT_USAGE, "PATH: line N: field 'F': ..."); a file that does not exist is no
 * error (present = 0: a run not started or still running). */
#ifndef IB_RUNDIR_RUNFILES_H
#define IB_RUNDIR_RUNFILES_H

#include "names.h"
#include "rundir.h"
#include "util.h"

/* ---- curve.csv -------------------------------------------------------------------------------- */

/* DIR/curve.csv in file order. Columns step and test_accuracy are required, the others of
 * IB_CURVE_HEADER optional (NAN when absent), columns the reader does not know are skipped. */
typedef struct ib_curve {
    int present; /* the file exists */
    int n;       /* rows */
    long long *step;
    double *test_accuracy, *test_loss, *train_loss, *train_accuracy, *elapsed_s; /* NAN: empty, nan */
} ib_curve;

int ib_curve_read(const char *run_dir, ib_curve *c, ib_err *err);
void ib_curve_free(ib_curve *c);

/* ---- stats.csv -------------------------------------------------------------------------------- */

/* The tensors src/model/stats.c writes rows for (the "tensor" column). */
typedef enum ib_stats_tensor {
    IB_TENSOR_WEIGHT,
    IB_TENSOR_BIAS,
    IB_TENSOR_PREACT,
    IB_TENSOR_ACT,
    IB_TENSOR_ACT_GRAD,
    IB_TENSOR_WEIGHT_GRAD,
    IB_TENSOR_BIAS_GRAD,
    IB_TENSOR_UPDATE,
    IB_TENSOR_BIAS_UPDATE,
    IB_STATS_NTENSORS
} ib_stats_tensor;
extern const char *const ib_stats_tensor_names[IB_STATS_NTENSORS];

/* Its number columns, in the writer's order. */
typedef enum ib_stats_col {
    IB_SCOL_N,
    IB_SCOL_L2,
    IB_SCOL_RMS,
    IB_SCOL_MEAN,
    IB_SCOL_STD,
    IB_SCOL_MIN,
    IB_SCOL_MAX,
    IB_SCOL_FRAC_ZERO,
    IB_SCOL_FRAC_SATURATED,
    IB_SCOL_FRAC_NONFINITE,
    IB_SCOL_UPDATE_RATIO,
    IB_SCOL_SQRT_V_RMS,
    IB_SCOL_FRAC_SQRT_V_BELOW_EPS,
    IB_STATS_NCOLS
} ib_stats_col;
extern const char *const ib_stats_col_names[IB_STATS_NCOLS];

#define IB_STATS_MAX_LAYERS 64 /* distinct layer names in one file: weight layers, at most 64 of a network's 128 */

typedef struct ib_stats_row {
    long long step;
    int layer;  /* index into ib_stats.layer */
    int tensor; /* an ib_stats_tensor */
    double v[IB_STATS_NCOLS]; /* NAN: empty, nan, or no such column */
} ib_stats_row;

/* DIR/stats.csv in file order. Columns step, layer and tensor are required, the number columns
 * optional, unknown columns skipped. */
typedef struct ib_stats {
    int present;
    int n_layers;
    char layer[IB_STATS_MAX_LAYERS][IB_NAME_MAX + 1]; /* in order of first appearance */
    int n;
    ib_stats_row *rows;
} ib_stats;

int ib_stats_read(const char *run_dir, ib_stats *s, ib_err *err);
void ib_stats_free(ib_stats *s);


/* ---- the one CSV reader (RFC 4180, in place) ---- */
typedef struct ib_csv {
    char *p, *end;      /* the text not yet read */
    long line;          /* the line the next record starts on (1 at the start) */
    const char *path;   /* for messages */
    char **names;       /* the header's names once a reader has them (for messages), else NULL */
    const size_t *name_len;
    int n_names;
} ib_csv;
/* The next record of c into f/fl (at most max fields stored). Returns its field count, 0 at the
 * end of the text, -1 when it is no CSV (err set: "PATH: line N: field ...: rule"); *line is the
 * line it starts on. Quoted fields are unescaped in place (they only shrink); empty lines are
 * skipped. */
int ib_csv_record(ib_csv *c, char **f, size_t *fl, int max, long *line, ib_err *err);

#endif
