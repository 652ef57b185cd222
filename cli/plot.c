/* plot.c - small scientific plots on cairo: line panels with bands, legends,
 * linear and log10 axes, and grayscale image grids. PNG, SVG or PDF by the
 * output file's extension, written atomically through ffr_out (the library's output files).
 *
 * Layout of one panel (all sizes in device units: pixels for PNG, points for
 * SVG/PDF):
 *   | pad | ylabel | ytick labels | tick | plot area | pad |
 * with the title above and the xtick labels and xlabel below. Margins are
 * measured from the actual tick-label text, so labels never overlap the frame.
 * The library never prints: every failure returns a status with a message. */
#include <cairo.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "plot.h"

#define FONT "sans-serif"
#define FS_TICK 11.0
#define FS_LABEL 12.5
#define FS_TITLE 13.5
#define FS_SUPTITLE 15.5
#define FS_LEGEND 11.0
#define MAX_TICKS 64
#define MAX_SIDE 32767 /* cairo image surfaces are limited to 32767 pixels a side */
#define PI 3.14159265358979323846
#define PX_CLAMP 1e6   /* device coordinates are clamped here (cairo uses 24.8 fixed point) */

/* Okabe-Ito: colorblind-safe, yellow last because it is faint on white. */
static const unsigned palette[] = {0x0072B2, 0xD55E00, 0x009E73, 0xE69F00,
                                   0xCC79A7, 0x56B4E9, 0x000000, 0xF0E442};

typedef enum { FMT_PNG, FMT_SVG, FMT_PDF, FMT_BAD } out_fmt;

static out_fmt fmt_of(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return FMT_BAD;
    char e[8] = {0};
    for (int i = 0; i < 7 && dot[i + 1]; i++) {
        char c = dot[i + 1];
        e[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    if (strlen(dot + 1) > 4) return FMT_BAD;
    if (!strcmp(e, "png")) return FMT_PNG;
    if (!strcmp(e, "svg")) return FMT_SVG;
    if (!strcmp(e, "pdf")) return FMT_PDF;
    return FMT_BAD;
}

static void set_rgb(cairo_t *cr, unsigned rgb, double alpha) {
    cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                          (rgb & 255) / 255.0, alpha);
}

/* ------------------------------------------------------------ output files */
typedef struct {
    ffr_out *o;
    int failed;
    ffr_err err;
} sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int len) {
    sink *s = closure;
    if (s->failed) return CAIRO_STATUS_WRITE_ERROR;
    if (ffr_out_write(s->o, data, len, &s->err)) {
        s->failed = 1;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

/* Opens the temporary file and makes the surface for the format: an image
 * surface for PNG (encoded at the end), a streaming vector surface otherwise. */
static ffr_status out_open(sink *s, const char *path, out_fmt fmt, int W, int H,
                           cairo_surface_t **surf, ffr_err *err) {
    memset(s, 0, sizeof *s);
    *surf = NULL;
    ffr_status st = ffr_out_open(&s->o, path, err);
    if (st) return st;
    if (fmt == FMT_PNG)
        *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    else if (fmt == FMT_SVG)
        *surf = cairo_svg_surface_create_for_stream(sink_write, s, W, H);
    else
        *surf = cairo_pdf_surface_create_for_stream(sink_write, s, W, H);
    cairo_status_t cs = cairo_surface_status(*surf);
    if (cs != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(*surf);
        *surf = NULL;
        ffr_out_abort(s->o);
        return ffr_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? FFR_ERR_NOMEM : FFR_ERR_IO,
                        "%s: cannot create a %dx%d cairo surface: %s", path, W, H,
                        cairo_status_to_string(cs));
    }
    return FFR_OK;
}

/* Finishes the drawing (cr is destroyed here), writes and renames into place. */
static ffr_status out_close(sink *s, const char *path, out_fmt fmt, cairo_t *cr,
                            cairo_surface_t *surf, ffr_err *err) {
    cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    if (cs == CAIRO_STATUS_SUCCESS && fmt == FMT_PNG)
        cs = cairo_surface_write_to_png_stream(surf, sink_write, s);
    cairo_surface_finish(surf);
    if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    if (s->failed) {
        ffr_out_abort(s->o);
        return ffr_fail(err, s->err.code, "%s", s->err.msg);
    }
    if (cs != CAIRO_STATUS_SUCCESS) {
        ffr_out_abort(s->o);
        return ffr_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? FFR_ERR_NOMEM : FFR_ERR_IO,
                        "%s: cairo failed: %s", path, cairo_status_to_string(cs));
    }
    return ffr_out_commit(s->o, err);
}

/* -------------------------------------------------------------------- text */
/* A tick label: a mantissa and an optional superscript exponent ("10" "-3"). */
typedef struct {
    char base[40], sup[12];
} label;

static double text_w(cairo_t *cr, const char *s, double size) {
    cairo_text_extents_t te;
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &te);
    return te.x_advance;
}

static double label_w(cairo_t *cr, const label *l, double size) {
    double w = text_w(cr, l->base, size);
    if (l->sup[0]) w += text_w(cr, l->sup, size * 0.72) + 0.5;
    return w;
}

