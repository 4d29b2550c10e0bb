// Package reference holds the reference generators that every evaluation
// compares a synthetic trace against.
//
// A bootstrap resample draws records of the real trace with replacement: it
// is a perfect memoriser, and its metrics are the sampling-noise floor that
// no generator can be expected to beat. An independent-marginal sampler
// draws every field of every record on its own from that field's real
// marginal distribution: it matches every marginal metric yet destroys all
// structure between fields, so a useful generator must do clearly better on
// the joint metrics.
//
// The differentially private marginal sampler ([DPMarginalFlows]) is the
// simplest DP baseline: it releases one noisy histogram per field over a
// data-independent domain ([NoisyFlowMarginals], (ε, δ)-DP per flow, by the
// Gaussian mechanism of package privacy) and draws every field
// independently from those histograms alone. A generator trained with
// differential privacy at the same ε and δ should beat it.
//
// The split half ([SplitHalfFlows]) is not a generator: it cuts the real
// trace in two halves that share no flow, compared with each other, which
// is what a sample of the same traffic scores without copying any of it
// (at half the size). It bounds what a private generator can reach where
// most values belong to one flow alone.
//
// All are seeded and deterministic.
package reference
