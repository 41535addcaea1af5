/* Minimal assertions for the C tests: each failed CHECK prints where and why and is counted;
 * the test's main returns check_finish(), non-zero when any check failed. */
#ifndef IB_TEST_CHECK_H
#define IB_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures_ = 0;
static int check_count_ = 0;

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        check_count_++;                                                          \
        if (!(cond)) {                                                           \
            check_failures_++;                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

/* |a - b| <= tol * max(|a|, |b|, floor) */
#define CHECK_REL(a, b, tol, floor_)                                                        \
    do {                                                                                    \
        double a_ = (a), b_ = (b);                                                          \
        double s_ = fmax(fmax(fabs(a_), fabs(b_)), (floor_));                               \
        CHECK(fabs(a_ - b_) <= (tol) * s_, "%s = %.9g vs %s = %.9g (rel %.3g > %.3g)", #a, a_, #b, \
              b_, fabs(a_ - b_) / s_, (double)(tol));                                       \
    } while (0)

static inline int check_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count_, check_failures_);
    return check_failures_ ? 1 : 0;
}

#endif
