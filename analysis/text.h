/* Text helpers the parts of the report share (internal to analysis/): numbers for people, HTML
 * escaping, appending to fixed-size arrays, writing a finished buffer into the output directory. */
#ifndef IB_REPORT_TEXT_H
#define IB_REPORT_TEXT_H

#include <string.h>

#include "strbuf.h"
#include "util.h"

/* A number for people: 3 significant digits, "n/a" for NAN. The text lives in a ring of 64
 * buffers, so that one printf may take many of them. */
const char *ib_sig3(double v);

/* s as HTML text: <, >, & and " escaped. */
void ib_html_escape(ib_strbuf *b, const char *s);

/* printf-style append to a char array, truncating; buf must be an array (sizeof sees its size). */
#define IB_STRCATF(buf, ...) ib_snprintf((buf) + strlen(buf), sizeof(buf) - strlen(buf), __VA_ARGS__)

/* Write b as DIR/NAME atomically. */
int ib_write_strbuf(const char *dir, const char *name, const ib_strbuf *b, ib_err *err);

#endif
