package privacy_test

import (
	"testing"

	"github.com/netshare-go/netshare/privacy"
)

// BenchmarkEpsilon accounts for one DP-SGD run (RDP at the 159 default
// orders, then the conversion).
func BenchmarkEpsilon(b *testing.B) {
	for b.Loop() {
		a := privacy.NewAccountant()
		if err := a.Add(privacy.SampledGaussian(256.0/60000, 1.1, 14063)); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Epsilon(1e-5); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoiseForEpsilon finds the noise multiplier for a target ε.
func BenchmarkNoiseForEpsilon(b *testing.B) {
	for b.Loop() {
		if _, err := privacy.NoiseForEpsilon(256.0/60000, 14063, 1e-5, 3, privacy.Gaussian(10, 5)); err != nil {
			b.Fatal(err)
		}
	}
}
