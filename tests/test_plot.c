/* test_plot.c - the cairo plotting module: file formats by extension, picture
 * sizes, that something is drawn inside the plot area, degenerate data that
 * must not crash (NaN, zeros on log axes, empty series, single points), the
 * image grid's pixel placement and gray values, and argument errors.
 * Also renders two demo pictures: /tmp/plot_demo.png (a Figure-1-like step
 * size plot) and /tmp/plot_grid_demo.png (synthetic 28x28 images). */
#define _POSIX_C_SOURCE 200809L
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ffrelax.h"
#include "../cli/plot.h"
#include "minitest.h"

/* fontconfig keeps its configuration for the life of the process (freed only
 * by FcFini, which cairo does not call): LeakSanitizer reports it even after
 * cairo_debug_reset_static_data(). This hook, read by LSan in sanitizer
 * builds and unused otherwise, ignores leaks whose stack lies in fontconfig. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }

static char dir[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int read_head(const char *path, unsigned char *b, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(b, 1, n, f);
    fclose(f);
    return (int)got;
}

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

/* PNG width and height from the IHDR chunk (bytes 16..23, big endian). */
static int png_dims(const char *path, unsigned *w, unsigned *h) {
    unsigned char b[24];
    if (read_head(path, b, 24) != 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) || memcmp(b + 12, "IHDR", 4))
        return 0;
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    return 1;
}

/* Non-white pixels in the rectangle [x0,x1) x [y0,y1) of a PNG; -1 on error. */
static long count_nonwhite(const char *path, int x0, int y0, int x1, int y1) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    long n = -1;
    if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
        int W = cairo_image_surface_get_width(s), H = cairo_image_surface_get_height(s);
        int st = cairo_image_surface_get_stride(s);
        cairo_surface_flush(s);
        const unsigned char *d = cairo_image_surface_get_data(s);
        n = 0;
        for (int y = y0 < 0 ? 0 : y0; y < y1 && y < H; y++)
            for (int x = x0 < 0 ? 0 : x0; x < x1 && x < W; x++) {
                unsigned px = *(const unsigned *)(const void *)(d + (size_t)y * st + (size_t)x * 4);
                if ((px & 0xFFFFFF) != 0xFFFFFF) n++;
            }
    }
    cairo_surface_destroy(s);
    return n;
}

/* The RGB of one pixel of a PNG, or 0xFFFFFFFF on error. */
static unsigned pixel_at(const char *path, int x, int y) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    unsigned px = 0xFFFFFFFFu;
    if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS && x < cairo_image_surface_get_width(s) &&
        y < cairo_image_surface_get_height(s)) {
        cairo_surface_flush(s);
        const unsigned char *d = cairo_image_surface_get_data(s);
        px = *(const unsigned *)(const void *)(d + (size_t)y * cairo_image_surface_get_stride(s) +
                                               (size_t)x * 4) & 0xFFFFFF;
    }
    cairo_surface_destroy(s);
    return px;
}

static ffr_panel panel0(void) {
    ffr_panel p;
    memset(&p, 0, sizeof p);
    p.xmin = p.xmax = p.ymin = p.ymax = NAN;
    return p;
}

/* Curves like Figure 1 of the paper: step size vs sweep for two weight
 * settings, each with a 10-90 percentile band. */
#define NS 101
static double xs[NS], ya[NS], ya_lo[NS], ya_hi[NS], yb[NS], yb_lo[NS], yb_hi[NS], yc[NS];

static void make_curves(void) {
    for (int t = 0; t < NS; t++) {
        xs[t] = t;
        ya[t] = 3.0 * pow(0.93, t) + 1e-9;
        ya_lo[t] = ya[t] * 0.6; ya_hi[t] = ya[t] * 1.5;
        yb[t] = 0.4 * pow(0.62, t) + 1e-12;
        yb_lo[t] = yb[t] * 0.5; yb_hi[t] = yb[t] * 1.8;
        yc[t] = 1.2 * pow(0.97, t);
    }
}

