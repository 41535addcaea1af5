/* Text helpers the parts of the report share (internal to analysis/): numbers for people, and the
 * one escaper per output language through which every string that is not a literal of the program
 * passes (HTML, Markdown, CSV; gnuplot's is ib_gp_text in gnuplot.h), appending to fixed-size
 * arrays, writing a finished buffer into the output directory. */
#ifndef IB_REPORT_TEXT_H
#define IB_REPORT_TEXT_H

#include <string.h>

#include "strbuf.h"
#include "util.h"

/* A number for people: 3 significant digits, "n/a" for NAN. The text lives in a ring of 64
 * buffers, so that one printf may take many of them. */
const char *ib_sig3(double v);

/* s as HTML text or attribute value: <, >, &, " and ' escaped, so no string from a file or flag
 * can open a tag or leave an attribute. */
void ib_html_escape(ib_strbuf *b, const char *s);

/* s as Markdown text (also safe in a table cell): <, > and & as entities (no raw HTML, no
 * autolink), the characters that open code, links, emphasis or cells (\ ` [ ] | * _) escaped with
 * a backslash, CR and LF as spaces (no new block). */
void ib_md_text(ib_strbuf *b, const char *s);
/* s as one Markdown code span: fenced with one backtick more than its longest run of backticks
 * and padded with spaces, CR and LF as spaces; a code span shows its text literally (no HTML). */
void ib_md_code(ib_strbuf *b, const char *s);

/* s as one CSV field (RFC 4180): quoted when it holds a comma, a double quote, CR or LF, or starts
 * or ends with a space; inner double quotes doubled. Every string field of the report's tables
 * goes through here. */
void ib_csv_field(ib_strbuf *b, const char *s);

/* printf-style append to a char array, truncating; buf must be an array (sizeof sees its size). */
#define IB_STRCATF(buf, ...) ib_snprintf((buf) + strlen(buf), sizeof(buf) - strlen(buf), __VA_ARGS__)

/* Write b as DIR/NAME atomically. */
int ib_write_strbuf(const char *dir, const char *name, const ib_strbuf *b, ib_err *err);

#endif
