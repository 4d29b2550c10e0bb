package privacy

import (
	"fmt"
	"math"
)

// Conversion names a way of turning an RDP curve into an (ε, δ) guarantee.
type Conversion int

const (
	// ConversionBalle is the bound of Balle, Barthe, Gaboardi, Hsu and Sato
	// (2020, Theorem 21), also given by Canonne, Kamath and Steinke (2020):
	// ε = RDP(α) + ln((α−1)/α) − (ln δ + ln α)/(α−1). It is never looser
	// than the classic conversion and is the default.
	ConversionBalle Conversion = iota
	// ConversionClassic is Mironov's (2017) conversion
	// ε = RDP(α) + ln(1/δ)/(α−1), the one TensorFlow Privacy's and
	// Opacus's published DP-SGD figures were computed with.
	ConversionClassic
)

// String returns the conversion's name as the command line spells it.
func (c Conversion) String() string {
	switch c {
	case ConversionBalle:
		return "balle2020"
	case ConversionClassic:
		return "classic"
	}
	return fmt.Sprintf("Conversion(%d)", int(c))
}

// ParseConversion parses a conversion name: "balle2020" (or "tight") and
// "classic".
func ParseConversion(s string) (Conversion, error) {
	switch s {
	case "balle2020", "tight", "balle":
		return ConversionBalle, nil
	case "classic", "mironov":
		return ConversionClassic, nil
	}
	return 0, fmt.Errorf("privacy: unknown RDP conversion %q: want balle2020 or classic", s)
}

// Guarantee is an (ε, δ)-DP guarantee and the Rényi order that gave it.
type Guarantee struct {
	Epsilon    float64
	Delta      float64
	Order      float64 // the order α attaining the minimum
	Conversion Conversion
}

// EpsilonFromRDP converts an RDP curve (rdp[i] at order orders[i]) into the
// smallest ε over the orders for the given δ. ε is never reported below 0;
// it is +Inf when the RDP is infinite at every order.
func EpsilonFromRDP(orders, rdp []float64, delta float64, conv Conversion) (Guarantee, error) {
	if err := checkOrders(orders); err != nil {
		return Guarantee{}, err
	}
	if len(rdp) != len(orders) {
		return Guarantee{}, fmt.Errorf("privacy: %d RDP values for %d orders", len(rdp), len(orders))
	}
	if !(delta > 0 && delta < 1) {
		return Guarantee{}, fmt.Errorf("privacy: δ = %v: want 0 < δ < 1", delta)
	}
	if conv != ConversionBalle && conv != ConversionClassic {
		return Guarantee{}, fmt.Errorf("privacy: unknown conversion %v", conv)
	}
	best := Guarantee{Epsilon: math.Inf(1), Delta: delta, Order: math.NaN(), Conversion: conv}
	logDelta := math.Log(delta)
	for i, a := range orders {
		r := rdp[i]
		if math.IsNaN(r) || r < 0 {
			return Guarantee{}, fmt.Errorf("privacy: RDP %v at order %v: want a value ≥ 0", r, a)
		}
		var eps float64
		switch conv {
		case ConversionClassic:
			eps = r - logDelta/(a-1)
		case ConversionBalle:
			eps = r + math.Log1p(-1/a) - (logDelta+math.Log(a))/(a-1)
		}
		if eps < best.Epsilon {
			best.Epsilon, best.Order = eps, a
		}
	}
	if math.IsInf(best.Epsilon, 1) {
		// The loss is unbounded at every order (a vanishing noise level).
		best.Order = orders[0]
	}
	best.Epsilon = math.Max(best.Epsilon, 0)
	return best, nil
}
