/* `initbench report SWEEP_DIR ...`: the report of one or more sweeps (analysis/). */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "probe_data.h"
#include "probe_report.h"
#include "report.h"
#include "strbuf.h"

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
        fprintf(fp, "usage: initbench report SWEEP_DIR [SWEEP_DIR ...] [--out DIR] [--format svg|png|pdf]\n"
                    "       initbench report PROBE_DIR [--out DIR] [--format svg|png|pdf]\n\n"
                    "Aggregates every run directory of the sweep(s) (complete or partial) and writes DIR/index.html\n"
                    "(self-contained, plots inline as SVG), DIR/*.csv (the tables), DIR/summary.md; several sweeps\n"
                    "are compared side by side. A probe directory (probe.json, from `initbench probe`) gets the\n"
                    "phase-diagram report: DIR/index.html, DIR/phase.csv, DIR/summary.md. Exit 2 for bad input\n"
                    "(not a sweep or probe directory).\n\n");
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
    int probe = ib_probe_dir_is(pos[0]), rc;
    for (int i = 1; i < npos; i++)
        if (probe || ib_probe_dir_is(pos[i])) {
            ib_strbuf_free(&cmd);
            ib_die(IB_EXIT_USAGE, "report: a probe directory is reported alone (%s)", probe ? pos[0] : pos[i]);
        }
    if (probe) rc = ib_probe_report_write(pos[0], out, &opt, &err);
    else rc = ib_report_write((const char *const *)pos, npos, out, &opt, &err);
    ib_strbuf_free(&cmd);
    if (rc) ib_exit_err(&err);
    return 0;
}
