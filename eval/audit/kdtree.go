package audit

import (
	"math"
	"sort"
)

// kdTree answers exact nearest-neighbour queries (Euclidean) over points
// of a fixed dimension.
type kdTree struct {
	d     int
	pts   []float64 // point i at pts[i*d:(i+1)*d], reordered by the build
	nodes []kdNode
}

type kdNode struct {
	lo, hi      int // points [lo, hi) when leaf
	dim         int
	split       float64
	left, right int32 // -1 for a leaf
}

const kdLeaf = 8

func newKDTree(pts []float64, d int) *kdTree {
	t := &kdTree{d: d, pts: pts}
	n := len(pts) / d
	if n > 0 {
		t.build(0, n)
	}
	return t
}

func (t *kdTree) at(i, j int) float64 { return t.pts[i*t.d+j] }

func (t *kdTree) swap(a, b int) {
	d := t.d
	for j := 0; j < d; j++ {
		t.pts[a*d+j], t.pts[b*d+j] = t.pts[b*d+j], t.pts[a*d+j]
	}
}

func (t *kdTree) build(lo, hi int) int32 {
	id := int32(len(t.nodes))
	t.nodes = append(t.nodes, kdNode{lo: lo, hi: hi, left: -1, right: -1})
	if hi-lo <= kdLeaf {
		return id
	}
	// Split the widest dimension at its median.
	best, bw := 0, -1.0
	for j := 0; j < t.d; j++ {
		mn, mx := math.Inf(1), math.Inf(-1)
		for i := lo; i < hi; i++ {
			v := t.at(i, j)
			mn, mx = math.Min(mn, v), math.Max(mx, v)
		}
		if mx-mn > bw {
			best, bw = j, mx-mn
		}
	}
	if bw <= 0 {
		return id // all points equal
	}
	mid := (lo + hi) / 2
	t.selectK(lo, hi, mid, best)
	split := t.at(mid, best)
	l := t.build(lo, mid)
	r := t.build(mid, hi)
	t.nodes[id] = kdNode{lo: lo, hi: hi, dim: best, split: split, left: l, right: r}
	return id
}

// selectK reorders points [lo, hi) so that point k has the k-th smallest
// coordinate dim, with smaller-or-equal ones before it (Hoare quickselect).
func (t *kdTree) selectK(lo, hi, k, dim int) {
	hi--
	for hi > lo {
		p := t.at((lo+hi)/2, dim)
		i, j := lo, hi
		for i <= j {
			for t.at(i, dim) < p {
				i++
			}
			for t.at(j, dim) > p {
				j--
			}
			if i <= j {
				t.swap(i, j)
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

// nearest returns the distance from q to its nearest point (+Inf when the
// tree is empty).
func (t *kdTree) nearest(q []float64) float64 {
	if len(t.nodes) == 0 {
		return math.Inf(1)
	}
	best := math.Inf(1)
	t.search(0, q, &best)
	return math.Sqrt(best)
}

func (t *kdTree) search(id int32, q []float64, best *float64) {
	n := &t.nodes[id]
	if n.left < 0 {
		for i := n.lo; i < n.hi; i++ {
			var s float64
			p := t.pts[i*t.d : (i+1)*t.d]
			for j, v := range q {
				dv := v - p[j]
				s += dv * dv
				if s >= *best {
					break
				}
			}
			if s < *best {
				*best = s
			}
		}
		return
	}
	diff := q[n.dim] - n.split
	near, far := n.left, n.right
	if diff >= 0 {
		near, far = n.right, n.left
	}
	t.search(near, q, best)
	if diff*diff < *best {
		t.search(far, q, best)
	}
}

// quantile returns the q-quantile of v (linear interpolation), sorting v.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	pos := q * float64(len(v)-1)
	i := int(pos)
	if i+1 >= len(v) {
		return v[len(v)-1]
	}
	f := pos - float64(i)
	return v[i]*(1-f) + v[i+1]*f
}
