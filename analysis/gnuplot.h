/* Figures by gnuplot (internal to analysis/): a plotter runs gnuplot once per figure in a
 * temporary directory under the output directory, inlines the SVG into the page (ids made unique
 * per figure) and, with a paper format, also keeps OUT/figures/NAME.png|pdf. Without a working
 * gnuplot every figure becomes a note saying why, and the rest of the report is still written.
 *
 * No string from a file or flag becomes gnuplot code: gnuplot runs with the temporary directory as
 * its working directory and every file name in a script is a fixed relative name made of the
 * figure's name (a literal of the program), so no path reaches a script; every text a figure shows
 * that is not a literal (layer names, sweep labels) passes through ib_gp_text. */
#ifndef IB_GNUPLOT_H
#define IB_GNUPLOT_H

#include "strbuf.h"
#include "util.h"

/* Line types 1..IB_NCOLOURS are the page's palette (set in every script). */
#define IB_NCOLOURS 10

typedef struct ib_plotter {
    const char *gnuplot;  /* executable (made absolute when it names a relative path) */
    char gnuplot_abs[4200];
    const char *out;      /* the report's directory */
    const char *format;   /* NULL (SVG only) or "png" / "pdf" */
    char tmp[4600];       /* OUT/.report-tmp.XXXXXX (mkdtemp): data, scripts, logs */
    int out_fd, tmp_fd;   /* OUT and the temporary directory, opened once: every file of the
                             temporary directory is made, read and removed through tmp_fd */
    int figures_fd;       /* OUT/figures, opened when the first paper copy is kept (-1 before) */
    int has_tmp;          /* tmp was created (and is removed by ib_plotter_close) */
    int available;        /* the probe plot worked */
    int n_plots, n_failed;
    int seq;              /* figures inlined so far: the id prefix of the next */
    char missing_why[4400];
    ib_strbuf *scripts;   /* scripts-only mode (ib_plotter_open_scripts): no gnuplot, no files */
} ib_plotter;

/* Create the temporary directory and probe gnuplot (a failed probe is reported on stderr, not an
 * error). format: "svg" or NULL for the page only, "png" or "pdf". Fails only if the temporary
 * directory cannot be made. */
int ib_plotter_open(ib_plotter *P, const char *gnuplot, const char *format, const char *out_dir, ib_err *err);
/* A plotter that runs nothing and writes no file: each figure appends "#### figure NAME", its
 * data and its whole script to `scripts` (tests and the fuzz harness read what gnuplot would). */
void ib_plotter_open_scripts(ib_plotter *P, const char *format, ib_strbuf *scripts);
/* Remove the temporary directory (through its descriptor; links in it are removed, never
 * followed). */
void ib_plotter_close(ib_plotter *P);

/* Text for a gnuplot string: the one sanitiser of every non-literal text a figure shows (layer
 * names, sweep labels). Appends s between single quotes, keeping only [A-Za-z0-9 .,:()+=-] and
 * mapping every other byte (quotes, backticks, backslash, $, @, %, enhanced-text markup ^ _ { } &
 * ~, control characters, non-ASCII) to a space, at most IB_GP_TEXT_MAX characters. */
#define IB_GP_TEXT_MAX 80
void ib_gp_text(ib_strbuf *b, const char *s);

/* One figure: data (blocks separated by two blank lines, read by the script as DAT) and the
 * gnuplot body (settings and the plot command). Appends <figure> with the inline SVG, or a note
 * saying why there is none, and the caption to html. name: a literal of the program
 * ([a-z0-9_]), the figure's file names. */
void ib_figure(ib_plotter *P, ib_strbuf *html, const char *name, const char *caption, int w, int h,
               const ib_strbuf *data, const char *body);

#endif
