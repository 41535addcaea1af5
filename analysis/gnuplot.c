#include "gnuplot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "text.h"

extern char **environ;

/* gnuplot SCRIPT with stdin from /dev/null and stdout+stderr into LOG: its exit status, -1 when it
 * cannot be started, 128 when it died of a signal. */
static int run_gnuplot(const char *gnuplot, const char *script, const char *log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {(char *)gnuplot, (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int gnuplot_works(const ib_plotter *P) {
    char script[4600], log[4600];
    ib_snprintf(script, sizeof script, "%s/probe.gp", P->tmp);
    ib_snprintf(log, sizeof log, "%s/probe.log", P->tmp);
    ib_err e;
    const char *probe = "set terminal svg\nset output '/dev/null'\nplot x\n";
    if (ib_write_file_atomic(script, probe, strlen(probe), &e)) return 0;
    return run_gnuplot(P->gnuplot, script, log) == 0;
}

int ib_plotter_open(ib_plotter *P, const char *gnuplot, const char *format, const char *out_dir, ib_err *err) {
    memset(P, 0, sizeof *P);
    ib_snprintf(P->tmp, sizeof P->tmp, "%s/.report-tmp.%d", out_dir, (int)getpid());
    int rc = ib_mkdir_p(P->tmp, err);
    if (rc) return rc;
    P->has_tmp = 1;
    P->gnuplot = gnuplot ? gnuplot : "gnuplot";
    P->out = out_dir;
    P->format = format && strcmp(format, "svg") ? format : NULL;
    P->available = gnuplot_works(P);
    if (!P->available) {
        ib_snprintf(P->missing_why, sizeof P->missing_why,
                    "gnuplot ('%s') could not be run; apt-get install gnuplot-nox", P->gnuplot);
        fprintf(stderr, "initbench: report: %s: writing the tables and a page without plots\n", P->missing_why);
    }
    return 0;
}

/* The temporary directory holds plain files only. */
void ib_plotter_close(ib_plotter *P) {
    if (!P->has_tmp) return;
    DIR *dp = opendir(P->tmp);
    if (!dp) return;
    struct dirent *de;
    char p[4600];
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            ib_snprintf(p, sizeof p, "%s/%s", P->tmp, de->d_name);
            unlink(p);
        }
    closedir(dp);
    rmdir(P->tmp);
    P->has_tmp = 0;
}

/* Rewrite ids so several inline SVGs on one page never share one: id='x' -> id='pN_x' and the
 * references url(#x), href='#x' alike. Drops everything before <svg. */
static void svg_inline(ib_strbuf *html, const char *svg, int n) {
    const char *p = strstr(svg, "<svg");
    if (!p) return;
    char pre[32];
    ib_snprintf(pre, sizeof pre, "p%d_", n);
    static const char *const pats[] = {"id='", "id=\"", "url(#", "href='#", "href=\"#"};
    while (*p) {
        int hit = -1;
        for (int i = 0; i < 5; i++)
            if (!strncmp(p, pats[i], strlen(pats[i]))) hit = i;
        if (hit >= 0) {
            ib_strbuf_append(html, pats[hit]);
            ib_strbuf_append(html, pre);
            p += strlen(pats[hit]);
        } else {
            ib_strbuf_append_n(html, p, 1);
            p++;
        }
    }
}

static const char *TERM_COMMON =
    "set encoding utf8\n"
    "set termoption enhanced\n"
    "set linetype 1 lc rgb '#1f77b4' lw 2 pt 7 ps 0.6\n"
    "set linetype 2 lc rgb '#ff7f0e' lw 2 pt 7 ps 0.6\n"
    "set linetype 3 lc rgb '#2ca02c' lw 2 pt 7 ps 0.6\n"
    "set linetype 4 lc rgb '#d62728' lw 2 pt 7 ps 0.6\n"
    "set linetype 5 lc rgb '#9467bd' lw 2 pt 7 ps 0.6\n"
    "set linetype 6 lc rgb '#8c564b' lw 2 pt 7 ps 0.6\n"
    "set linetype 7 lc rgb '#e377c2' lw 2 pt 7 ps 0.6\n"
    "set linetype 8 lc rgb '#7f7f7f' lw 2 pt 7 ps 0.6\n"
    "set linetype 9 lc rgb '#bcbd22' lw 2 pt 7 ps 0.6\n"
    "set linetype 10 lc rgb '#17becf' lw 2 pt 7 ps 0.6\n"
    "set linetype cycle 10\n"
    "set grid lc rgb '#dddddd'\n"
    "set border lc rgb '#444444'\n"
    "set key noautotitle\n";

/* The files of one figure in the temporary directory. */
typedef struct figure_paths {
    char dat[4600], script[4600], svg[4600], log[4600];
} figure_paths;

/* The script: one pass for the inline SVG, and a second for the paper format. */
static void write_script(const ib_plotter *P, FILE *fp, const figure_paths *f, const char *name, int w, int h,
                         const char *body) {
    for (int pass = 0; pass < (P->format ? 2 : 1); pass++) {
        fprintf(fp, "reset\n");
        if (pass == 0)
            fprintf(fp, "set terminal svg size %d,%d dynamic enhanced font 'sans,11' background '#ffffff'\nset output '%s'\n",
                    w, h, f->svg);
        else if (!strcmp(P->format, "png"))
            fprintf(fp, "set terminal pngcairo size %d,%d enhanced font 'sans,10' background '#ffffff'\nset output '%s/%s.png'\n",
                    w * 2, h * 2, P->tmp, name);
        else
            fprintf(fp, "set terminal pdfcairo size %.2fin,%.2fin enhanced font 'sans,8'\nset output '%s/%s.pdf'\n",
                    w / 100.0, h / 100.0, P->tmp, name);
        fprintf(fp, "%sDAT = '%s'\n%s\nset output\n", TERM_COMMON, f->dat, body);
    }
}

/* The note for a figure gnuplot did not draw, with gnuplot's own messages. */
static void failure_note(ib_strbuf *html, const figure_paths *f, const char *name, int rc) {
    uint8_t *log = NULL;
    size_t len;
    ib_err e;
    ib_strbuf_appendf(html, "<p class=note>(plot %s failed: gnuplot exit %d", name, rc);
    if (ib_read_file(f->log, &log, &len, &e) == 0) {
        ib_strbuf_append(html, ": ");
        ib_html_escape(html, (char *)log);
        free(log);
    }
    ib_strbuf_append(html, ")</p>");
}

/* Move the paper-format copy into OUT/figures (best effort: the page has the figure anyway). */
static void keep_paper_copy(const ib_plotter *P, const char *name) {
    char from[4600], dir[4600], to[4700];
    ib_err e;
    ib_snprintf(from, sizeof from, "%s/%s.%s", P->tmp, name, P->format);
    ib_snprintf(dir, sizeof dir, "%s/figures", P->out);
    ib_snprintf(to, sizeof to, "%s/%s.%s", dir, name, P->format);
    if (ib_mkdir_p(dir, &e) == 0) rename(from, to);
}

/* Draw the figure and append its SVG, or a note saying why there is none. */
static void plot(ib_plotter *P, ib_strbuf *html, const char *name, int w, int h, const ib_strbuf *data,
                 const char *body) {
    figure_paths f;
    ib_snprintf(f.dat, sizeof f.dat, "%s/%s.dat", P->tmp, name);
    ib_snprintf(f.svg, sizeof f.svg, "%s/%s.svg", P->tmp, name);
    ib_snprintf(f.log, sizeof f.log, "%s/%s.log", P->tmp, name);
    ib_snprintf(f.script, sizeof f.script, "%s/%s.gp", P->tmp, name);
    ib_err e;
    FILE *fp;
    if (ib_write_file_atomic(f.dat, ib_strbuf_str(data), data->len, &e) || !(fp = fopen(f.script, "w"))) {
        ib_strbuf_appendf(html, "<p class=note>(no plot: cannot write %s)</p>", f.script);
        P->n_failed++;
        return;
    }
    write_script(P, fp, &f, name, w, h, body);
    fclose(fp);
    int rc = run_gnuplot(P->gnuplot, f.script, f.log);
    uint8_t *svg = NULL;
    size_t len;
    if (rc != 0 || ib_read_file(f.svg, &svg, &len, &e)) {
        failure_note(html, &f, name, rc);
        P->n_failed++;
        free(svg);
        return;
    }
    svg_inline(html, (char *)svg, P->seq++);
    free(svg);
    if (P->format) keep_paper_copy(P, name);
}

void ib_figure(ib_plotter *P, ib_strbuf *html, const char *name, const char *caption, int w, int h,
               const ib_strbuf *data, const char *body) {
    P->n_plots++;
    ib_strbuf_append(html, "<figure>");
    if (P->available) plot(P, html, name, w, h, data, body);
    else ib_strbuf_appendf(html, "<p class=note>(no plot: %s)</p>", P->missing_why);
    ib_strbuf_append(html, "<figcaption>");
    ib_html_escape(html, caption);
    ib_strbuf_append(html, "</figcaption></figure>\n");
}
