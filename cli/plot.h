/* plot.h - the CLI's scientific plots on cairo (cli/plot.c): line panels with
 * bands and legends, linear and log10 axes, grayscale image grids. Plotting
 * lives beside the library, not in it, so libffrelax needs no cairo. */
#ifndef FFR_CLI_PLOT_H
#define FFR_CLI_PLOT_H
#include "ffrelax.h"

/* Scientific plots with cairo. The output format follows the
 * path's extension: .png (sizes in pixels), .svg or .pdf (sizes in points).
 * Files are written atomically (temporary file, fsync, rename). */
typedef struct {
    const char *label;      /* legend text; NULL or "" = no legend entry */
    const double *x, *y;    /* n points; a NaN/Inf x or y (or a value <= 0 on a
                               log axis) breaks the line there */
    int n;
    const double *lo, *hi;  /* optional band (e.g. 10th-90th percentile), both
                               NULL = none; drawn as a translucent fill */
    unsigned rgb;           /* 0xRRGGBB; 0 = automatic (Okabe-Ito palette by index) */
    int dashed;             /* 1 = dashed line */
    int markers;            /* 1 = draw point markers */
} ffr_series;

typedef struct {
    const char *title, *xlabel, *ylabel; /* NULL = none */
    int logx, logy;         /* log10 axes with decade ticks and minor ticks 2..9 */
    double xmin, xmax, ymin, ymax; /* NAN = automatic (data range plus a margin) */
    const ffr_series *series;
    int nseries;            /* 0 = an empty frame */
} ffr_panel;

#define FFR_PLOT_SUPTITLE_H 34 /* height of the band a suptitle adds on top */

/* Draw npanels panels in a grid of ncols columns (ncols <= 0 or > npanels:
 * one row), each panel_w x panel_h (50..8192). The picture is
 * min(ncols, npanels) * panel_w wide and nrows * panel_h tall, plus
 * FFR_PLOT_SUPTITLE_H on top when suptitle is a non-empty string.
 * Fails with FFR_ERR_ARG on bad arguments (limits given as Inf, min >= max,
 * a limit <= 0 on a log axis, n < 0, missing x/y) or an unknown extension,
 * FFR_ERR_IO when the file cannot be written. */
ffr_status ffr_plot_write(const char *path, const char *suptitle, const ffr_panel *panels,
                          int npanels, int ncols, int panel_w, int panel_h, ffr_err *err);

/* Grayscale image grid: imgs is (count, h*w) floats, 0 = black, 1 = white
 * (clamped; NaN drawn red), ncols images per row, each image pixel drawn as a
 * scale x scale block, images separated and framed by 1px gray lines.
 * title (NULL = none) adds a FFR_PLOT_IMGTITLE_H band on top; row_labels
 * (NULL = none, else one string per row, entries may be NULL) adds a band on
 * the left as wide as the longest label. Without either, the picture is
 * ncols*(w*scale+1)+1 by nrows*(h*scale+1)+1 and image i's pixel (r, c) starts
 * at x = (i%ncols)*(w*scale+1)+1 + c*scale, y = (i/ncols)*(h*scale+1)+1 + r*scale. */
#define FFR_PLOT_IMGTITLE_H 28
ffr_status ffr_plot_image_grid(const char *path, const float *imgs, int count, int h, int w,
                               int ncols, int scale, const char *title,
                               const char *const *row_labels, ffr_err *err);

#endif