/* Draws l with its baseline-left corner at (x, y). */
static void label_draw(cairo_t *cr, const label *l, double x, double y, double size) {
    cairo_set_font_size(cr, size);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, l->base);
    if (l->sup[0]) {
        double w = text_w(cr, l->base, size);
        cairo_set_font_size(cr, size * 0.72);
        cairo_move_to(cr, x + w + 0.5, y - size * 0.42);
        cairo_show_text(cr, l->sup);
    }
}

/* Replaces ASCII '-' by the typographic minus U+2212 (as UTF-8). */
static void use_minus(char *s, size_t cap) {
    char tmp[64];
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 4 < sizeof tmp && j + 4 < cap; i++) {
        if (s[i] == '-') {
            tmp[j++] = (char)0xE2; tmp[j++] = (char)0x88; tmp[j++] = (char)0x92;
        } else {
            tmp[j++] = s[i];
        }
    }
    tmp[j] = 0;
    memcpy(s, tmp, j + 1);
}

/* Drawn text is the caller's: clip anything absurdly long to keep layouts sane. */
static void show_text_centered(cairo_t *cr, const char *s, double cx, double y, double size) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    double w = text_w(cr, buf, size);
    cairo_move_to(cr, cx - w / 2, y);
    cairo_show_text(cr, buf);
}

/* -------------------------------------------------------------------- axes */
typedef struct {
    int log;
    double lo, hi;              /* range in data units */
    double a, b;                /* device = a + b * t, t = value or log10(value) */
    int nmaj, nmin;
    double maj[MAX_TICKS], min[MAX_TICKS * 8];
    label lab[MAX_TICKS];
} axis;

static double ax_t(const axis *ax, double v) { return ax->log ? log10(v) : v; }

static double ax_dev(const axis *ax, double v) {
    double d = ax->a + ax->b * ax_t(ax, v);
    if (!(d > -PX_CLAMP)) d = -PX_CLAMP; /* also maps NaN somewhere harmless */
    if (d > PX_CLAMP) d = PX_CLAMP;
    return d;
}

/* One set of grid lines in gray g: vertical at X's values xs, horizontal at Y's ys. */
static void grid_lines(cairo_t *cr, double g, const axis *X, const double *xs, int nx, const axis *Y,
                       const double *ys, int ny, double px0, double px1, double py0, double py1) {
    cairo_set_source_rgb(cr, g, g, g);
    for (int i = 0; i < nx; i++) {
        double d = round(ax_dev(X, xs[i])) + 0.5;
        cairo_move_to(cr, d, py0); cairo_line_to(cr, d, py1);
    }
    for (int i = 0; i < ny; i++) {
        double d = round(ax_dev(Y, ys[i])) + 0.5;
        cairo_move_to(cr, px0, d); cairo_line_to(cr, px1, d);
    }
    cairo_stroke(cr);
}

static int valid_on(int log, double v) { return isfinite(v) && (!log || v > 0); }

/* 1-2-5 step near raw (> 0). */
static double nice_step(double raw) {
    double e = floor(log10(raw)), p = pow(10, e), f = raw / p;
    double m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return m * p;
}

/* double to int without undefined behaviour: NaN and out-of-range clamp. */
static int iclamp(double v, int lo, int hi) {
    return !(v >= lo) ? lo : v > hi ? hi : (int)v;
}

static void fmt_linear(label *l, double v, double step, double mag) {
    l->sup[0] = 0;
    if (v == 0) { snprintf(l->base, sizeof l->base, "0"); return; }
    if (mag >= 1e5 || mag < 1e-3) {
        /* m x 10^e with as few mantissa digits as the step needs */
        int e = iclamp(floor(log10(fabs(v)) + 1e-9), -400, 400);
        double m = v / pow(10, e);
        int dec = iclamp(ceil(log10(fabs(m) / (step / pow(10, e))) - 1e-9), 0, 6);
        char mb[32];
        snprintf(mb, sizeof mb, "%.*f", dec, m);
        /* trim trailing zeros */
        char *dot = strchr(mb, '.');
        if (dot) {
            char *end = mb + strlen(mb) - 1;
            while (end > dot && *end == '0') *end-- = 0;
            if (end == dot) *end = 0;
        }
        if (!strcmp(mb, "1") || !strcmp(mb, "-1"))
            snprintf(l->base, sizeof l->base, "%s10", mb[0] == '-' ? "-" : "");
        else
            snprintf(l->base, sizeof l->base, "%s\xc3\x97" "10", mb);
        snprintf(l->sup, sizeof l->sup, "%d", e);
    } else {
        int dec = iclamp(ceil(-log10(step) - 1e-9), 0, 10);
        snprintf(l->base, sizeof l->base, "%.*f", dec, v);
    }
    use_minus(l->base, sizeof l->base);
    use_minus(l->sup, sizeof l->sup);
}

/* Ticks for a linear range with about target major ticks. */
static void ticks_linear(axis *ax, int target) {
    double span = ax->hi - ax->lo;
    double step = nice_step(span / (target > 1 ? target : 1));
    if (!(step > 0) || !isfinite(step)) step = 1;
    double k0 = ceil(ax->lo / step - 1e-9), k1 = floor(ax->hi / step + 1e-9);
    if (k1 - k0 + 1 > MAX_TICKS) k1 = k0 + MAX_TICKS - 1;
    double mag = fmax(fabs(ax->lo), fabs(ax->hi));
    ax->nmaj = 0;
    for (double k = k0; k <= k1 && ax->nmaj < MAX_TICKS; k++) {
        double v = k * step;
        if (fabs(v) < step * 1e-9) v = 0;
        fmt_linear(&ax->lab[ax->nmaj], v, step, mag);
        ax->maj[ax->nmaj++] = v;
    }
    ax->nmin = 0;
}

