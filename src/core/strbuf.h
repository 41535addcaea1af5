/* A growable, always NUL-terminated string: for text built piece by piece (CSV tables, pages,
 * scripts) and written out at once. Allocation cannot fail silently: on OOM the process exits
 * with a message, as ib_xmalloc does. */
#ifndef IB_STRBUF_H
#define IB_STRBUF_H

#include <stddef.h>

/* A zeroed ib_strbuf ({0}) is an empty buffer too; p is NULL until something is appended. */
typedef struct ib_strbuf {
    char *p;    /* the text, NUL-terminated once anything was appended */
    size_t len; /* bytes of text, without the NUL */
    size_t cap; /* bytes allocated */
} ib_strbuf;

void ib_strbuf_init(ib_strbuf *b);
void ib_strbuf_append(ib_strbuf *b, const char *s);
void ib_strbuf_append_n(ib_strbuf *b, const char *s, size_t n); /* n bytes of s, which need no NUL */
/* printf-style; a format that vsnprintf rejects (an encoding error) appends nothing. */
void ib_strbuf_appendf(ib_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empty the text, keeping the memory for reuse. */
void ib_strbuf_clear(ib_strbuf *b);
/* The text, "" for a buffer that never held any. */
const char *ib_strbuf_str(const ib_strbuf *b);
void ib_strbuf_free(ib_strbuf *b);

#endif
