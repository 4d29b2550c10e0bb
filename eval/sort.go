package eval

// radixSort sorts a in place (LSD radix sort on bytes), using tmp (same
// length) as scratch. Byte positions on which every key agrees are skipped,
// so small keys cost few passes.
func radixSort(a, tmp []uint64) {
	n := len(a)
	if n < 2 {
		return
	}
	if n < 256 {
		insertionSort(a)
		return
	}
	var or, and uint64 = 0, ^uint64(0)
	for _, v := range a {
		or |= v
		and &= v
	}
	diff := or ^ and
	src, dst := a, tmp[:n]
	for shift := uint(0); shift < 64; shift += 8 {
		if (diff>>shift)&0xff == 0 {
			continue
		}
		var count [256]int
		for _, v := range src {
			count[(v>>shift)&0xff]++
		}
		pos := 0
		for i := range count {
			c := count[i]
			count[i] = pos
			pos += c
		}
		for _, v := range src {
			b := (v >> shift) & 0xff
			dst[count[b]] = v
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
}

func insertionSort(a []uint64) {
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for j > 0 && a[j-1] > v {
			a[j] = a[j-1]
			j--
		}
		a[j] = v
	}
}

// sortedU64 returns a sorted copy of the values f(i) for i in [0, n).
func sortedU64(n int, f func(i int) uint64) []uint64 {
	a := make([]uint64, n)
	for i := range a {
		a[i] = f(i)
	}
	radixSort(a, make([]uint64, n))
	return a
}

// runCounts returns the lengths of the runs of equal values in sorted a.
func runCounts(a []uint64) []uint64 {
	d := 0
	for i := range a {
		if i == 0 || a[i] != a[i-1] {
			d++
		}
	}
	out := make([]uint64, 0, d)
	for i := 0; i < len(a); {
		j := i + 1
		for j < len(a) && a[j] == a[i] {
			j++
		}
		out = append(out, uint64(j-i))
		i = j
	}
	return out
}

// rankFrequency returns the counts of the distinct values of a (any order),
// sorted in descending order.
func rankFrequency(n int, f func(i int) uint64) []uint64 {
	c := runCounts(sortedU64(n, f))
	radixSort(c, make([]uint64, len(c)))
	for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
		c[i], c[j] = c[j], c[i]
	}
	return c
}
