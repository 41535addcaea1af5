/* `initbench report` and ib_report_write: read the sweeps, then write the tables (table.h), the
 * figures (figures.h, drawn by gnuplot.h) and the pages (page.h) into the output directory. The
 * criteria are in verdict.h; docs/REPORT.md describes the whole report. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "cli.h"
#include "gnuplot.h"
#include "page.h"
#include "strbuf.h"
#include "table.h"
#include "text.h"

void ib_report_options_default(ib_report_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->format = "svg";
    opt->gnuplot = "gnuplot";
    opt->stuck_below = 0.2;
}

/* Read and aggregate every sweep into S; with several, number their labels ("2: adam, ...") so
 * the page, tables and figure legends tell them apart. On failure, frees what it read. */
static int load_sweeps(const char *const *sweep_dirs, int n, const ib_report_options *opt, ib_sweep_agg *S,
                       ib_err *err) {
    for (int i = 0; i < n; i++) {
        int rc = ib_sweep_load(sweep_dirs[i], opt->stuck_below, &S[i], err);
        if (rc) {
            for (int j = 0; j < i; j++) ib_sweep_free(&S[j]);
            return rc;
        }
        if (n > 1) {
            char l[256];
            ib_snprintf(l, sizeof l, "%d: %s", i + 1, S[i].label);
            ib_snprintf(S[i].label, sizeof S[i].label, "%s", l);
        }
        if (!opt->quiet)
            fprintf(stderr, "report: %s: %d runs in %d stddevs read and aggregated in %.2f s\n", S[i].dir, S[i].n_runs,
                    S[i].n_groups, S[i].seconds);
    }
    return 0;
}

/* The tables, then the figures and pages (the tables do not need gnuplot). */
static int write_outputs(const ib_sweep_agg *S, int n, const char *out_dir, const ib_report_options *opt, double t0,
                         double t_agg, ib_err *err) {
    int rc;
    /* only into a new or empty directory, or one an earlier report made (its marker): a user's
     * directory is refused before anything in it is touched */
    if ((rc = ib_outdir_claim(out_dir, "report", err))) return rc;
    if ((rc = ib_tables_write(S, n, out_dir, err))) return rc;
    ib_plotter P;
    if ((rc = ib_plotter_open(&P, opt->gnuplot, opt->format, out_dir, err))) return rc;
    ib_strbuf html = {0}, md = {0};
    ib_page_build(&P, S, n, opt->command, t_agg, &html, &md);
    if (!(rc = ib_write_strbuf(out_dir, "index.html", &html, err))) rc = ib_write_strbuf(out_dir, "summary.md", &md, err);
    ib_strbuf_free(&html);
    ib_strbuf_free(&md);
    if (!rc && !opt->quiet)
        fprintf(stderr, "report: wrote %s/index.html, summary.md and %d tables (%d figures%s) in %.2f s\n", out_dir,
                IB_N_TABLES, P.n_plots, P.available ? "" : ", no plots: gnuplot missing", ib_now() - t0);
    ib_plotter_close(&P);
    return rc;
}

int ib_report_write(const char *const *sweep_dirs, int n, const char *out_dir, const ib_report_options *opt,
                    ib_err *err) {
    ib_report_options dflt;
    if (!opt) {
        ib_report_options_default(&dflt);
        opt = &dflt;
    }
    if (n <= 0) return ib_fail(err, IB_EXIT_USAGE, "report: no sweep directory given");
    double t0 = ib_now();
    ib_sweep_agg *S = ib_xcalloc((size_t)n, sizeof *S);
    int rc = load_sweeps(sweep_dirs, n, opt, S, err);
    if (rc) {
        free(S);
        return rc;
    }
    rc = write_outputs(S, n, out_dir, opt, t0, ib_now() - t0, err);
    for (int i = 0; i < n; i++) ib_sweep_free(&S[i]);
    free(S);
    return rc;
}
