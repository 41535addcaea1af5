#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void ib_strbuf_init(ib_strbuf *b) { memset(b, 0, sizeof *b); }

/* Room for `more` bytes of text and the NUL; doubling keeps appends amortised O(1). */
static void reserve(ib_strbuf *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) ib_die(IB_EXIT_INTERNAL, "out of memory allocating %zu bytes", cap);
    b->p = p;
    b->cap = cap;
}

void ib_strbuf_append_n(ib_strbuf *b, const char *s, size_t n) {
    reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void ib_strbuf_append(ib_strbuf *b, const char *s) { ib_strbuf_append_n(b, s, strlen(s)); }

void ib_strbuf_appendf(ib_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ib_strbuf_clear(ib_strbuf *b) {
    b->len = 0;
    if (b->p) b->p[0] = 0;
}

const char *ib_strbuf_str(const ib_strbuf *b) { return b->p ? b->p : ""; }

void ib_strbuf_free(ib_strbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}
