// Command longflows builds a packet capture with long flows from a real
// one, so that long-flow figures can be repeated by anyone with the shared
// data: the input's packets are written -copies times, copy k shifted in
// time by k times the input's span (rounded up to a whole second), with
// every 5-tuple unchanged, so that each flow of the input becomes one flow
// -copies times as long, its packet sizes, flags and inter-arrival times
// repeating copy after copy (a TCP flow's handshake and teardown repeat
// too). The output is a pcap file and deterministic.
//
//	go run ./tools/longflows [-in CAPTURE] [-copies N] -out FILE
//
// CAPTURE defaults to ../shared/data/slips-ctu-samples/test7-malicious.pcap
// (1,908 IPv4 packets; its longest flows have 383 and 253 packets, so 20
// copies make flows of 7,660 and 5,060). Without that optional data set it
// says so and exits 0, so scripts can run on any clone.
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

const defaultIn = "../shared/data/slips-ctu-samples/test7-malicious.pcap"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("longflows", flag.ContinueOnError)
	fl.SetOutput(stderr)
	in := fl.String("in", defaultIn, "the packet capture to repeat (pcap or pcapng)")
	copies := fl.Int("copies", 20, "how many copies to write (copy 0 is the input)")
	out := fl.String("out", "", "the pcap file to write")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *out == "" || *copies < 1 || fl.NArg() > 0 {
		fmt.Fprintln(stderr, "longflows: give -out FILE and -copies N >= 1 (and no other arguments)")
		return 2
	}
	if _, err := os.Stat(*in); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stdout, "longflows: %s not found (the shared data set is optional); nothing built\n", *in)
		return 0
	}
	n, longest, err := buildFile(*in, *out, *copies)
	if err != nil {
		fmt.Fprintln(stderr, "longflows:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d packets (%d copies of %s), longest flow %d packets\n", *out, n, *copies, *in, longest)
	return 0
}

// buildFile writes copies copies of the capture in to out, atomically, and
// returns the number of packets written and the longest flow's.
func buildFile(in, out string, copies int) (n int64, longest int, err error) {
	pkts, _, _, err := trace.ReadAllPackets(in, trace.Options{SkipBad: true})
	if err != nil {
		return 0, 0, err
	}
	if len(pkts) == 0 {
		return 0, 0, fmt.Errorf("%s: no IPv4 packets", in)
	}
	perKey := map[trace.Key]int{}
	for i := range pkts {
		perKey[pkts[i].Key()]++
	}
	for _, c := range perKey {
		longest = max(longest, c*copies)
	}
	err = trace.WritePcapFileFunc(out, trace.PcapOptions{}, func(w *trace.PcapWriter) error {
		for k := range copies {
			for i := range shifted(pkts, k) {
				if err := w.Write(&pkts[i]); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, longest, err
}

// shift returns the time shift between copies: the capture's span, first
// to last packet, rounded up to a whole second (at least 1 s).
func shift(pkts []trace.Packet) int64 {
	lo, hi := pkts[0].TS, pkts[0].TS
	for i := range pkts {
		lo, hi = min(lo, pkts[i].TS), max(hi, pkts[i].TS)
	}
	const sec = 1_000_000
	return max(1, (hi-lo+1+sec-1)/sec) * sec
}

// shifted moves pkts, in place, to copy k's times (from copy k−1's, or
// the input's for k = 0) and returns them.
func shifted(pkts []trace.Packet, k int) []trace.Packet {
	if k > 0 {
		d := shift(pkts) // the same for every copy: shifting keeps the span
		for i := range pkts {
			pkts[i].TS += d
		}
	}
	return pkts
}