static void fig1_panels(ffr_panel pn[2], ffr_series se[3]) {
    memset(se, 0, 3 * sizeof *se);
    se[0] = (ffr_series){"random weights", xs, ya, NS, ya_lo, ya_hi, 0, 0, 0};
    se[1] = (ffr_series){"auto-encoder weights", xs, yb, NS, yb_lo, yb_hi, 0, 0, 0};
    se[2] = (ffr_series){"random, zero start", xs, yc, NS, NULL, NULL, 0, 1, 0};
    pn[0] = panel0();
    pn[0].title = "Step size (linear)";
    pn[0].xlabel = "sweep";
    pn[0].ylabel = "mean ||s(t) - s(t-1)||";
    pn[0].series = se; pn[0].nseries = 3;
    pn[1] = pn[0];
    pn[1].title = "Step size (log scale)";
    pn[1].logy = 1;
}

static void test_formats(void) {
    ffr_err err;
    ffr_panel pn[2];
    ffr_series se[3];
    fig1_panels(pn, se);
    const char *png = tmp_path("f.png"), *svg = tmp_path("f.svg"), *pdf = tmp_path("f.pdf");
    CHECKF(ffr_plot_write(png, "Relaxation", pn, 2, 2, 420, 320, &err) == FFR_OK, "%s", err.msg);
    CHECKF(ffr_plot_write(svg, "Relaxation", pn, 2, 2, 420, 320, &err) == FFR_OK, "%s", err.msg);
    CHECKF(ffr_plot_write(pdf, NULL, pn, 2, 1, 420, 320, &err) == FFR_OK, "%s", err.msg);
    unsigned char b[64] = {0};
    CHECK(read_head(png, b, 8) == 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8));
    memset(b, 0, sizeof b);
    CHECK(read_head(svg, b, 63) > 5 && (!memcmp(b, "<?xml", 5) || !memcmp(b, "<svg", 4)));
    memset(b, 0, sizeof b);
    CHECK(read_head(pdf, b, 5) == 5 && !memcmp(b, "%PDF-", 5));
    /* no temporary files left behind */
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", png, (long)getpid());
    CHECK(!file_exists(tmpname));

    unsigned w = 0, h = 0;
    CHECK(png_dims(png, &w, &h));
    CHECKF(w == 2 * 420 && h == 320 + FFR_PLOT_SUPTITLE_H, "%ux%u", w, h);
    /* 3 panels in 2 columns, no suptitle: 2 rows */
    const char *p3 = tmp_path("three.png");
    ffr_panel three[3] = {pn[0], pn[1], pn[0]};
    CHECKF(ffr_plot_write(p3, "", three, 3, 2, 300, 200, &err) == FFR_OK, "%s", err.msg);
    CHECK(png_dims(p3, &w, &h));
    CHECKF(w == 600 && h == 400, "%ux%u", w, h);
    /* ncols <= 0: one row */
    CHECKF(ffr_plot_write(p3, NULL, three, 3, 0, 300, 200, &err) == FFR_OK, "%s", err.msg);
    CHECK(png_dims(p3, &w, &h));
    CHECKF(w == 900 && h == 200, "%ux%u", w, h);

    /* drawing inside the plot area: the middle of each panel holds curves,
     * grid lines and bands; a plain white picture would count 0 */
    long n0 = count_nonwhite(png, 100, FFR_PLOT_SUPTITLE_H + 60, 400, FFR_PLOT_SUPTITLE_H + 260);
    long n1 = count_nonwhite(png, 520, FFR_PLOT_SUPTITLE_H + 60, 820, FFR_PLOT_SUPTITLE_H + 260);
    CHECKF(n0 > 2000, "%ld", n0);
    CHECKF(n1 > 2000, "%ld", n1);
    /* the background is white: the far corners of the picture */
    CHECK(pixel_at(png, 0, h - 1) == 0xFFFFFF);
    CHECK(pixel_at(png, 839, 0) == 0xFFFFFF);
    /* colored (not gray) pixels exist: the palette is used */
    cairo_surface_t *s = cairo_image_surface_create_from_png(png);
    long colored = 0;
    if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
        cairo_surface_flush(s);
        const unsigned char *d = cairo_image_surface_get_data(s);
        int st = cairo_image_surface_get_stride(s);
        for (int y = 0; y < cairo_image_surface_get_height(s); y++)
            for (int x = 0; x < cairo_image_surface_get_width(s); x++) {
                const unsigned char *q = d + (size_t)y * st + (size_t)x * 4;
                int mx = q[0] > q[1] ? q[0] : q[1], mn = q[0] < q[1] ? q[0] : q[1];
                mx = mx > q[2] ? mx : q[2]; mn = mn < q[2] ? mn : q[2];
                if (mx - mn > 60) colored++;
            }
    }
    cairo_surface_destroy(s);
    CHECKF(colored > 500, "%ld", colored);
}

