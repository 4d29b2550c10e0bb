// Package report renders an evaluation ([eval.Result]) as a self-contained
// HTML page and serves the reports of one or more runs side by side.
//
// [Write] puts metrics.json, report.html and the figures as PNG files
// (plots/*.png) in a run directory. The page works offline: its style sheet
// is inline, its figures are inline SVG drawn with gonum/plot, and it loads
// no script, font or image from anywhere. Every figure is drawn from the
// summaries the Result carries (quantiles, shares, rank curves), so a
// metrics.json file alone is enough to redraw the report.
//
// [NewServer] serves a run directory, or a directory of run directories,
// with a page per run and a page comparing the runs' metrics.
package report
