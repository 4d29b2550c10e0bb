package hash

import (
	"github.com/netshare-go/netshare/internal/splitmix"
	"github.com/netshare-go/netshare/trace"
)

// Mix is the SplitMix64 finaliser: a bijection of uint64 that spreads every
// input bit over the whole output.
func Mix(x uint64) uint64 { return splitmix.Finalise(x) }

// Key returns a 64-bit hash of a 5-tuple. Two distinct 5-tuples collide
// with probability about 2^-64.
func Key(k trace.Key) uint64 {
	h := Mix(uint64(k.Src)<<32 | uint64(k.Dst))
	return Mix(h ^ (uint64(k.SrcPort)<<24 | uint64(k.DstPort)<<8 | uint64(k.Proto)) + 0x9e3779b97f4a7c15)
}
