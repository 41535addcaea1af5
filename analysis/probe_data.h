/* A probe directory read back for the report (internal to analysis/): probe.json and
 * configs.csv as `initbench probe` writes them (src/probe/probe.h, docs/REPORT.md), every
 * field checked once: names against ib_name_ok, activations and forecast classes against their
 * lists, numbers strict (ib_parse_csv_number) and range-checked, free text (net, reason, the
 * forecast rule, the command) bounded and cleared of control characters. A file that breaks a
 * rule is refused with IB_EXIT_USAGE naming file, line and field. */
#ifndef IB_PROBE_DATA_H
#define IB_PROBE_DATA_H

#include "names.h"
#include "theory.h"
#include "util.h"

enum { IB_CLASS_TRAINS, IB_CLASS_AT_RISK, IB_CLASS_WILL_NOT_TRAIN, IB_CLASS_NONE, IB_CLASS_N };
extern const char *const ib_probe_class_names[IB_CLASS_N]; /* trains, at_risk, will_not_train, none */

typedef struct ib_probe_row {
    int config, depth, width, seeds;
    ib_mf_act act;
    char dataset[IB_NAME_MAX + 1], init[IB_NAME_MAX + 1], optimizer[IB_NAME_MAX + 1];
    char *net, *reason;  /* free text, cleaned */
    double init_scale, stddev, bias_init, sigma_w2, lr; /* NAN: empty (not applicable) */
    double loss0, log10_grad_ratio, log10_act_ratio, log10_wgrad_ratio, q1, min_update_ratio,
        max_frac_below_eps, max_frac_dead, max_frac_saturated, descent;
    int forecast;        /* IB_CLASS_*; IB_CLASS_NONE for an empty field */
} ib_probe_row;

/* One drawn configuration of a `probe --validate` (PROBE/validate[-S]/validation.csv). */
enum { IB_OUTCOME_TRAINED, IB_OUTCOME_PARTIAL, IB_OUTCOME_STUCK, IB_OUTCOME_DIVERGED, IB_OUTCOME_NOT_RUN, IB_OUTCOME_N };
extern const char *const ib_probe_outcome_names[IB_OUTCOME_N];
typedef struct ib_probe_check {
    int config, forecast, outcome, miss; /* config: an index into rows */
    double accuracy;                     /* NAN when the run has none */
    char *reason;                        /* free text, cleaned */
} ib_probe_check;
#define IB_PROBE_MAX_VALIDATIONS 16
typedef struct ib_probe_validation {
    char name[32]; /* validate, validate-2 ... */
    int n;
    ib_probe_check *checks;
} ib_probe_validation;

typedef struct ib_probe_data {
    char dir[4096];
    char *status, *command, *preset, *rule; /* from probe.json ("" when absent), cleaned */
    double budget_steps, wall_s, ms_per_config; /* NAN when absent */
    int n;
    ib_probe_row *rows;  /* in file order */
    int n_validations;   /* the validate[-S]/validation.csv files present, in name order */
    ib_probe_validation validations[IB_PROBE_MAX_VALIDATIONS];
} ib_probe_data;

/* 1 when DIR holds a probe.json (a probe directory, not a sweep). */
int ib_probe_dir_is(const char *dir);

int ib_probe_read(const char *dir, ib_probe_data *p, ib_err *err);
void ib_probe_free(ib_probe_data *p);

#endif
