/* The field checks of every src/rundir reader (see names.h). */
#include "names.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Character classes, one bit each, so that a check is one table look-up per byte. */
enum {
    C_NAME = 1,   /* [A-Za-z0-9_.-] */
    C_PATH = 2,   /* a path component: the name characters and '+' */
    C_SPEC = 4,   /* [a-z0-9:,./+-] */
    C_TIME = 8,   /* [0-9A-Za-z:.+-] */
    C_EVENT = 16, /* [A-Za-z0-9_.,:=+-] */
};

/* The classes of byte c (computed, not a table filled at run time: no state shared by threads). */
static inline unsigned char char_class(unsigned char c) {
    int lower = c >= 'a' && c <= 'z', alnum = lower || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    unsigned char k = 0;
    if (alnum || c == '_' || c == '.' || c == '-') k |= C_NAME | C_PATH;
    if (c == '+') k |= C_PATH;
    if (lower || (c >= '0' && c <= '9') || c == ':' || c == ',' || c == '.' || c == '/' || c == '+' || c == '-')
        k |= C_SPEC;
    if (alnum || c == ':' || c == '.' || c == '+' || c == '-') k |= C_TIME;
    if (alnum || c == '_' || c == '.' || c == ',' || c == ':' || c == '=' || c == '+' || c == '-') k |= C_EVENT;
    return k;
}

/* The first len bytes of s are all of class k. */
static int all_of(const char *s, size_t len, unsigned char k) {
    for (size_t i = 0; i < len; i++)
        if (!(char_class((unsigned char)s[i]) & k)) return 0;
    return 1;
}

int ib_name_ok_n(const char *s, size_t len) {
    if (!s || len < 1 || len > IB_NAME_MAX) return 0;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) return 0;
    return all_of(s, len, C_NAME);
}

int ib_name_ok(const char *s) {
    if (!s) return 0;
    size_t n = strnlen(s, IB_NAME_MAX + 1);
    return n <= IB_NAME_MAX && ib_name_ok_n(s, n);
}

int ib_relpath_ok(const char *s, size_t max) {
    if (!s) return 0;
    size_t n = strnlen(s, max + 1);
    if (n < 1 || n > max || strstr(s, "..")) return 0;
    for (const char *c = s;;) {
        const char *slash = strchr(c, '/');
        size_t len = slash ? (size_t)(slash - c) : strlen(c);
        if (len == 0 || c[0] == '-' || (len == 1 && c[0] == '.') || !all_of(c, len, C_PATH)) return 0;
        if (!slash) return 1;
        c = slash + 1;
    }
}

