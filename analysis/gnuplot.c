#define _GNU_SOURCE /* posix_spawn_file_actions_addfchdir_np (glibc 2.29) */
#include "gnuplot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "text.h"

extern char **environ;

void ib_gp_text(ib_strbuf *b, const char *s) {
    static const char keep[] = " .,:()+=-";
    for (int n = 0; *s && n < IB_GP_TEXT_MAX; s++, n++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(keep, c);
        ib_strbuf_append_n(b, ok ? &c : " ", 1);
    }
}

/* A figure's name becomes its file names: only the program's own names ([a-z0-9_]) are taken. */
static int name_ok(const char *name) {
    if (!*name || strlen(name) > 64) return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return 1;
}

/* ---- files of the temporary directory, only through its descriptor ---- */

/* Create NAME in the temporary directory afresh (O_EXCL, never through a link) and write len bytes. */
static int tmp_write(const ib_plotter *P, const char *name, const char *data, size_t len) {
    unlinkat(P->tmp_fd, name, 0); /* a file of ours from before, or a link: the name itself goes */
    int fd = openat(P->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        data += w, len -= (size_t)w;
    }
    return close(fd);
}

/* Read NAME (a plain file, not followed through a link) from the temporary directory, NUL-terminated. */
static char *tmp_read(const ib_plotter *P, const char *name) {
    int fd = openat(P->tmp_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (1 << 28)) {
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = ib_xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more) ib_die(IB_EXIT_INTERNAL, "out of memory reading %s", name);
            buf = more;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    return buf;
}

/* gnuplot SCRIPT (a name in the temporary directory, which is its working directory) with stdin
 * from /dev/null and stdout+stderr into LOG (created there, never through a link): its exit
 * status, -1 when it cannot be started, 128 when it died of a signal. */
