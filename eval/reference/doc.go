// Package reference holds the two reference generators that every
// evaluation compares a synthetic trace against.
//
// A bootstrap resample draws records of the real trace with replacement: it
// is a perfect memoriser, and its metrics are the sampling-noise floor that
// no generator can be expected to beat. An independent-marginal sampler
// draws every field of every record on its own from that field's real
// marginal distribution: it matches every marginal metric yet destroys all
// structure between fields, so a useful generator must do clearly better on
// the joint metrics. Both are seeded and deterministic.
package reference