/* Degenerate inputs: must not crash, must succeed, must write a picture. */
static void test_degenerate(void) {
    ffr_err err;
    const char *out = tmp_path("deg.png");
    double x[6] = {0, 1, 2, 3, 4, 5};
    double yz[6] = {0, 0, 1e-3, NAN, 0, 1};            /* zeros and NaN on a log axis */
    double ynan[6] = {NAN, NAN, NAN, NAN, NAN, NAN};   /* all NaN */
    double yeq[6] = {2, 2, 2, 2, 2, 2};                /* all equal */
    double yw[6] = {1e-8, 1e-6, 1e-3, 0.1, 1, 10};     /* wide log range */
    double yinf[6] = {INFINITY, -INFINITY, 1, 2, NAN, 1e300};
    double xnan[6] = {NAN, 1, NAN, 3, 4, NAN};
    double one = 7, yone = 3;
    ffr_series s[8] = {
        {"zeros", x, yz, 6, NULL, NULL, 0, 0, 1}, {"nan", x, ynan, 6, ynan, ynan, 0, 0, 0},
        {"equal", x, yeq, 6, NULL, NULL, 0, 1, 0}, {"wide", x, yw, 6, yw, yz, 0x123456, 0, 0},
        {"inf", x, yinf, 6, NULL, NULL, 0, 0, 1}, {"xnan", xnan, yeq, 6, NULL, NULL, 0, 0, 0},
        {"one point", &one, &yone, 1, NULL, NULL, 0, 0, 0}, {NULL, x, yw, 0, NULL, NULL, 0, 0, 0}};
    for (int logx = 0; logx < 2; logx++)
        for (int logy = 0; logy < 2; logy++) {
            ffr_panel pn[9];
            for (int k = 0; k < 8; k++) {
                pn[k] = panel0();
                pn[k].logx = logx; pn[k].logy = logy;
                pn[k].series = &s[k]; pn[k].nseries = 1;
                pn[k].title = "degenerate";
            }
            pn[8] = panel0(); /* no series at all */
            pn[8].logx = logx; pn[8].logy = logy;
            ffr_status st = ffr_plot_write(out, NULL, pn, 9, 3, 200, 150, &err);
            CHECKF(st == FFR_OK, "logx %d logy %d: %s", logx, logy, st ? err.msg : "");
            pn[0].series = s; pn[0].nseries = 8; /* everything together */
            st = ffr_plot_write(out, NULL, pn, 1, 1, 300, 200, &err);
            CHECKF(st == FFR_OK, "logx %d logy %d all: %s", logx, logy, st ? err.msg : "");
        }
    /* user limits: one given, the other automatic and on the wrong side */
    ffr_panel p = panel0();
    p.series = &s[3]; p.nseries = 1;
    p.ymin = 100; /* above all data */
    CHECKF(ffr_plot_write(out, NULL, &p, 1, 1, 300, 200, &err) == FFR_OK, "%s", err.msg);
    p.logy = 1; p.ymax = 1e-20; p.ymin = NAN; /* below all data, log */
    CHECKF(ffr_plot_write(out, NULL, &p, 1, 1, 300, 200, &err) == FFR_OK, "%s", err.msg);
    /* a tiny linear range and a huge one */
    double yt[3] = {1, 1 + 1e-13, 1 + 2e-13}, yh[3] = {-1e308, 0, 1e308}, x3[3] = {0, 1, 2};
    ffr_series st2[2] = {{"tiny", x3, yt, 3, NULL, NULL, 0, 0, 1}, {"huge", x3, yh, 3, NULL, NULL, 0, 0, 1}};
    p = panel0();
    p.series = st2; p.nseries = 1;
    CHECKF(ffr_plot_write(out, NULL, &p, 1, 1, 300, 200, &err) == FFR_OK, "%s", err.msg);
    p.series = st2 + 1;
    CHECKF(ffr_plot_write(out, NULL, &p, 1, 1, 300, 200, &err) == FFR_OK, "%s", err.msg);
    /* a long title and label in a small panel */
    char lng[400];
    memset(lng, 'W', sizeof lng - 1);
    lng[sizeof lng - 1] = 0;
    p.title = p.xlabel = p.ylabel = lng;
    s[0].label = lng;
    p.series = s; p.nseries = 1;
    CHECKF(ffr_plot_write(out, lng, &p, 1, 1, 50, 50, &err) == FFR_OK, "%s", err.msg);
    s[0].label = "zeros";
    /* the picture of the log panel with zeros and NaN exists and has content */
    p = panel0();
    p.logy = 1;
    p.series = s; p.nseries = 1;
    CHECKF(ffr_plot_write(out, NULL, &p, 1, 1, 300, 200, &err) == FFR_OK, "%s", err.msg);
    CHECK(count_nonwhite(out, 60, 20, 280, 160) > 100);
}

