package hash

import (
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func TestKeyTellsFieldsApart(t *testing.T) {
	base := trace.Key{Src: 1, Dst: 2, SrcPort: 3, DstPort: 4, Proto: 6}
	seen := map[uint64]trace.Key{Key(base): base}
	for _, k := range []trace.Key{
		{Src: 2, Dst: 1, SrcPort: 3, DstPort: 4, Proto: 6},
		{Src: 1, Dst: 2, SrcPort: 4, DstPort: 3, Proto: 6},
		{Src: 1, Dst: 2, SrcPort: 3, DstPort: 4, Proto: 17},
		{Src: 1, Dst: 2, SrcPort: 3, DstPort: 4},
		{},
	} {
		h := Key(k)
		if o, ok := seen[h]; ok {
			t.Errorf("%v and %v hash alike", k, o)
		}
		seen[h] = k
	}
	if Key(base) != Key(base) {
		t.Error("hash not deterministic")
	}
	if Mix(0) != 0 || Mix(1) == 1 {
		t.Error("Mix is the SplitMix64 finaliser (0 ↦ 0)")
	}
}