static int run_gnuplot(const ib_plotter *P, const char *script, const char *log) {
    unlinkat(P->tmp_fd, log, 0);
    int logfd = openat(P->tmp_fd, log, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (logfd < 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addfchdir_np(&fa, P->tmp_fd);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, logfd, 1);
    posix_spawn_file_actions_adddup2(&fa, logfd, 2);
    char *argv[] = {(char *)P->gnuplot, (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, P->gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(logfd);
    if (rc) return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int gnuplot_works(const ib_plotter *P) {
    const char *probe = "set terminal svg\nset output '/dev/null'\nplot x\n";
    if (tmp_write(P, "probe.gp", probe, strlen(probe))) return 0;
    return run_gnuplot(P, "probe.gp", "probe.log") == 0;
}

/* gnuplot runs in the temporary directory: a relative path given for it (--gnuplot ./gp) is made
 * absolute first; a bare name is looked up on PATH as before. */
static void resolve_gnuplot(ib_plotter *P, const char *gnuplot) {
    P->gnuplot = gnuplot ? gnuplot : "gnuplot";
    char abs[PATH_MAX];
    if (strchr(P->gnuplot, '/') && P->gnuplot[0] != '/' && realpath(P->gnuplot, abs) &&
        strlen(abs) < sizeof P->gnuplot_abs) {
        ib_snprintf(P->gnuplot_abs, sizeof P->gnuplot_abs, "%s", abs);
        P->gnuplot = P->gnuplot_abs;
    }
}

int ib_plotter_open(ib_plotter *P, const char *gnuplot, const char *format, const char *out_dir, ib_err *err) {
    memset(P, 0, sizeof *P);
    P->out_fd = P->tmp_fd = P->figures_fd = -1;
    P->out = out_dir;
    P->format = format && strcmp(format, "svg") ? format : NULL;
    resolve_gnuplot(P, gnuplot);
    /* a fresh directory of our own each time (mkdtemp: unpredictable, 0700, never reused), opened
     * once; what is in it is made, read and removed through that descriptor */
    if (ib_snprintf(P->tmp, sizeof P->tmp, "%s/.report-tmp.XXXXXX", out_dir) >= (int)sizeof P->tmp)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", out_dir);
    P->out_fd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (P->out_fd < 0) return ib_fail(err, IB_EXIT_USAGE, "cannot open %s: %s", out_dir, strerror(errno));
    if (!mkdtemp(P->tmp)) {
        int e = errno;
        close(P->out_fd);
        P->out_fd = -1;
        return ib_fail(err, IB_EXIT_USAGE, "cannot create a temporary directory in %s: %s", out_dir, strerror(e));
    }
    P->tmp_fd = openat(P->out_fd, strrchr(P->tmp, '/') + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (P->tmp_fd < 0) {
        int e = errno;
        unlinkat(P->out_fd, strrchr(P->tmp, '/') + 1, AT_REMOVEDIR);
        close(P->out_fd);
        P->out_fd = -1;
        return ib_fail(err, IB_EXIT_INTERNAL, "cannot open %s: %s", P->tmp, strerror(e));
    }
    P->has_tmp = 1;
    P->available = gnuplot_works(P);
    if (!P->available) {
        ib_snprintf(P->missing_why, sizeof P->missing_why,
                    "gnuplot ('%s') could not be run; apt-get install gnuplot-nox", P->gnuplot);
        fprintf(stderr, "initbench: report: %s: writing the tables and a page without plots\n", P->missing_why);
    }
    return 0;
}

void ib_plotter_open_scripts(ib_plotter *P, const char *format, ib_strbuf *scripts) {
    memset(P, 0, sizeof *P);
    P->out_fd = P->tmp_fd = P->figures_fd = -1;
    P->gnuplot = "gnuplot";
    P->out = ".";
    P->format = format && strcmp(format, "svg") ? format : NULL;
    P->available = 1;
    P->scripts = scripts;
}

/* Everything in the temporary directory is initbench's own: each entry is removed by name through
 * the directory's descriptor (unlinkat removes a link, never what it points to), then the
 * directory itself through OUT's descriptor. */
void ib_plotter_close(ib_plotter *P) {
    if (P->has_tmp) {
        int dfd = dup(P->tmp_fd);
        DIR *dp = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (dp) {
            for (struct dirent *de; (de = readdir(dp));) {
                struct stat st;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
                if (fstatat(P->tmp_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) continue;
                unlinkat(P->tmp_fd, de->d_name, 0);
            }
            closedir(dp);
        } else if (dfd >= 0) {
            close(dfd);
        }
        unlinkat(P->out_fd, strrchr(P->tmp, '/') + 1, AT_REMOVEDIR);
        P->has_tmp = 0;
    }
    if (P->tmp_fd >= 0) close(P->tmp_fd);
    if (P->out_fd >= 0) close(P->out_fd);
    if (P->figures_fd >= 0) close(P->figures_fd);
    P->tmp_fd = P->out_fd = P->figures_fd = -1;
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

/* The script: one pass for the inline SVG, and a second for the paper format. Every file name is
 * NAME.ext, relative to the temporary directory gnuplot runs in. */
static void build_script(const ib_plotter *P, ib_strbuf *s, const char *name, int w, int h, const char *body) {
    for (int pass = 0; pass < (P->format ? 2 : 1); pass++) {
        ib_strbuf_append(s, "reset\n");
        if (pass == 0)
            ib_strbuf_appendf(s, "set terminal svg size %d,%d dynamic enhanced font 'sans,11' background '#ffffff'\n"
                              "set output '%s.svg'\n", w, h, name);
        else if (!strcmp(P->format, "png"))
            ib_strbuf_appendf(s, "set terminal pngcairo size %d,%d enhanced font 'sans,10' background '#ffffff'\n"
                              "set output '%s.png'\n", w * 2, h * 2, name);
        else
            ib_strbuf_appendf(s, "set terminal pdfcairo size %.2fin,%.2fin enhanced font 'sans,8'\nset output '%s.pdf'\n",
                              w / 100.0, h / 100.0, name);
        ib_strbuf_appendf(s, "%sDAT = '%s.dat'\n%s\nset output\n", TERM_COMMON, name, body);
    }
}

/* The note for a figure gnuplot did not draw, with gnuplot's own messages. */
static void failure_note(const ib_plotter *P, ib_strbuf *html, const char *name, const char *log_name, int rc) {
    ib_strbuf_append(html, "<p class=note>(plot ");
    ib_html_escape(html, name);
    ib_strbuf_appendf(html, " failed: gnuplot exit %d", rc);
    char *log = tmp_read(P, log_name);
    if (log) {
        ib_strbuf_append(html, ": ");
        ib_html_escape(html, log);
        free(log);
    }
    ib_strbuf_append(html, ")</p>");
}

/* Move the paper-format copy into OUT/figures (best effort: the page has the figure anyway).
 * OUT/figures is made and opened through OUT's descriptor, never through a link. */
static void keep_paper_copy(ib_plotter *P, const char *name) {
    if (P->figures_fd < 0) {
        if (mkdirat(P->out_fd, "figures", 0777) && errno != EEXIST) return;
        P->figures_fd = openat(P->out_fd, "figures", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (P->figures_fd < 0) {
            fprintf(stderr, "initbench: report: %s/figures is not a directory of its own (%s): paper copies not kept\n",
                    P->out, strerror(errno));
            P->figures_fd = -2; /* said once */
            return;
        }
    }
    if (P->figures_fd < 0) return;
    char file[96];
    ib_snprintf(file, sizeof file, "%s.%s", name, P->format);
    renameat(P->tmp_fd, file, P->figures_fd, file);
}

/* Draw the figure and append its SVG, or a note saying why there is none. */
static void plot(ib_plotter *P, ib_strbuf *html, const char *name, int w, int h, const ib_strbuf *data,
                 const char *body) {
    ib_strbuf script = {0};
    build_script(P, &script, name, w, h, body);
    if (P->scripts) {
        ib_strbuf_appendf(P->scripts, "#### data %s\n%s#### script %s\n%s", name, ib_strbuf_str(data), name,
                          ib_strbuf_str(&script));
        ib_strbuf_append(html, "<p class=note>(scripts only: no plot drawn)</p>");
        ib_strbuf_free(&script);
        return;
    }
    char dat[96], gp[96], svg_name[96], log[96];
    ib_snprintf(dat, sizeof dat, "%s.dat", name);
    ib_snprintf(gp, sizeof gp, "%s.gp", name);
    ib_snprintf(svg_name, sizeof svg_name, "%s.svg", name);
    ib_snprintf(log, sizeof log, "%s.log", name);
    int bad = tmp_write(P, dat, ib_strbuf_str(data), data->len) || tmp_write(P, gp, script.p, script.len);
    ib_strbuf_free(&script);
    if (bad) {
        ib_strbuf_append(html, "<p class=note>(no plot: cannot write ");
        ib_html_escape(html, gp);
        ib_strbuf_append(html, " in the temporary directory)</p>");
        P->n_failed++;
        return;
    }
    unlinkat(P->tmp_fd, svg_name, 0);
    int rc = run_gnuplot(P, gp, log);
    char *svg = rc == 0 ? tmp_read(P, svg_name) : NULL;
    if (!svg) {
        failure_note(P, html, name, log, rc);
        P->n_failed++;
        return;
    }
    svg_inline(html, svg, P->seq++);
    free(svg);
    if (P->format) keep_paper_copy(P, name);
}

void ib_figure(ib_plotter *P, ib_strbuf *html, const char *name, const char *caption, int w, int h,
               const ib_strbuf *data, const char *body) {
    P->n_plots++;
    ib_strbuf_append(html, "<figure>");
    if (!name_ok(name)) {
        ib_strbuf_append(html, "<p class=note>(no plot: bad figure name)</p>");
        P->n_failed++;
    } else if (P->available) {
        plot(P, html, name, w, h, data, body);
    } else {
        ib_strbuf_append(html, "<p class=note>(no plot: ");
        ib_html_escape(html, P->missing_why);
        ib_strbuf_append(html, ")</p>");
    }
    ib_strbuf_append(html, "<figcaption>");
    ib_html_escape(html, caption);
    ib_strbuf_append(html, "</figcaption></figure>\n");
}