static void test_image_grid(void) {
    ffr_err err;
    enum { H = 5, W = 4, N = 5 };
    float im[N * H * W];
    for (int i = 0; i < N * H * W; i++) im[i] = (float)(i % 7) / 6.f;
    im[0] = 0.5f;                  /* image 0, (0,0) */
    im[1 * H * W + 2 * W + 3] = 2.f; /* image 1, (2,3): clamped to white */
    im[3 * H * W + 4 * W + 1] = -1.f;/* image 3, (4,1): clamped to black */
    im[4 * H * W + 1] = NAN;       /* image 4, (0,1): red */
    const char *out = tmp_path("grid.png");
    const int sc = 3, nc = 3;
    CHECKF(ffr_plot_image_grid(out, im, N, H, W, nc, sc, NULL, NULL, &err) == FFR_OK, "%s", err.msg);
    unsigned w = 0, h = 0;
    CHECK(png_dims(out, &w, &h));
    CHECKF(w == (unsigned)(nc * (W * sc + 1) + 1) && h == (unsigned)(2 * (H * sc + 1) + 1), "%ux%u", w, h);
#define PX(i, r, c, dx, dy) pixel_at(out, ((i) % nc) * (W * sc + 1) + 1 + (c) * sc + (dx), \
                                     ((i) / nc) * (H * sc + 1) + 1 + (r) * sc + (dy))
    unsigned g = (unsigned)lrintf(0.5f * 255);
    CHECKF(PX(0, 0, 0, 0, 0) == (g << 16 | g << 8 | g), "%06x", PX(0, 0, 0, 0, 0));
    CHECKF(PX(0, 0, 0, 2, 2) == (g << 16 | g << 8 | g), "%06x", PX(0, 0, 0, 2, 2));
    CHECKF(PX(1, 2, 3, 1, 1) == 0xFFFFFF, "%06x", PX(1, 2, 3, 1, 1));
    CHECKF(PX(3, 4, 1, 0, 2) == 0x000000, "%06x", PX(3, 4, 1, 0, 2));
    CHECKF(PX(4, 0, 1, 1, 0) == 0xFF0000, "%06x", PX(4, 0, 1, 1, 0));
    /* a generic pixel: image 2, (3, 2) */
    unsigned gv = (unsigned)lrintf((float)((2 * H * W + 3 * W + 2) % 7) / 6.f * 255.f);
    CHECKF(PX(2, 3, 2, 1, 1) == (gv << 16 | gv << 8 | gv), "%06x", PX(2, 3, 2, 1, 1));
    /* separators are neither data gray nor white: the pixel just left of image 1 */
    unsigned sep = pixel_at(out, W * sc + 1, 1);
    CHECK(sep != 0xFFFFFF && ((sep >> 16) & 255) != (sep & 255));
