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

func TestKeyConnection(t *testing.T) {
	k := Key{Src: 9, Dst: 1, SrcPort: 5000, DstPort: 22, Proto: ProtoTCP}
	r := Key{Src: 1, Dst: 9, SrcPort: 22, DstPort: 5000, Proto: ProtoTCP}
	ck, kd := k.Connection()
	cr, rd := r.Connection()
	if ck != r || cr != r || kd != 1 || rd != 0 {
		t.Errorf("connection of %v: %v %d; of %v: %v %d; want %v, directions 1 and 0", k, ck, kd, r, cr, rd, r)
	}
	// One address: the lower port is the source.
	a := Key{Src: 5, Dst: 5, SrcPort: 80, DstPort: 70, Proto: ProtoUDP}
	if c, d := a.Connection(); d != 1 || c.SrcPort != 70 || c.DstPort != 80 {
		t.Errorf("connection of %v: %v %d", a, c, d)
	}
}
