package splitmix

import "testing"

// The first outputs of SplitMix64 seeded with 0 and with 1234567, as the
// reference implementation gives them: state s, outputs Mix(s), Mix(s+γ), ….
func TestMixMatchesReference(t *testing.T) {
	for _, c := range []struct {
		seed uint64
		want []uint64
	}{
		{0, []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}},
		{1234567, []uint64{6457827717110365317, 3203168211198807973, 9817491932198370423}},
	} {
		s := c.seed
		for i, w := range c.want {
			if got := Mix(s); got != w {
				t.Errorf("seed %d output %d: %#x, want %#x", c.seed, i, got, w)
			}
			s += Golden
		}
	}
}

// Finalise is a bijection: distinct inputs give distinct outputs.
func TestFinaliseIsInjectiveOnASample(t *testing.T) {
	seen := map[uint64]bool{}
	for x := range uint64(1 << 16) {
		y := Finalise(x)
		if seen[y] {
			t.Fatalf("Finalise(%d) repeats an output", x)
		}
		seen[y] = true
	}
}
