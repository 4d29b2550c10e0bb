package encoding

// Const is a field that holds one value in the whole trace: it takes no
// room in the model's vectors and decodes to Value.
type Const struct {
	Field string
	Value float64
}

func (c Const) Name() string                       { return c.Field }
func (c Const) Dim() int                           { return 0 }
func (c Const) Outputs() []Output                  { return nil }
func (c Const) Encode(v float64, _ []float32) bool { return v != c.Value }
func (c Const) Decode(_ []float32, _, _ int, out []float64) {
	for i := range out {
		out[i] = c.Value
	}
}
