// Package splitmix holds SplitMix64's mixing functions, which the
// pipeline's stages use to derive seeds and per-key draws: nearby inputs
// give unrelated outputs.
package splitmix

// Golden is SplitMix64's increment, 2^64 divided by the golden ratio.
const Golden = 0x9e3779b97f4a7c15

// Finalise is SplitMix64's finaliser: a bijection of uint64 that spreads
// every input bit over the whole output.
func Finalise(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Mix is one step of SplitMix64 from state x: Finalise(x + Golden).
func Mix(x uint64) uint64 { return Finalise(x + Golden) }
