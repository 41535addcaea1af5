/* Figures by gnuplot (internal to analysis/): a plotter runs gnuplot once per figure in a
 * temporary directory under the output directory, inlines the SVG into the page (ids made unique
 * per figure) and, with a paper format, also keeps OUT/figures/NAME.png|pdf. Without a working
 * gnuplot every figure becomes a note saying why, and the rest of the report is still written. */
#ifndef IB_GNUPLOT_H
#define IB_GNUPLOT_H

#include "strbuf.h"
#include "util.h"

/* Line types 1..IB_NCOLOURS are the page's palette (set in every script). */
#define IB_NCOLOURS 10

typedef struct ib_plotter {
    const char *gnuplot;  /* executable */
    const char *out;      /* the report's directory */
    const char *format;   /* NULL (SVG only) or "png" / "pdf" */
    char tmp[4600];       /* OUT/.report-tmp.PID: data, scripts, logs */
    int has_tmp;          /* tmp was created (and is removed by ib_plotter_close) */
    int available;        /* the probe plot worked */
    int n_plots, n_failed;
    int seq;              /* figures inlined so far: the id prefix of the next */
    char missing_why[256];
} ib_plotter;

/* Create the temporary directory and probe gnuplot (a failed probe is reported on stderr, not an
 * error). format: "svg" or NULL for the page only, "png" or "pdf". Fails only if the temporary
 * directory cannot be made. */
int ib_plotter_open(ib_plotter *P, const char *gnuplot, const char *format, const char *out_dir, ib_err *err);
/* Remove the temporary directory. */
void ib_plotter_close(ib_plotter *P);

/* One figure: data (blocks separated by two blank lines, read by the script as DAT) and the
 * gnuplot body (settings and the plot command). Appends <figure> with the inline SVG, or a note
 * saying why there is none, and the caption to html. */
void ib_figure(ib_plotter *P, ib_strbuf *html, const char *name, const char *caption, int w, int h,
               const ib_strbuf *data, const char *body);

#endif