#undef PX
    /* title and row labels add bands; vector formats work too */
    const char *rows[2] = {"data", NULL};
    CHECKF(ffr_plot_image_grid(out, im, N, H, W, nc, sc, "title", rows, &err) == FFR_OK, "%s", err.msg);
    CHECK(png_dims(out, &w, &h));
    CHECK(h == (unsigned)(2 * (H * sc + 1) + 1 + FFR_PLOT_IMGTITLE_H) &&
          w > (unsigned)(nc * (W * sc + 1) + 1));
    CHECKF(ffr_plot_image_grid(tmp_path("grid.svg"), im, N, H, W, 0, 2, "t", rows, &err) == FFR_OK,
           "%s", err.msg);
    CHECKF(ffr_plot_image_grid(tmp_path("grid.pdf"), im, N, H, W, 2, 2, NULL, NULL, &err) == FFR_OK,
           "%s", err.msg);
    /* errors */
    CHECK(ffr_plot_image_grid(out, im, 0, H, W, 3, 1, NULL, NULL, &err) == FFR_ERR_ARG);
    CHECK(ffr_plot_image_grid(out, im, N, H, W, 3, 0, NULL, NULL, &err) == FFR_ERR_ARG);
    CHECK(ffr_plot_image_grid(out, NULL, N, H, W, 3, 1, NULL, NULL, &err) == FFR_ERR_ARG);
    CHECK(ffr_plot_image_grid(tmp_path("g.bmp"), im, N, H, W, 3, 1, NULL, NULL, &err) == FFR_ERR_ARG);
    CHECK(ffr_plot_image_grid(out, im, 1, 30000, 2, 1, 2, NULL, NULL, &err) == FFR_ERR_ARG);
}

