#include "table.h"

#include <math.h>
#include <string.h>

#include "strbuf.h"
#include "text.h"
#include "verdict.h"

/* ",s": a string column after the ones before it; every string field, from a file or not, goes
 * through ib_csv_field (text.h), the one CSV writer */
static void csv_str(ib_strbuf *b, const char *s) {
    ib_strbuf_append(b, ",");
    ib_csv_field(b, s);
}

/* a number at full precision, nothing for NAN */
static void csv_num(ib_strbuf *b, double v) {
    if (isnan(v)) return;
    ib_strbuf_appendf(b, "%.9g", v);
}

/* ",v" per value: the numeric columns that follow a fixed prefix */
static void csv_nums(ib_strbuf *b, const double *v, int n) {
    for (int i = 0; i < n; i++) {
        ib_strbuf_append(b, ",");
        csv_num(b, v[i]);
    }
}

/* the first two columns of every table: which sweep */
static void csv_sweep_cols(ib_strbuf *b, const ib_sweep_agg *s) {
    ib_csv_field(b, s->label);
    csv_str(b, s->dir);
}

static void csv_step(ib_strbuf *b, long long step) { /* a step, nothing for "never" (-1) */
    if (step >= 0) ib_strbuf_appendf(b, "%lld", step);
}

static void runs_table(ib_strbuf *b, const ib_sweep_agg *S, int n) {
    ib_strbuf_append(b, "sweep,sweep_dir,stddev,repeat,seed,dir,status,final_step,final_accuracy,stuck,steps_to_0.90,"
                        "steps_to_0.97,steps_to_0.99,diverged_step,reason\n");
    for (int si = 0; si < n; si++)
        for (int i = 0; i < S[si].n_runs; i++) {
            const ib_run *r = &S[si].runs[i];
            csv_sweep_cols(b, &S[si]);
            ib_strbuf_appendf(b, ",%.9g,%d", r->stddev, r->repeat);
            csv_str(b, r->seed);
            csv_str(b, r->rel);
            csv_str(b, ib_run_state_names[r->status]);
            ib_strbuf_append(b, ",");
            csv_step(b, r->final_step);
            ib_strbuf_append(b, ",");
            csv_num(b, r->final_acc);
            ib_strbuf_appendf(b, ",%d", r->stuck);
            for (int t = 0; t < IB_AGG_NTHR; t++) {
                ib_strbuf_append(b, ",");
                csv_step(b, r->reach[t]);
            }
            ib_strbuf_append(b, ",");
            csv_step(b, r->diverged_step);
            csv_str(b, r->reason);
            ib_strbuf_append(b, "\n");
        }
}

static void final_accuracy_table(ib_strbuf *b, const ib_sweep_agg *S, int n) {
    ib_strbuf_append(b, "sweep,sweep_dir,stddev,runs,complete,diverged,failed,interrupted,running,missing,stuck,"
                        "n_final,final_mean,final_std,final_min,final_max\n");
    for (int si = 0; si < n; si++)
        for (int gi = 0; gi < S[si].n_groups; gi++) {
            const ib_group *g = &S[si].groups[gi];
            csv_sweep_cols(b, &S[si]);
            ib_strbuf_appendf(b, ",%.9g,%d", g->stddev, g->n_runs);
            for (int k = 0; k < IB_REPORT_NSTATES; k++) ib_strbuf_appendf(b, ",%d", g->count[ib_report_state_order[k]]);
            ib_strbuf_appendf(b, ",%d,%d", g->n_stuck, g->n_final);
            csv_nums(b, (const double[]){g->final_mean, g->final_std, g->final_min, g->final_max}, 4);
            ib_strbuf_append(b, "\n");
        }
}

static void steps_to_threshold_table(ib_strbuf *b, const ib_sweep_agg *S, int n) {
    ib_strbuf_append(b, "sweep,sweep_dir,stddev,threshold,n_complete,n_reached,steps_mean,steps_min,steps_max\n");
    for (int si = 0; si < n; si++)
        for (int gi = 0; gi < S[si].n_groups; gi++) {
            const ib_group *g = &S[si].groups[gi];
            for (int t = 0; t < IB_AGG_NTHR; t++) {
                csv_sweep_cols(b, &S[si]);
                ib_strbuf_appendf(b, ",%.9g,%.2f,%d,%d", g->stddev, S[si].thresholds[t], g->n_final, g->n_reach[t]);
                csv_nums(b, (const double[]){g->reach_mean[t], g->reach_min[t], g->reach_max[t]}, 3);
                ib_strbuf_append(b, "\n");
            }
        }
}

