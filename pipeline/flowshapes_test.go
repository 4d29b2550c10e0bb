package pipeline

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/netshare-go/netshare/internal/sampledata"
	"github.com/netshare-go/netshare/postgen"
	"github.com/netshare-go/netshare/trace"
)

// TestGenerateFlowShapes runs a labelled trace (the embedded sample with
// its flows to well-known ports labelled "attack") with
// generate.ports_given_sizes and generate.labels_given_flows off
// (pre-processing counts either way), then re-generates with them on: the
// (destination port, packet class) joint and the (label, destination
// port) joint both come closer to the real ones.
func TestGenerateFlowShapes(t *testing.T) {
	sample := filepath.Join(t.TempDir(), "sample.csv")
	if err := os.WriteFile(sample, sampledata.UGR16Small, 0o644); err != nil {
		t.Fatal(err)
	}
	real, err := trace.ReadAll(sample, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range real.Flows {
		f := &real.Flows[i]
		f.Label = "normal"
		if f.Proto == trace.ProtoTCP && f.DstPort < 1024 {
			f.Label = "attack"
		}
	}
	in := filepath.Join(t.TempDir(), "labelled.csv")
	if err := trace.WriteFlowsFile(in, trace.DefaultLayout(trace.FormatUGR16CSV), real.Flows); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, 10)
	cfg.Generate.PortsGivenSizes, cfg.Generate.LabelsGivenFlows = false, false
	dir := t.TempDir()
	runAll(t, Options{Dir: dir, Input: in, Config: cfg})
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !split.Labels.Usable() || split.PortSizes.Missing() {
		t.Fatalf("split.json: labels %v, port sizes missing %v", split.Labels, split.PortSizes.Missing())
	}
	// The three counts key the ports by the schema's tail classes.
	if !split.PortPairs.TailKeys || !split.PortSizes.TailKeys || !split.Labels.TailKeys {
		t.Errorf("split.json: tail keys: port pairs %v, port sizes %v, labels %v", split.PortPairs.TailKeys, split.PortSizes.TailKeys, split.Labels.TailKeys)
	}
	var pairs float64
	for _, c := range split.PortPairs.Cells {
		for _, x := range c {
			pairs += x
		}
	}
	counted := 0.0
	for _, c := range split.PortSizes.Cells {
		for _, x := range c {
			counted += x
		}
	}
	withPorts, withSizes := 0, 0
	for _, f := range real.Flows {
		if f.Proto == trace.ProtoTCP || f.Proto == trace.ProtoUDP {
			withPorts++
		}
		if f.Proto == trace.ProtoTCP || f.Proto == trace.ProtoUDP || f.Proto == trace.ProtoICMP {
			withSizes++
		}
	}
	if int(counted) != withSizes || int(pairs) != withPorts {
		t.Errorf("port sizes count %v records and port pairs %v, want the %d TCP, UDP and ICMP ones and the %d TCP and UDP ones", counted, pairs, withSizes, withPorts)
	}
	portKey := func(p uint16) int {
		if p < 1024 {
			return int(p)
		}
		return 1024
	}
	sizes := func(f *trace.Flow) [3]int {
		return [3]int{int(f.Proto), portKey(f.DstPort), int(postgen.PacketClass(f.Packets))}
	}
	labels := func(f *trace.Flow) [3]int {
		l := 0
		if f.Label == "attack" {
			l = 1
		}
		return [3]int{int(f.Proto), portKey(f.DstPort), l}
	}
	sizesBefore, labelsBefore := jointTVD(real.Flows, syntheticFlows(t, dir), sizes), jointTVD(real.Flows, syntheticFlows(t, dir), labels)
	c := *cfg
	c.Generate.PortsGivenSizes, c.Generate.LabelsGivenFlows = true, true
	regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
	syn := syntheticFlows(t, dir)
	sizesAfter, labelsAfter := jointTVD(real.Flows, syn, sizes), jointTVD(real.Flows, syn, labels)
	t.Logf("(dstport, packets) TVD %.3f → %.3f, (label, dstport) %.3f → %.3f", sizesBefore, sizesAfter, labelsBefore, labelsAfter)
	if sizesAfter >= sizesBefore {
		t.Errorf("(dstport, packets) TVD %.3f with ports_given_sizes, %.3f without", sizesAfter, sizesBefore)
	}
	if labelsAfter >= labelsBefore {
		t.Errorf("(label, dstport) TVD %.3f with labels_given_flows, %.3f without", labelsAfter, labelsBefore)
	}
}

// jointTVD is the total variation distance between the shares of the
// records of a and b in each cell of key.
func jointTVD(a, b []trace.Flow, key func(*trace.Flow) [3]int) float64 {
	count := func(fs []trace.Flow) map[[3]int]float64 {
		m := map[[3]int]float64{}
		for i := range fs {
			m[key(&fs[i])] += 1 / float64(len(fs))
		}
		return m
	}
	return shareTVD(count(a), count(b))
}

// shareTVD is the total variation distance between two sets of shares.
func shareTVD[K comparable](a, b map[K]float64) float64 {
	d := 0.0
	for k, x := range a {
		d += math.Abs(x - b[k])
	}
	for k, x := range b {
		if _, ok := a[k]; !ok {
			d += x
		}
	}
	return d / 2
}

// genStats reads what the generate stage of the run in dir counted.
func genStats(t *testing.T, dir string) GenStats {
	t.Helper()
	man, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var gs GenStats
	if err := man.Stage("generate").DecodeInfo(&gs); err != nil {
		t.Fatal(err)
	}
	return gs
}
