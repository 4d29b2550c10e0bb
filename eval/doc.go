// Package eval measures how faithful a synthetic trace is to the real trace
// it was learnt from.
//
// [Flows] and [Packets] compare two traces of the same kind and return a
// [Result]: Jensen–Shannon divergences of the categorical fields (IP
// popularity by rank, ports, protocol), 1-D Wasserstein distances (EMD) of
// the numeric fields, raw and normalised, total variation distances of
// 2-way histograms (joint fidelity), downstream-task comparisons (package
// eval/downstream), the metrics of two reference generators (a bootstrap
// resample and an independent-marginal sampler, package eval/reference)
// and, when asked, a memorisation audit (package eval/audit), and the
// shares of flows and packets passing protocol checks in both traces
// (package eval/protocol). The Result marshals to the JSON object that
// `netshare eval --json` prints and that the pipeline writes to
// metrics.json; it also carries the summaries that the HTML report (package
// report) plots.
//
// Every definition is exact and documented in docs/metrics.md; everything
// random is seeded, so a Result is a deterministic function of its inputs
// and options.
package eval
