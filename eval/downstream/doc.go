// Package downstream runs the tasks a user of a synthetic trace cares
// about on both the real and the synthetic trace and reports the two
// outcomes side by side: traffic-type prediction (classifiers trained on
// synthetic records, tested on real ones, against the same classifiers
// trained on real records), heavy-hitter estimation with a Count-Min
// Sketch, and anomaly detection (detectors fitted on the normal records
// of each trace, scored on labelled real records). For the classifier and detector families it also reports the
// Spearman correlation between the real and the synthetic ranking, which
// is what a user choosing a method from synthetic data relies on.
//
// A task that cannot run on the given traces (no labels, a single class,
// a packet trace for a label task) is reported as skipped with the reason,
// never as an error. Work on large traces is capped by subsampling, seeded,
// so that an evaluation of a million records stays within seconds; the caps
// are fields of [Options] and are documented in docs/metrics.md.
package downstream
