/* minitest.h - a tiny test harness: every failed check counts, and the
 * program's exit status is the number of failures (capped). */
#ifndef MINITEST_H
#define MINITEST_H
#include <math.h>
#include <stdio.h>

static int mt_fail = 0, mt_pass = 0;

#define CHECK(cond) do { if (cond) mt_pass++; else { mt_fail++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECKF(cond, ...) do { if (cond) mt_pass++; else { mt_fail++; \
    fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
/* |a-b| <= tol*(1+|b|), and both finite */
#define CHECK_NEAR(a, b, tol) do { double _a = (a), _b = (b); \
    CHECKF(isfinite(_a) && isfinite(_b) && fabs(_a - _b) <= (tol) * (1 + fabs(_b)), \
           "%s = %.9g, %s = %.9g", #a, _a, #b, _b); } while (0)
#define MT_DONE(name) do { printf("%-24s %d checks passed, %d failed\n", name, mt_pass, mt_fail); \
    return mt_fail > 100 ? 100 : mt_fail; } while (0)
#endif
