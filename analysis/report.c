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
    if ((rc = ib_mkdir_p(out_dir, err))) return rc;
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

int ib_cmd_report(int argc, char **argv) {
    ib_report_options opt;
    ib_report_options_default(&opt);
    const char *out = NULL, *format = "svg", *gnuplot = "gnuplot";
    double stuck = 0.2;
    int help = 0, quiet = 0;
    ib_flag flags[] = {
        {"out", IB_FLAG_STRING, &out, 0, 0, 0, NULL, "DIR", "output directory (default: FIRST_SWEEP/report)", 0},
        {"format", IB_FLAG_CHOICE, &format, 0, 0, 0, "svg|png|pdf", "F",
         "svg: the page only (default); png or pdf: also every figure as OUT/figures/NAME.F", 0},
        {"stuck-below", IB_FLAG_DOUBLE, &stuck, 0, 1, 0, NULL, "A",
         "a complete run whose final test accuracy is below A is flagged stuck (default 0.2)", 0},
        {"gnuplot", IB_FLAG_STRING, &gnuplot, 0, 0, 0, NULL, "EXE", "gnuplot executable (default gnuplot)", 0},
        {"quiet", IB_FLAG_BOOL, &quiet, 0, 0, 0, NULL, NULL, "print nothing but errors", 0},
        {"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0},
    };
    const int nf = (int)(sizeof flags / sizeof flags[0]);
    ib_err err = {0};
    char *pos[64];
    int npos = 0;
    if (ib_flags_parse(flags, nf, argc, argv, 1, pos, 64, &npos, &err)) ib_exit_err(&err);
    if (help || npos < 1) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench report SWEEP_DIR [SWEEP_DIR ...] [--out DIR] [--format svg|png|pdf]\n\n"
                    "Aggregates every run directory of the sweep(s) (complete or partial) and writes DIR/index.html\n"
                    "(self-contained, plots inline as SVG), DIR/*.csv (the tables), DIR/summary.md; several sweeps\n"
                    "are compared side by side. Exit 2 for bad input (not a sweep directory).\n\n");
        ib_flags_print_help(fp, flags, nf);
        return help ? 0 : IB_EXIT_USAGE;
    }
    char def_out[4200];
    if (!out) {
        ib_snprintf(def_out, sizeof def_out, "%s/report", pos[0]);
        out = def_out;
    }
    ib_strbuf cmd = {0}; /* the command line, shown on the page */
    ib_strbuf_append(&cmd, "initbench");
    for (int i = 0; i < argc; i++) ib_strbuf_appendf(&cmd, " %s", argv[i]);
    opt.format = format;
    opt.gnuplot = gnuplot;
    opt.stuck_below = stuck;
    opt.quiet = quiet;
    opt.command = cmd.p;
    int rc = ib_report_write((const char *const *)pos, npos, out, &opt, &err);
    ib_strbuf_free(&cmd);
    if (rc) ib_exit_err(&err);
    return 0;
}
