package postgen

import (
	"math"
	"slices"

	"github.com/netshare-go/netshare/encoding"
)

// snapIPs decodes the generated source and destination addresses jointly
// rather than bit by bit. Bit by bit, an address whose bits the model is
// unsure of becomes an arbitrary new address, so a trace comes out with
// far too many addresses seen once. Here each generated address picks, among
// its own bitwise decoding and the topK addresses generated most often, the
// one with the highest score
//
//	w·log(count(y) + ½) + Σ_b log p_b(y_b),
//
// where p_b is the model's probability for bit b, count(y) how often the
// generated trace holds y and w the weight (0 counts as 1): an address
// moves to a popular one only when the bits where they differ are ones the
// model was unsure of, the more readily the larger w. It uses nothing but
// the generated rows. It returns how many addresses changed.
func snapIPs(s *encoding.Schema, gen [][]Row, topK int, w float64) int {
	if w == 0 {
		w = 1
	}
	changed := 0
	for _, field := range []string{"srcip", "dstip"} {
		off, dim := s.AttrSlice(field)
		if off < 0 || dim != 64 {
			continue
		}
		counts := map[uint32]int{}
		for _, rows := range gen {
			for _, r := range rows {
				counts[ipOf(r.Attr, field)]++
			}
		}
		type ipc struct {
			ip uint32
			n  int
		}
		var pop []ipc
		for ip, n := range counts {
			if n > 1 {
				pop = append(pop, ipc{ip, n})
			}
		}
		slices.SortFunc(pop, func(a, b ipc) int {
			if a.n != b.n {
				return b.n - a.n
			}
			return int(int64(a.ip) - int64(b.ip))
		})
		if len(pop) > topK {
			pop = pop[:topK]
		}
		if len(pop) == 0 {
			continue
		}
		var lp0, lp1 [32]float64
		for _, rows := range gen {
			for i := range rows {
				r := &rows[i]
				for b := 0; b < 32; b++ {
					p0, p1 := float64(r.Vec[off+2*b]), float64(r.Vec[off+2*b+1])
					sum := p0 + p1
					if !(sum > 0) {
						p0, p1, sum = 1, 1, 2
					}
					lp0[b] = math.Log(math.Max(p0/sum, 1e-6))
					lp1[b] = math.Log(math.Max(p1/sum, 1e-6))
				}
				score := func(ip uint32, n int) float64 {
					sc := w * math.Log(float64(n)+0.5)
					for b := 0; b < 32; b++ {
						if ip>>(31-b)&1 == 1 {
							sc += lp1[b]
						} else {
							sc += lp0[b]
						}
					}
					return sc
				}
				own := ipOf(r.Attr, field)
				best, bestScore := own, score(own, counts[own])
				for _, c := range pop {
					if sc := score(c.ip, c.n); sc > bestScore {
						best, bestScore = c.ip, sc
					}
				}
				if best == own {
					continue
				}
				changed++
				r.Vec = slices.Clone(r.Vec)
				for b := 0; b < 32; b++ {
					bit := best >> (31 - b) & 1
					r.Vec[off+2*b], r.Vec[off+2*b+1] = float32(1-bit), float32(bit)
				}
				if field == "srcip" {
					r.Attr.Key.Src = best
				} else {
					r.Attr.Key.Dst = best
				}
			}
		}
	}
	return changed
}

func ipOf(a encoding.FlowAttr, field string) uint32 {
	if field == "srcip" {
		return a.Key.Src
	}
	return a.Key.Dst
}