static void curves_mean_table(ib_strbuf *b, const ib_sweep_agg *S, int n) {
    ib_strbuf_append(b, "sweep,sweep_dir,stddev,step,n,test_accuracy_mean,test_accuracy_std\n");
    for (int si = 0; si < n; si++)
        for (int gi = 0; gi < S[si].n_groups; gi++) {
            const ib_group *g = &S[si].groups[gi];
            for (int q = 0; q < g->n_points; q++) {
                csv_sweep_cols(b, &S[si]);
                ib_strbuf_appendf(b, ",%.9g,%lld,%d", g->stddev, g->step[q], g->n[q]);
                csv_nums(b, (const double[]){g->mean[q], g->std[q]}, 2);
                ib_strbuf_append(b, "\n");
            }
        }
}

static void gradient_flow_table(ib_strbuf *b, const ib_sweep_agg *S, int n) {
    ib_strbuf_append(b, "sweep,sweep_dir,stddev,step,runs,layer");
    for (int f = 0; f < IB_NFIELDS; f++) ib_strbuf_appendf(b, ",%s", ib_stat_field_names[f]);
    ib_strbuf_append(b, "\n");
    for (int si = 0; si < n; si++) {
        const ib_sweep_agg *s = &S[si];
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            for (int k = 0; k < g->n_sstep; k++)
                for (int l = 0; l < s->n_layers; l++) {
                    csv_sweep_cols(b, s);
                    ib_strbuf_appendf(b, ",%.9g,%lld,%d", g->stddev, g->sstep[k], g->stats_n[k]);
                    csv_str(b, s->layer[l]);
                    for (int f = 0; f < IB_NFIELDS; f++) {
                        ib_strbuf_append(b, ",");
                        csv_num(b, ib_group_stat(s, g, k, l, f));
                    }
                    ib_strbuf_append(b, "\n");
                }
        }
    }
}

static void verdicts_table(ib_strbuf *b, const ib_sweep_agg *S, int n) {
    ib_strbuf_append(b, "sweep,sweep_dir,stddev,verdict,grad_ratio_first_last,grad_factor_per_layer,"
                        "act_std_ratio_last_hidden_first,max_abs_logit,frac_nonfinite,criteria\n");
    for (int si = 0; si < n; si++)
        for (int gi = 0; gi < S[si].n_groups; gi++) {
            const ib_group *g = &S[si].groups[gi];
            ib_verdict v = ib_verdict_of(&S[si], g);
            csv_sweep_cols(b, &S[si]);
            ib_strbuf_appendf(b, ",%.9g", g->stddev);
            csv_str(b, ib_verdict_names[v.kind]);
            csv_nums(b, (const double[]){v.grad_ratio, v.per_layer, v.act_ratio, v.logit_max, v.nonfinite}, 5);
            csv_str(b, v.why);
            ib_strbuf_append(b, "\n");
        }
}

static const struct {
    const char *file;
    void (*build)(ib_strbuf *b, const ib_sweep_agg *S, int n);
} tables[IB_N_TABLES] = {
    {"runs.csv", runs_table},
    {"final_accuracy.csv", final_accuracy_table},
    {"steps_to_threshold.csv", steps_to_threshold_table},
    {"curves_mean.csv", curves_mean_table},
    {"gradient_flow.csv", gradient_flow_table},
    {"verdicts.csv", verdicts_table},
};

const char *ib_table_file(int t) { return tables[t].file; }

void ib_table_build(int t, const ib_sweep_agg *S, int n, ib_strbuf *b) { tables[t].build(b, S, n); }

int ib_tables_write(const ib_sweep_agg *S, int n, const char *out_dir, ib_err *err) {
    for (int t = 0; t < IB_N_TABLES; t++) {
        ib_strbuf b = {0};
        ib_table_build(t, S, n, &b);
        int rc = ib_write_strbuf(out_dir, tables[t].file, &b, err);
        ib_strbuf_free(&b);
        if (rc) return err->code;
    }
    return 0;
}