static void fmt_decade(label *l, int e) {
    snprintf(l->base, sizeof l->base, "10");
    snprintf(l->sup, sizeof l->sup, "%d", e);
    use_minus(l->sup, sizeof l->sup);
}

/* Decade ticks (every k-th labelled when there are many), minor ticks 2..9.
 * A range that holds fewer than two decades gets labelled 1-2-5 ticks. */
static void ticks_log(axis *ax, int target) {
    double t0 = log10(ax->lo), t1 = log10(ax->hi);
    int e0 = (int)ceil(t0 - 1e-9), e1 = (int)floor(t1 + 1e-9);
    ax->nmaj = ax->nmin = 0;
    if (e1 - e0 + 1 >= 2) {
        int every = 1;
        while ((e1 - e0) / every + 1 > (target > 2 ? target : 2) + 1) every++;
        /* anchor on multiples of every so that 10^0 is labelled when present */
        for (int e = e0; e <= e1 && ax->nmaj < MAX_TICKS; e++) {
            if (((e % every) + every) % every) continue;
            ax->maj[ax->nmaj] = pow(10, e);
            fmt_decade(&ax->lab[ax->nmaj++], e);
        }
        if (every == 1) {
            for (int e = (int)floor(t0); e <= e1 && ax->nmin < MAX_TICKS * 8; e++)
                for (int m = 2; m <= 9; m++) {
                    double v = m * pow(10, e);
                    if (v >= ax->lo && v <= ax->hi && ax->nmin < MAX_TICKS * 8)
                        ax->min[ax->nmin++] = v;
                }
        } else {
            for (int e = e0; e <= e1 && ax->nmin < MAX_TICKS * 8; e++)
                if (((e % every) + every) % every) ax->min[ax->nmin++] = pow(10, e);
        }
        return;
    }
    /* less than two decades: 1-2-5 mantissas, then everything 1..9, else linear */
    static const int sets[2][9] = {{1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int nset[2] = {3, 9};
    for (int si = 0; si < 2; si++) {
        ax->nmaj = 0;
        for (int e = (int)floor(t0); e <= (int)floor(t1) + 1; e++)
            for (int j = 0; j < nset[si]; j++) {
                double v = sets[si][j] * pow(10, e);
                if (v >= ax->lo * (1 - 1e-12) && v <= ax->hi * (1 + 1e-12) &&
                    ax->nmaj < MAX_TICKS) {
                    double mag = fmax(ax->lo, ax->hi);
                    fmt_linear(&ax->lab[ax->nmaj], v, pow(10, e), mag);
                    ax->maj[ax->nmaj++] = v;
                }
            }
        if (ax->nmaj >= 2) break;
    }
    if (ax->nmaj < 2) { /* a tiny range: linear ticks */
        ticks_linear(ax, target);
        for (int i = 0; i < ax->nmaj; i++) /* keep only positive ticks */
            if (!(ax->maj[i] > 0)) {
                memmove(&ax->maj[i], &ax->maj[i + 1], (size_t)(ax->nmaj - i - 1) * sizeof(double));
                memmove(&ax->lab[i], &ax->lab[i + 1], (size_t)(ax->nmaj - i - 1) * sizeof(label));
                ax->nmaj--; i--;
            }
        return;
    }
    for (int e = (int)floor(t0); e <= (int)floor(t1) && ax->nmin < MAX_TICKS * 8; e++)
        for (int m = 2; m <= 9; m++) {
            double v = m * pow(10, e);
            if (v >= ax->lo && v <= ax->hi && ax->nmin < MAX_TICKS * 8) ax->min[ax->nmin++] = v;
        }
}

/* Data range of one coordinate over the panel's series (and bands for y). */
static int data_range(const ffr_panel *p, int want_y, int log, double *lo, double *hi) {
    double mn = INFINITY, mx = -INFINITY;
    for (int s = 0; s < p->nseries; s++) {
        const ffr_series *se = &p->series[s];
        for (int i = 0; i < se->n; i++) {
            /* x spans every point with a valid x (a line that ends in zeros on
             * a log axis keeps its x extent); y counts the line and the band */
            if (!valid_on(p->logx, se->x[i])) continue;
            if (!want_y) {
                mn = fmin(mn, se->x[i]); mx = fmax(mx, se->x[i]);
                continue;
            }
            const double *vs[3] = {se->y, se->lo, se->hi};
            for (int k = 0; k < 3; k++)
                if (vs[k] && valid_on(log, vs[k][i])) {
                    mn = fmin(mn, vs[k][i]); mx = fmax(mx, vs[k][i]);
                }
        }
    }
    if (!(mn <= mx)) return 0;
    *lo = mn; *hi = mx;
    return 1;
}

/* Final range of an axis from the data and the user's limits (NAN = auto). */
static void axis_range(axis *ax, int have, double dlo, double dhi, double ulo, double uhi,
                       double margin) {
    double lo, hi;
    if (ax->log) {
        double t0, t1;
        if (have) { t0 = log10(dlo); t1 = log10(dhi); } else { t0 = 0; t1 = 1; }
        if (t1 - t0 < 1e-9) { t0 -= 0.5; t1 += 0.5; }
        else { double m = (t1 - t0) * margin; t0 -= m; t1 += m; }
        if (!isnan(ulo)) t0 = log10(ulo);
        if (!isnan(uhi)) t1 = log10(uhi);
        if (!(t1 > t0)) { if (isnan(ulo)) t0 = t1 - 1; else t1 = t0 + 1; }
        t0 = fmax(t0, -300); t1 = fmin(t1, 300);
        if (!(t1 > t0)) { t0 = 0; t1 = 1; }
        lo = pow(10, t0); hi = pow(10, t1);
    } else {
        if (have) { lo = dlo; hi = dhi; } else { lo = 0; hi = 1; }
        if (hi - lo <= fmax(fabs(lo), fabs(hi)) * 1e-12) {
            double d = lo == 0 ? 1 : fabs(lo) * 0.1;
            lo -= d; hi += d;
        } else {
            double m = (hi - lo) * margin;
            lo -= m; hi += m;
        }
        if (!isnan(ulo)) lo = ulo;
        if (!isnan(uhi)) hi = uhi;
        if (!(hi > lo)) {
            double d = fmax(fabs(isnan(ulo) ? hi : lo) * 0.1, 1);
            if (isnan(ulo)) lo = hi - d; else hi = lo + d;
        }
        if (!isfinite(hi - lo)) { lo = -DBL_MAX / 4; hi = DBL_MAX / 4; }
    }
    ax->lo = lo; ax->hi = hi;
}

/* ------------------------------------------------------------------ panels */
static ffr_status check_panel(const ffr_panel *p, int ip, const char *path, ffr_err *err) {
    const double lim[4] = {p->xmin, p->xmax, p->ymin, p->ymax};
    static const char *nm[4] = {"xmin", "xmax", "ymin", "ymax"};
    for (int k = 0; k < 4; k++) {
        if (isinf(lim[k]))
            return ffr_fail(err, FFR_ERR_ARG, "%s: panel %d: %s is infinite (use NAN for automatic)",
                            path, ip, nm[k]);
        if ((k < 2 ? p->logx : p->logy) && !isnan(lim[k]) && !(lim[k] > 0))
            return ffr_fail(err, FFR_ERR_ARG, "%s: panel %d: %s = %g on a log axis (must be > 0)",
                            path, ip, nm[k], lim[k]);
    }
    if (!isnan(p->xmin) && !isnan(p->xmax) && !(p->xmin < p->xmax))
        return ffr_fail(err, FFR_ERR_ARG, "%s: panel %d: xmin %g >= xmax %g", path, ip, p->xmin, p->xmax);
    if (!isnan(p->ymin) && !isnan(p->ymax) && !(p->ymin < p->ymax))
        return ffr_fail(err, FFR_ERR_ARG, "%s: panel %d: ymin %g >= ymax %g", path, ip, p->ymin, p->ymax);
    if (p->nseries < 0 || (p->nseries > 0 && !p->series))
        return ffr_fail(err, FFR_ERR_ARG, "%s: panel %d: nseries = %d with series %s", path, ip,
                        p->nseries, p->series ? "given" : "NULL");
    for (int s = 0; s < p->nseries; s++) {
        const ffr_series *se = &p->series[s];
        if (se->n < 0)
            return ffr_fail(err, FFR_ERR_ARG, "%s: panel %d series %d: n = %d < 0", path, ip, s, se->n);
        if (se->n > 0 && (!se->x || !se->y))
            return ffr_fail(err, FFR_ERR_ARG, "%s: panel %d series %d: x or y is NULL", path, ip, s);
        if (se->rgb > 0xFFFFFF)
            return ffr_fail(err, FFR_ERR_ARG, "%s: panel %d series %d: rgb 0x%X is not 0xRRGGBB",
                            path, ip, s, se->rgb);
    }
    return FFR_OK;
}

static unsigned series_rgb(const ffr_series *se, int s) {
    return se->rgb ? se->rgb : palette[s % (int)(sizeof palette / sizeof *palette)];
}

/* The band of one series: filled polygons between lo and hi, split at invalid points. */
static void draw_band(cairo_t *cr, const ffr_panel *p, const axis *X, const axis *Y,
                      const ffr_series *se, unsigned rgb) {
    const double *lo = se->lo ? se->lo : se->y, *hi = se->hi ? se->hi : se->y;
    set_rgb(cr, rgb, 0.18);
    int i = 0;
    while (i < se->n) {
        while (i < se->n && !(valid_on(p->logx, se->x[i]) && valid_on(p->logy, lo[i]) &&
                              valid_on(p->logy, hi[i])))
            i++;
        int j = i;
        while (j < se->n && valid_on(p->logx, se->x[j]) && valid_on(p->logy, lo[j]) &&
               valid_on(p->logy, hi[j]))
            j++;
        if (j - i >= 2) {
            cairo_new_path(cr);
            for (int k = i; k < j; k++) cairo_line_to(cr, ax_dev(X, se->x[k]), ax_dev(Y, lo[k]));
            for (int k = j - 1; k >= i; k--) cairo_line_to(cr, ax_dev(X, se->x[k]), ax_dev(Y, hi[k]));
            cairo_close_path(cr);
            cairo_fill(cr);
        }
        i = j;
    }
}

static void line_style(cairo_t *cr, const ffr_series *se, unsigned rgb) {
    static const double dash[] = {6.0, 3.5};
    set_rgb(cr, rgb, 1.0);
    cairo_set_line_width(cr, 1.8);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_dash(cr, dash, se->dashed ? 2 : 0, 0);
}

static void marker(cairo_t *cr, double x, double y) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, 2.8, 0, 2 * PI);
}

