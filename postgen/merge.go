package postgen

import (
	"github.com/netshare-go/netshare/encoding"
)

// setTag sets a 2-way tag attribute (starts_here, present_i) in an encoded
// attribute vector to a hard 0 or 1.
func setTag(s *encoding.Schema, vec []float32, name string, on bool) {
	off, dim := s.AttrSlice(name)
	if off < 0 || dim != 2 {
		return
	}
	if on {
		vec[off], vec[off+1] = 0, 1
	} else {
		vec[off], vec[off+1] = 1, 0
	}
}
