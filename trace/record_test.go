package trace

import "testing"

// Key.Uniform is fixed by the seed and the key, and spreads keys evenly
// over [0, 1).
func TestKeyUniform(t *testing.T) {
	k := Key{Src: 1, Dst: 2, SrcPort: 3, DstPort: 4, Proto: ProtoTCP}
	if k.Uniform(9) != k.Uniform(9) || k.Uniform(9) == k.Uniform(10) {
		t.Error("not fixed by the seed and the key")
	}
	var bins [10]int
	for i := range 20000 {
		k.SrcPort = uint16(i)
		u := k.Uniform(9)
		if u < 0 || u >= 1 {
			t.Fatalf("Uniform = %v, outside [0, 1)", u)
		}
		bins[int(u*10)]++
	}
	for b, n := range bins {
		if n < 1800 || n > 2200 {
			t.Errorf("decile %d holds %d of 20000 keys", b, n)
		}
	}
}
