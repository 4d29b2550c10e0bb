package audit

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAudit1M audits one million synthetic flow records against
// 800,000 training and 200,000 held-out records (the 80/20 split of
// netshare run --audit), with the default caps.
func BenchmarkAudit1M(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	all := population(r, 1_000_000)
	syn := population(r, 1_000_000)
	train, holdout := all[:800_000], all[800_000:]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Run(train, holdout, syn, Options{Seed: 1})
	}
}
