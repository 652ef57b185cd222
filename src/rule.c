/* rule.c - the out-of-line part of rule.h: the median used by the trace and
 * the trainers' metrics. */
#include <stddef.h>
#include "rule.h"

/* The k-th smallest of v[0..n) by Wirth's selection (v reordered: afterwards
 * v[i] <= v[k] for i < k and v[i] >= v[k] for i > k). */
static double select_kth(double *v, long n, long k) {
    long l = 0, m = n - 1;
    while (l < m) {
        double x = v[k];
        long i = l, j = m;
        do {
            while (v[i] < x) i++;
            while (x < v[j]) j--;
            if (i <= j) { double t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }
        } while (i <= j);
        if (j < k) l = i;
        if (k < i) m = j;
    }
    return v[k];
}

double ffr_median(double *v, size_t n) {
    if (n == 0) return NAN;
    double hi = select_kth(v, (long)n, (long)(n / 2));
    if (n & 1) return hi;
    /* the largest of the lower half: after selection every v[i < n/2] <= v[n/2] */
    double lo = v[0];
    for (size_t i = 1; i < n / 2; i++) lo = v[i] > lo ? v[i] : lo;
    return 0.5 * (lo + hi);
}