static void test_errors(void) {
    ffr_err err;
    ffr_panel pn[2];
    ffr_series se[3];
    fig1_panels(pn, se);
    err.msg[0] = 0;
    CHECK(ffr_plot_write(tmp_path("x.jpg"), NULL, pn, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    CHECKF(strstr(err.msg, "x.jpg") && strstr(err.msg, ".png"), "%s", err.msg);
    CHECK(ffr_plot_write(tmp_path("noext"), NULL, pn, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    CHECK(!file_exists(tmp_path("x.jpg")));
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, pn, 0, 1, 300, 200, &err) == FFR_ERR_ARG);
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, NULL, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, pn, 1, 1, 10, 200, &err) == FFR_ERR_ARG);
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, pn, 1, 1, 8000, 8000, &err) == FFR_OK ||
          err.code == FFR_ERR_NOMEM);
    ffr_panel six[6] = {pn[0], pn[1], pn[0], pn[1], pn[0], pn[1]};
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, six, 6, 6, 8000, 200, &err) == FFR_ERR_ARG);
    CHECKF(strstr(err.msg, "48000") != NULL, "%s", err.msg);
    CHECK(ffr_plot_write(NULL, NULL, pn, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    /* unwritable: a directory that does not exist */
    const char *bad = "/nonexistent-ffrelax-dir/plot.png";
    CHECK(ffr_plot_write(bad, NULL, pn, 1, 1, 300, 200, &err) == FFR_ERR_IO);
    CHECKF(strstr(err.msg, "nonexistent-ffrelax-dir") != NULL, "%s", err.msg);
    CHECK(ffr_plot_write("/nonexistent-ffrelax-dir/plot.pdf", NULL, pn, 1, 1, 300, 200, &err) ==
          FFR_ERR_IO);
    /* bad series and limits */
    ffr_panel p = pn[0];
    ffr_series s = se[0];
    p.series = &s; p.nseries = 1;
    s.n = -1;
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, &p, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    CHECKF(strstr(err.msg, "n = -1") != NULL, "%s", err.msg);
    s.n = 3; s.y = NULL;
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, &p, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    s = se[0];
    p.nseries = -1;
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, &p, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    p.nseries = 1;
    p.xmin = 5; p.xmax = 5;
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, &p, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    p.xmin = p.xmax = NAN;
    p.ymax = INFINITY;
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, &p, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    p.ymax = NAN; p.logy = 1; p.ymin = 0;
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, &p, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    p.ymin = NAN;
    s.rgb = 0x1000000;
    CHECK(ffr_plot_write(tmp_path("x.png"), NULL, &p, 1, 1, 300, 200, &err) == FFR_ERR_ARG);
    /* a failed write leaves an existing file untouched */
    const char *keep = tmp_path("keep.png");
    s.rgb = 0;
    CHECK(ffr_plot_write(keep, NULL, &p, 1, 1, 300, 200, &err) == FFR_OK);
    unsigned w = 0, h = 0;
    p.xmin = 2; p.xmax = 1;
    CHECK(ffr_plot_write(keep, NULL, &p, 1, 1, 400, 200, &err) == FFR_ERR_ARG);
    CHECK(png_dims(keep, &w, &h) && w == 300 && h == 200);
}

/* The demo pictures to look at. */
static void write_demos(void) {
    ffr_err err;
    ffr_panel pn[2];
    ffr_series se[3];
    fig1_panels(pn, se);
    CHECKF(ffr_plot_write("/tmp/plot_demo.png",
                          "Relaxation from the feedforward start (784-500-500-500, 256 examples)",
                          pn, 2, 2, 480, 360, &err) == FFR_OK, "%s", err.msg);
    CHECKF(ffr_plot_write("/tmp/plot_demo.svg", "Relaxation", pn, 2, 2, 480, 360, &err) == FFR_OK,
           "%s", err.msg);
    enum { N = 12, S = 28 };
    float *im = malloc(sizeof(float) * N * S * S);
    if (!im) { CHECK(0); return; }
    for (int i = 0; i < N; i++)
        for (int r = 0; r < S; r++)
            for (int c = 0; c < S; c++) {
                double cx = 14 + 4 * cos(i), cy = 14 + 4 * sin(i), rad = 6 + (i % 4);
                double d = sqrt((r - cy) * (r - cy) + (c - cx) * (c - cx));
                float v = (float)exp(-(d - rad) * (d - rad) / 3.0); /* a ring */
                if (i >= 8) v = v * 0.8f + 0.4f * (float)((r * 7 + c * 13 + i) % 5) / 4.f - 0.1f;
                im[(size_t)i * S * S + r * S + c] = v;
            }
    im[11 * S * S + 3 * S + 3] = NAN;
    const char *rows[3] = {"data", "feedforward", "relaxed (noisy)"};
    CHECKF(ffr_plot_image_grid("/tmp/plot_grid_demo.png", im, N, S, S, 4, 3, "Synthetic 28x28 images",
                               rows, &err) == FFR_OK, "%s", err.msg);
    free(im);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/ffr_plot_XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    make_curves();
    test_formats();
    test_degenerate();
    test_image_grid();
    test_errors();
    write_demos();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
    cairo_debug_reset_static_data();
    MT_DONE("test_plot");
}
