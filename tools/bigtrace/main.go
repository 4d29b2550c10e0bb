// Command bigtrace builds a large flow trace from a real one, so that
// figures on large traces can be repeated by anyone with the shared data:
// the input's records are written -copies times, copy k shifted in time by
// k times the input's span (rounded up to a whole second) and with k added
// (mod 256) to the second octet of every source address, as UGR'16 CSV in
// the input's precision. Copy 0 is the input itself. The output is
// deterministic.
//
//	go run ./tools/bigtrace [-in TRACE] [-copies N] -out FILE
//
// TRACE defaults to ../shared/data/ctu-normal-zeek/ctu-normal-40-day1.flows.ugr16.csv
// (7,109 records; 141 copies make about 1M). Without that optional data
// set it says so and exits 0, so scripts can run on any clone.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/netshare-go/netshare/trace"
)

const defaultIn = "../shared/data/ctu-normal-zeek/ctu-normal-40-day1.flows.ugr16.csv"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("bigtrace", flag.ContinueOnError)
	fl.SetOutput(stderr)
	in := fl.String("in", defaultIn, "the flow trace to repeat (any format netshare reads as flows)")
	copies := fl.Int("copies", 100, "how many copies to write (copy 0 is the input)")
	out := fl.String("out", "", "the UGR'16 CSV file to write")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *out == "" || *copies < 1 || fl.NArg() > 0 {
		fmt.Fprintln(stderr, "bigtrace: give -out FILE and -copies N >= 1 (and no other arguments)")
		return 2
	}
	if _, err := os.Stat(*in); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stdout, "bigtrace: %s not found (the shared data set is optional); nothing built\n", *in)
		return 0
	}
	n, err := buildFile(*in, *out, *copies)
	if err != nil {
		fmt.Fprintln(stderr, "bigtrace:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d records (%d copies of %s)\n", *out, n, *copies, *in)
	return 0
}

// buildFile writes copies copies of the flow trace in to out, atomically,
// and returns the number of records written.
func buildFile(in, out string, copies int) (int64, error) {
	flows, _, format, err := trace.ReadAllFlows(in, trace.Options{})
	if err != nil {
		return 0, err
	}
	if len(flows) == 0 {
		return 0, fmt.Errorf("%s: no flow records", in)
	}
	layout := trace.LayoutUGR16
	if trace.DefaultLayout(format) == trace.LayoutUGR16Micro {
		layout = trace.LayoutUGR16Micro
	}
	var n int64
	err = trace.WriteFlowsFileFunc(out, layout, func(w *trace.FlowWriter) error {
		err := build(flows, copies, w.Write)
		n = w.Count()
		return err
	})
	return n, err
}

// shift returns the time shift between copies: the span of flows, from the
// first start to the last end, rounded up to a whole second (at least 1 s).
func shift(flows []trace.Flow) int64 {
	lo, hi := flows[0].Start, flows[0].End()
	for i := range flows {
		lo = min(lo, flows[i].Start)
		hi = max(hi, flows[i].End())
	}
	const sec = 1_000_000
	return max(1, (hi-lo+sec-1)/sec) * sec
}

// copySrc returns source address a of copy k: k added to its second octet,
// modulo 256.
func copySrc(a uint32, k int) uint32 {
	o := (a>>16 + uint32(k)) & 0xff
	return a&^0x00ff0000 | o<<16
}

// build writes copies copies of flows with write.
func build(flows []trace.Flow, copies int, write func(*trace.Flow) error) error {
	d := shift(flows)
	for k := 0; k < copies; k++ {
		for i := range flows {
			f := flows[i]
			f.Start += int64(k) * d
			f.Src = copySrc(f.Src, k)
			if err := write(&f); err != nil {
				return err
			}
		}
	}
	return nil
}
