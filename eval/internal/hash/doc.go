// Package hash holds the 64-bit mixing functions the evaluation uses to
// tell records and 5-tuples apart and to hash sketch rows.
package hash
