package radix

// Sort sorts a in place (LSD radix sort on bytes), using tmp (same
// length) as scratch. Byte positions on which every key agrees are skipped,
// so small keys cost few passes.
func Sort(a, tmp []uint64) {
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