static void draw_series(cairo_t *cr, const ffr_panel *p, const axis *X, const axis *Y,
                        const ffr_series *se, unsigned rgb) {
    line_style(cr, se, rgb);
    cairo_new_path(cr);
    int pen = 0;
    for (int i = 0; i < se->n; i++) {
        if (!valid_on(p->logx, se->x[i]) || !valid_on(p->logy, se->y[i])) { pen = 0; continue; }
        double dx = ax_dev(X, se->x[i]), dy = ax_dev(Y, se->y[i]);
        if (pen) cairo_line_to(cr, dx, dy);
        else cairo_move_to(cr, dx, dy);
        pen = 1;
    }
    cairo_stroke(cr);
    /* a lone valid point between breaks would be invisible: markers show it */
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_new_path(cr);
    for (int i = 0; i < se->n; i++) {
        if (!valid_on(p->logx, se->x[i]) || !valid_on(p->logy, se->y[i])) continue;
        int prev = i > 0 && valid_on(p->logx, se->x[i - 1]) && valid_on(p->logy, se->y[i - 1]);
        int next = i + 1 < se->n && valid_on(p->logx, se->x[i + 1]) && valid_on(p->logy, se->y[i + 1]);
        if (se->markers || (!prev && !next)) marker(cr, ax_dev(X, se->x[i]), ax_dev(Y, se->y[i]));
    }
    cairo_fill(cr);
}

