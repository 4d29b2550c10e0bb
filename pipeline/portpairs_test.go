package pipeline

import (
	"maps"
	"math"
	"testing"

	"github.com/netshare-go/netshare/postgen"
	"github.com/netshare-go/netshare/trace"
)

// TestGeneratePortPairs runs the embedded sample with generate.port_pairs
// off (pre-processing keeps the real pairing either way) and re-generates
// with it on: the records per port-pair cell, per protocol, then come
// closer to the real trace's. The cells key ports by the schema's tail
// classes (postgen.PortKeys).
func TestGeneratePortPairs(t *testing.T) {
	cfg := tinyConfig(t, 10)
	cfg.Generate.PortPairs = false
	dir, split, real := runSample(t, cfg)
	s, err := LoadSchema(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.TailPorts == nil || !split.PortPairs.TailKeys {
		t.Fatalf("the sample has tail classes %v, split.json's tail keys %v: want both", s.TailPorts != nil, split.PortPairs.TailKeys)
	}
	want := postgen.PortPairs{PortKeys: postgen.PortKeys{TailKeys: true, HeavyFlows: postgen.HeavyPortFlows}}
	want.Bind(s)
	for _, f := range real.Flows {
		want.Add(f.Key(), 1)
	}
	if split.PortPairs == nil || len(split.PortPairs.Cells) != len(want.Cells) {
		t.Fatalf("split.json's port pairs %+v, want %+v", split.PortPairs, want)
	}
	for p, c := range want.Cells {
		for i := range c {
			if split.PortPairs.Cells[p][i] != c[i] {
				t.Fatalf("protocol %d cell %d: %g records, want %g", p, i, split.PortPairs.Cells[p][i], c[i])
			}
		}
	}
	// Half the L1 distance between the synthetic and the real shares, per
	// protocol, weighed by the real records.
	dist := func(fs []trace.Flow) float64 {
		got := postgen.PortPairs{PortKeys: postgen.PortKeys{TailKeys: true, HeavyFlows: postgen.HeavyPortFlows}}
		got.Bind(s)
		for _, f := range fs {
			got.Add(f.Key(), 1)
		}
		d, total := 0.0, 0.0
		for p, c := range want.Cells {
			var n, m float64
			for _, x := range c {
				n += x
			}
			for _, x := range got.Cells[p] {
				m += x
			}
			cells := maps.Clone(c)
			maps.Copy(cells, got.Cells[p])
			for i := range cells {
				g := 0.0
				if m > 0 {
					g = got.Cells[p][i] / m
				}
				d += n * math.Abs(c[i]/n-g) / 2
			}
			total += n
		}
		return d / total
	}
	before := dist(syntheticFlows(t, dir))
	c := *cfg
	c.Generate.PortPairs = true
	regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
	after := dist(syntheticFlows(t, dir))
	t.Logf("port pairs %.3f from the real shares without port_pairs, %.3f with", before, after)
	if after >= before {
		t.Errorf("with port_pairs %.3f from the real shares, without %.3f", after, before)
	}
}
