package reference

import "github.com/netshare-go/netshare/trace"

// SplitHalfFlows splits real into two halves by 5-tuple: every record of a
// 5-tuple goes to the same half, drawn from a seeded hash of the 5-tuple,
// and each half keeps real's order. Compared with each other, the halves
// are what two samples of the same traffic score that share no flow: the
// floor of a generator that copies nothing, at half the real trace's size
// (a smaller sample meets fewer of the values the other holds, so the
// full-size floor lies somewhat lower). Beside the bootstrap resample,
// which copies records and scores a floor no private generator should
// reach, it says how much of a metric is the traffic's own variety: ports
// that one flow alone uses, say, which no other sample repeats.
func SplitHalfFlows(real []trace.Flow, seed int64) (a, b []trace.Flow) {
	return splitHalf(real, (*trace.Flow).Key, seed)
}

// SplitHalfPackets is [SplitHalfFlows] for packets: a flow's packets all go
// to one half.
func SplitHalfPackets(real []trace.Packet, seed int64) (a, b []trace.Packet) {
	return splitHalf(real, (*trace.Packet).Key, seed)
}

func splitHalf[R any](real []R, key func(*R) trace.Key, seed int64) (a, b []R) {
	for i := range real {
		if key(&real[i]).Uniform(uint64(seed)^0x73706c6974) < 0.5 {
			a = append(a, real[i])
		} else {
			b = append(b, real[i])
		}
	}
	return a, b
}