/* Legend: entries with a label; placed in the corner that covers the fewest
 * data points, upper right on ties. */
static void draw_legend(cairo_t *cr, const ffr_panel *p, const axis *X, const axis *Y,
                        double px0, double py0, double px1, double py1) {
    int nent = 0;
    double tw = 0;
    char buf[128];
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    for (int s = 0; s < p->nseries; s++) {
        const char *lb = p->series[s].label;
        if (!lb || !*lb) continue;
        snprintf(buf, sizeof buf, "%s", lb);
        tw = fmax(tw, text_w(cr, buf, FS_LEGEND));
        nent++;
    }
    if (!nent) return;
    const double sw = 26, pad = 7, rowh = FS_LEGEND * 1.45, inset = 8;
    double bw = pad + sw + 6 + tw + pad, bh = pad * 2 + rowh * nent - (rowh - FS_LEGEND) + 2;
    if (bw > px1 - px0 - 2 * inset || bh > py1 - py0 - 2 * inset) {
        if (bw > px1 - px0 || bh > py1 - py0) return; /* no room at all */
    }
    /* corners in preference order: upper right, upper left, lower right, lower left */
    double cx[4] = {px1 - inset - bw, px0 + inset, px1 - inset - bw, px0 + inset};
    double cy[4] = {py0 + inset, py0 + inset, py1 - inset - bh, py1 - inset - bh};
    long best_cost = -1;
    int best = 0;
    for (int c = 0; c < 4; c++) {
        long cost = 0;
        double x0 = cx[c] - 3, x1 = cx[c] + bw + 3, y0 = cy[c] - 3, y1 = cy[c] + bh + 3;
        for (int s = 0; s < p->nseries; s++) {
            const ffr_series *se = &p->series[s];
            double lx = NAN, ly = NAN;
            for (int i = 0; i < se->n; i++) {
                const double *vs[3] = {se->y, se->lo, se->hi};
                if (!valid_on(p->logx, se->x[i])) { lx = NAN; continue; }
                double dx = ax_dev(X, se->x[i]);
                for (int k = 0; k < 3; k++) {
                    if (!vs[k] || !valid_on(p->logy, vs[k][i])) continue;
                    double dy = ax_dev(Y, vs[k][i]);
                    int w = k == 0 ? 4 : 1; /* lines matter more than bands */
                    if (dx >= x0 && dx <= x1 && dy >= y0 && dy <= y1) cost += w;
                    if (k == 0 && isfinite(lx)) { /* sample the segment too */
                        for (int q = 1; q < 8; q++) {
                            double sx = lx + (dx - lx) * q / 8, sy = ly + (dy - ly) * q / 8;
                            if (sx >= x0 && sx <= x1 && sy >= y0 && sy <= y1) cost += 2;
                        }
                    }
                }
                if (valid_on(p->logy, se->y[i])) { lx = dx; ly = ax_dev(Y, se->y[i]); }
                else lx = NAN;
            }
        }
        if (best_cost < 0 || cost < best_cost) { best_cost = cost; best = c; }
    }
    double bx = cx[best], by = cy[best];
    cairo_new_path(cr);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
    cairo_set_line_width(cr, 1);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_stroke(cr);
    int row = 0;
    for (int s = 0; s < p->nseries; s++) {
        const ffr_series *se = &p->series[s];
        if (!se->label || !*se->label) continue;
        unsigned rgb = series_rgb(se, s);
        double ymid = by + pad + 1 + row * rowh + FS_LEGEND * 0.5;
        if (se->lo || se->hi) {
            set_rgb(cr, rgb, 0.18);
            cairo_rectangle(cr, bx + pad, ymid - FS_LEGEND * 0.45, sw, FS_LEGEND * 0.9);
            cairo_fill(cr);
        }
        line_style(cr, se, rgb);
        cairo_move_to(cr, bx + pad, ymid);
        cairo_line_to(cr, bx + pad + sw, ymid);
        cairo_stroke(cr);
        if (se->markers) {
            cairo_set_dash(cr, NULL, 0, 0);
            marker(cr, bx + pad + sw / 2, ymid);
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        snprintf(buf, sizeof buf, "%s", se->label);
        cairo_set_font_size(cr, FS_LEGEND);
        cairo_move_to(cr, bx + pad + sw + 6, ymid + FS_LEGEND * 0.36);
        cairo_show_text(cr, buf);
        row++;
    }
}

/* One panel inside the box (ox, oy, w, h). */
static void draw_panel(cairo_t *cr, const ffr_panel *p, double ox, double oy, double w, double h) {
    axis X, Y;
    memset(&X, 0, sizeof X);
    memset(&Y, 0, sizeof Y);
    X.log = p->logx; Y.log = p->logy;
    double lo, hi;
    int have = data_range(p, 0, X.log, &lo, &hi);
    axis_range(&X, have, lo, hi, p->xmin, p->xmax, 0.02);
    have = data_range(p, 1, Y.log, &lo, &hi);
    axis_range(&Y, have, lo, hi, p->ymin, p->ymax, 0.05);

    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    const double pad = 8, tick = 4.5;
    int has_title = p->title && *p->title, has_xl = p->xlabel && *p->xlabel,
        has_yl = p->ylabel && *p->ylabel;
    double top = pad + (has_title ? FS_TITLE * 1.7 : 4);
    double bottom = pad + tick + 3 + FS_TICK * 1.25 + (has_xl ? FS_LABEL * 1.6 : 0);
    int ty = (int)fmax(2, fmin(8, (h - top - bottom) / 45));
    if (Y.log) ticks_log(&Y, ty); else ticks_linear(&Y, ty);
    double ytw = 0;
    for (int i = 0; i < Y.nmaj; i++) ytw = fmax(ytw, label_w(cr, &Y.lab[i], FS_TICK));
    double left = pad + (has_yl ? FS_LABEL * 1.6 : 0) + ytw + tick + 4;
    double right = pad + 10;
    double px0 = ox + left, px1 = ox + w - right, py0 = oy + top, py1 = oy + h - bottom;
    if (px1 - px0 < 10) { px0 = ox + 1; px1 = ox + fmax(w - 1, 2); }
    if (py1 - py0 < 10) { py0 = oy + 1; py1 = oy + fmax(h - 1, 2); }

    /* x ticks: fewer when labels would collide */
    int tx = (int)fmax(2, fmin(10, (px1 - px0) / 70));
    for (int tries = 0; tries < 6; tries++) {
        if (X.log) ticks_log(&X, tx); else ticks_linear(&X, tx);
        double widest = 0;
        for (int i = 0; i < X.nmaj; i++) widest = fmax(widest, label_w(cr, &X.lab[i], FS_TICK));
        if (X.nmaj < 2 || (px1 - px0) / (X.nmaj) > widest + 10 || tx <= 2) break;
        tx = tx * 2 / 3 > 2 ? tx * 2 / 3 : 2;
    }
    X.b = (px1 - px0) / (ax_t(&X, X.hi) - ax_t(&X, X.lo));
    X.a = px0 - X.b * ax_t(&X, X.lo);
    Y.b = -(py1 - py0) / (ax_t(&Y, Y.hi) - ax_t(&Y, Y.lo));
    Y.a = py1 - Y.b * ax_t(&Y, Y.lo);
    if (!isfinite(X.b) || !isfinite(X.a)) { X.b = 0; X.a = px0; }
    if (!isfinite(Y.b) || !isfinite(Y.a)) { Y.b = 0; Y.a = py1; }

    /* grid: minor (log only) then major */
    cairo_set_line_width(cr, 1);
    cairo_set_dash(cr, NULL, 0, 0);
    grid_lines(cr, 0.96, &X, X.min, X.nmin, &Y, Y.min, Y.nmin, px0, px1, py0, py1);
    grid_lines(cr, 0.87, &X, X.maj, X.nmaj, &Y, Y.maj, Y.nmaj, px0, px1, py0, py1);

    /* data, clipped to the plot area */
    cairo_save(cr);
    cairo_rectangle(cr, px0, py0, px1 - px0, py1 - py0);
    cairo_clip(cr);
    for (int s = 0; s < p->nseries; s++)
        if (p->series[s].lo || p->series[s].hi)
            draw_band(cr, p, &X, &Y, &p->series[s], series_rgb(&p->series[s], s));
    for (int s = 0; s < p->nseries; s++)
        draw_series(cr, p, &X, &Y, &p->series[s], series_rgb(&p->series[s], s));
    cairo_restore(cr);

    /* frame and ticks */
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    cairo_rectangle(cr, round(px0) + 0.5, round(py0) + 0.5, round(px1) - round(px0),
                    round(py1) - round(py0));
    cairo_stroke(cr);
    double fb = round(py1) + 0.5, fl = round(px0) + 0.5;
    for (int i = 0; i < X.nmaj; i++) {
        double d = round(ax_dev(&X, X.maj[i])) + 0.5;
        cairo_move_to(cr, d, fb); cairo_line_to(cr, d, fb + tick);
    }
    for (int i = 0; i < X.nmin; i++) {
        double d = round(ax_dev(&X, X.min[i])) + 0.5;
        cairo_move_to(cr, d, fb); cairo_line_to(cr, d, fb + tick * 0.55);
    }
    for (int i = 0; i < Y.nmaj; i++) {
        double d = round(ax_dev(&Y, Y.maj[i])) + 0.5;
        cairo_move_to(cr, fl, d); cairo_line_to(cr, fl - tick, d);
    }
    for (int i = 0; i < Y.nmin; i++) {
        double d = round(ax_dev(&Y, Y.min[i])) + 0.5;
        cairo_move_to(cr, fl, d); cairo_line_to(cr, fl - tick * 0.55, d);
    }
    cairo_stroke(cr);

    /* tick labels */
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    for (int i = 0; i < X.nmaj; i++) {
        double d = ax_dev(&X, X.maj[i]), lw = label_w(cr, &X.lab[i], FS_TICK);
        label_draw(cr, &X.lab[i], d - lw / 2, fb + tick + 3 + FS_TICK, FS_TICK);
    }
    for (int i = 0; i < Y.nmaj; i++) {
        double d = ax_dev(&Y, Y.maj[i]), lw = label_w(cr, &Y.lab[i], FS_TICK);
        label_draw(cr, &Y.lab[i], fl - tick - 4 - lw, d + FS_TICK * 0.36, FS_TICK);
    }

    /* axis labels and title */
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    if (has_xl) {
        cairo_set_font_size(cr, FS_LABEL);
        show_text_centered(cr, p->xlabel, (px0 + px1) / 2,
                           fb + tick + 3 + FS_TICK * 1.25 + FS_LABEL * 1.25, FS_LABEL);
    }
    if (has_yl) {
        cairo_save(cr);
        cairo_translate(cr, ox + pad + FS_LABEL, (py0 + py1) / 2);
        cairo_rotate(cr, -PI / 2);
        show_text_centered(cr, p->ylabel, 0, 0, FS_LABEL);
        cairo_restore(cr);
    }
    if (has_title) {
        cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        show_text_centered(cr, p->title, (px0 + px1) / 2, oy + pad + FS_TITLE, FS_TITLE);
        cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    }
    draw_legend(cr, p, &X, &Y, px0, py0, px1, py1);
}

ffr_status ffr_plot_write(const char *path, const char *suptitle, const ffr_panel *panels,
                          int npanels, int ncols, int panel_w, int panel_h, ffr_err *err) {
    if (!path || !*path) return ffr_fail(err, FFR_ERR_ARG, "plot: output path is empty");
    out_fmt fmt = fmt_of(path);
    if (fmt == FMT_BAD)
        return ffr_fail(err, FFR_ERR_ARG, "%s: unknown plot format (use .png, .svg or .pdf)", path);
    if (npanels <= 0 || !panels)
        return ffr_fail(err, FFR_ERR_ARG, "%s: no panels to plot (npanels = %d%s)", path, npanels,
                        panels ? "" : ", panels = NULL");
    if (panel_w < 50 || panel_h < 50 || panel_w > 8192 || panel_h > 8192)
        return ffr_fail(err, FFR_ERR_ARG, "%s: panel size %dx%d outside 50..8192", path, panel_w,
                        panel_h);
    for (int i = 0; i < npanels; i++) {
        ffr_status st = check_panel(&panels[i], i, path, err);
        if (st) return st;
    }
    if (ncols <= 0 || ncols > npanels) ncols = npanels;
    int nrows = (npanels + ncols - 1) / ncols;
    int sup = suptitle && *suptitle;
    long W = (long)ncols * panel_w, H = (long)nrows * panel_h + (sup ? FFR_PLOT_SUPTITLE_H : 0);
    if (W > MAX_SIDE || H > MAX_SIDE)
        return ffr_fail(err, FFR_ERR_ARG, "%s: picture %ldx%ld is larger than %d a side", path, W,
                        H, MAX_SIDE);

    sink s;
    cairo_surface_t *surf;
    ffr_status st = out_open(&s, path, fmt, (int)W, (int)H, &surf, err);
    if (st) return st;
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    double y0 = 0;
    if (sup) {
        cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
        show_text_centered(cr, suptitle, W / 2.0, FFR_PLOT_SUPTITLE_H * 0.5 + FS_SUPTITLE * 0.55,
                           FS_SUPTITLE);
        y0 = FFR_PLOT_SUPTITLE_H;
    }
    for (int i = 0; i < npanels; i++) {
        cairo_save(cr);
        double ox = (double)(i % ncols) * panel_w, oy = y0 + (double)(i / ncols) * panel_h;
        cairo_rectangle(cr, ox, oy, panel_w, panel_h);
        cairo_clip(cr);
        draw_panel(cr, &panels[i], ox, oy, panel_w, panel_h);
        cairo_restore(cr);
    }
    return out_close(&s, path, fmt, cr, surf, err);
}

/* -------------------------------------------------------------- image grid */
ffr_status ffr_plot_image_grid(const char *path, const float *imgs, int count, int h, int w,
                               int ncols, int scale, const char *title,
                               const char *const *row_labels, ffr_err *err) {
    if (!path || !*path) return ffr_fail(err, FFR_ERR_ARG, "image grid: output path is empty");
    out_fmt fmt = fmt_of(path);
    if (fmt == FMT_BAD)
        return ffr_fail(err, FFR_ERR_ARG, "%s: unknown image format (use .png, .svg or .pdf)", path);
    if (count <= 0 || h <= 0 || w <= 0 || !imgs)
        return ffr_fail(err, FFR_ERR_ARG, "%s: image grid needs count, h, w > 0 and data "
                        "(got count %d, %dx%d%s)", path, count, h, w, imgs ? "" : ", NULL");
    if (scale <= 0 || scale > 64)
        return ffr_fail(err, FFR_ERR_ARG, "%s: scale %d outside 1..64", path, scale);
    if (ncols <= 0 || ncols > count) ncols = count;
    int nrows = (count - 1) / ncols + 1;
    long cw = (long)w * scale + 1, ch = (long)h * scale + 1;
    long gw = (long)ncols * cw + 1, gh = (long)nrows * ch + 1;
    if (gw > MAX_SIDE || gh > MAX_SIDE)
        return ffr_fail(err, FFR_ERR_ARG, "%s: image grid %ldx%ld is larger than %d a side", path,
                        gw, gh, MAX_SIDE);

    /* the grid at final resolution */
    cairo_surface_t *grid = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)gw, (int)gh);
    if (cairo_surface_status(grid) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(grid);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: cannot allocate a %ldx%ld image", path, gw, gh);
    }
    cairo_surface_flush(grid);
    unsigned char *data = cairo_image_surface_get_data(grid);
    int stride = cairo_image_surface_get_stride(grid);
    const uint32_t sep = 0x8A94A6;
    for (long y = 0; y < gh; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * (size_t)stride);
        for (long x = 0; x < gw; x++) row[x] = sep;
    }
    for (int i = 0; i < count; i++) {
        const float *im = imgs + (size_t)i * (size_t)h * (size_t)w;
        long x0 = (i % ncols) * cw + 1, y0 = (long)(i / ncols) * ch + 1;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) {
                float v = im[(size_t)r * (size_t)w + (size_t)c];
                uint32_t px;
                if (isnan(v)) {
                    px = 0xFF0000;
                } else {
                    v = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
                    uint32_t g = (uint32_t)lrintf(v * 255.f);
                    px = g << 16 | g << 8 | g;
                }
                for (int dy = 0; dy < scale; dy++) {
                    uint32_t *row = (uint32_t *)(void *)(data + (size_t)(y0 + (long)r * scale + dy) *
                                                                    (size_t)stride);
                    for (int dx = 0; dx < scale; dx++) row[x0 + (long)c * scale + dx] = px;
                }
            }
    }
    cairo_surface_mark_dirty(grid);

    /* bands for the title and the row labels */
    cairo_surface_t *meas = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
    cairo_t *mc = cairo_create(meas);
    cairo_select_font_face(mc, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    double lw = 0;
    char buf[128];
    if (row_labels)
        for (int r = 0; r < nrows; r++)
            if (row_labels[r] && *row_labels[r]) {
                snprintf(buf, sizeof buf, "%s", row_labels[r]);
                lw = fmax(lw, text_w(mc, buf, FS_LABEL));
            }
    cairo_destroy(mc);
    cairo_surface_destroy(meas);
    int band_l = lw > 0 ? (int)ceil(lw) + 14 : 0;
    int band_t = title && *title ? FFR_PLOT_IMGTITLE_H : 0;
    long W = gw + band_l, H = gh + band_t;
    if (W > MAX_SIDE || H > MAX_SIDE) {
        cairo_surface_destroy(grid);
        return ffr_fail(err, FFR_ERR_ARG, "%s: picture %ldx%ld is larger than %d a side", path, W,
                        H, MAX_SIDE);
    }

    sink s;
    cairo_surface_t *surf;
    ffr_status st = out_open(&s, path, fmt, (int)W, (int)H, &surf, err);
    if (st) { cairo_surface_destroy(grid); return st; }
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_surface(cr, grid, band_l, band_t);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, band_l, band_t, (double)gw, (double)gh);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    if (band_t) {
        cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        double tw = text_w(cr, title, FS_TITLE), cx = band_l + gw / 2.0;
        if (cx + tw / 2 > W - 4) cx = W - 4 - tw / 2; /* keep a wide title inside */
        if (cx - tw / 2 < 4) cx = W / 2.0;
        show_text_centered(cr, title, cx, band_t * 0.5 + FS_TITLE * 0.4, FS_TITLE);
    }
    if (band_l) {
        cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        for (int r = 0; r < nrows; r++) {
            if (!row_labels[r] || !*row_labels[r]) continue;
            snprintf(buf, sizeof buf, "%s", row_labels[r]);
            double tw = text_w(cr, buf, FS_LABEL);
            cairo_move_to(cr, band_l - 7 - tw, band_t + r * ch + ch / 2.0 + FS_LABEL * 0.36);
            cairo_show_text(cr, buf);
        }
    }
    st = out_close(&s, path, fmt, cr, surf, err);
    cairo_surface_destroy(grid);
    return st;
}