int ib_abspath_ok(const char *s) {
    if (!s || s[0] != '/') return 0;
    size_t n = strnlen(s, IB_PATH_TEXT_MAX + 1);
    if (n > IB_PATH_TEXT_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    if (n == 1) return 1;
    for (const char *c = s + 1;;) { /* the components after each '/' */
        const char *slash = strchr(c, '/');
        size_t len = slash ? (size_t)(slash - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) return 0;
        if (!slash) return 1;
        c = slash + 1;
    }
}

int ib_spec_text_ok(const char *s, int spaces) {
    if (!s) return 0;
    size_t n = strnlen(s, IB_SPEC_TEXT_MAX + 1);
    if (n < 1 || n > IB_SPEC_TEXT_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(char_class((unsigned char)s[i]) & C_SPEC) && !(spaces && s[i] == ' ')) return 0;
    return 1;
}

int ib_time_text_ok(const char *s) {
    size_t n = s ? strnlen(s, 64) : 0;
    return n >= 1 && n <= 63 && all_of(s, n, C_TIME);
}

int ib_hostname_ok(const char *s) {
    size_t n = s ? strnlen(s, 256) : 256;
    return n <= 255 && all_of(s, n, C_NAME);
}

int ib_job_id_ok(const char *s) {
    size_t n = s ? strnlen(s, 48) : 0;
    return n >= 1 && n <= 47 && all_of(s, n, C_PATH);
}

int ib_event_list_ok(const char *s) {
    size_t n = s ? strnlen(s, 1025) : 0;
    return n >= 1 && n <= 1024 && all_of(s, n, C_EVENT);
}

int ib_text_clean(char *s) {
    size_t n = strnlen(s, IB_TEXT_MAX + 1);
    if (n > IB_TEXT_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) s[i] = ' ';
    return 1;
}

/* ---- numbers ---------------------------------------------------------------------------------- */

static int all_digits(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return len > 0;
}

int ib_parse_u64(const char *s, size_t len, unsigned long long *v) {
    if (!s || len < 1 || len > 20 || !all_digits(s, len)) return 0;
    unsigned long long x = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (ULLONG_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

int ib_parse_step(const char *s, size_t len, long long *v) {
    if (!s || len < 1 || len > 15 || !all_digits(s, len)) return 0;
    long long x = 0;
    for (size_t i = 0; i < len; i++) x = x * 10 + (s[i] - '0');
    *v = x;
    return 1;
}

/* strtod of the len (<= 64) bytes at s, whose grammar is checked: a function of its own, so that
 * the common path keeps no array on its stack (sanitizer builds poison one at every call). */
static __attribute__((noinline)) double strtod_n(const char *s, size_t len) {
    char buf[72];
    memcpy(buf, s, len);
    buf[len] = 0;
    return strtod(buf, NULL);
}

const char *ib_parse_real_prefix(const char *s, const char *end, double *v) {
    const char *p = s;
    int neg = 0;
    if (p < end && (*p == '+' || *p == '-')) neg = *p++ == '-';
    /* the digits as one integer; more than 19 of them would overflow it (then strtod decides) */
    uint64_t mant = 0;
    const char *d0 = p;
    while (p < end && (unsigned)(*p - '0') < 10) mant = mant * 10 + (uint64_t)(*p++ - '0');
    int digits = (int)(p - d0), exp10 = 0;
    if (p < end && *p == '.') {
        const char *f0 = ++p;
        while (p < end && (unsigned)(*p - '0') < 10) mant = mant * 10 + (uint64_t)(*p++ - '0');
        exp10 = -(int)(p - f0);
        digits += (int)(p - f0);
    }
    if (!digits) return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0, ed = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        for (; p < end && (unsigned)(*p - '0') < 10; p++, ed++)
            if (e < 100000) e = e * 10 + (*p - '0');
        if (!ed) return NULL;
        exp10 += eneg ? -e : e;
    }
    if (p - s > 64) return NULL;
    double x;
    if (digits <= 19 && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        /* both exact in a double: one rounding, the correctly rounded result */
        static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        x = exp10 < 0 ? (double)mant / p10[-exp10] : (double)mant * p10[exp10];
        if (neg) x = -x;
    } else {
        x = strtod_n(s, (size_t)(p - s));
    }
    if (!isfinite(x)) return NULL;
    *v = x;
    return p;
}

int ib_parse_real(const char *s, size_t len, double *v) {
    double x;
    if (!s || len < 1 || len > 64 || ib_parse_real_prefix(s, s + len, &x) != s + len) return 0;
    *v = x;
    return 1;
}

/* s[0..len) equals word ignoring ASCII case. */
static int word_is(const char *s, size_t len, const char *word) {
    if (strlen(word) != len) return 0;
    for (size_t i = 0; i < len; i++)
        if ((s[i] | 0x20) != word[i]) return 0;
    return 1;
}

int ib_parse_csv_number(const char *s, size_t len, double *v) {
    if (len == 0) {
        *v = NAN;
        return 1;
    }
    if (ib_parse_real(s, len, v)) return 1;
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-', len--;
    if (word_is(p, len, "nan")) {
        *v = NAN;
        return 1;
    }
    if (word_is(p, len, "inf") || word_is(p, len, "infinity")) {
        *v = neg ? -INFINITY : INFINITY;
        return 1;
    }
    return 0;
}
