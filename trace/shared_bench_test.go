package trace_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// The shared-trace benchmarks read real traces from the optional data set
// (skipped without it), repeated in memory to about benchSharedRecords
// input records so that one iteration takes long enough to time.

const benchSharedRecords = 200000

// repeatBody returns data with its body (what follows the first hdr bytes)
// repeated until it holds at least benchSharedRecords units of unit bytes
// on average, and the number of copies.
func repeatBody(hdr, body []byte, units int) ([]byte, int) {
	copies := 1
	if units > 0 {
		copies = max(1, (benchSharedRecords+units-1)/units)
	}
	out := make([]byte, 0, len(hdr)+copies*len(body))
	out = append(out, hdr...)
	for i := 0; i < copies; i++ {
		out = append(out, body...)
	}
	return out, copies
}

// repeatText repeats the data lines of a text trace: the lines after the
// first for a CSV with a header, the lines not starting with '#' for a
// Zeek log (its header is kept once, its #close footer dropped).
func repeatText(b *testing.B, data []byte, zeek bool) []byte {
	var hdr, body []byte
	rows := 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = append(data, '\n'), nil
		} else {
			line, data = data[:i+1], data[i+1:]
		}
		switch {
		case zeek && line[0] == '#':
			if body == nil {
				hdr = append(hdr, line...)
			}
		case !zeek && hdr == nil:
			hdr = line
		default:
			body = append(body, line...)
			rows++
		}
	}
	if rows == 0 {
		b.Fatal("no data rows")
	}
	out, _ := repeatBody(hdr, body, rows)
	return out
}

func benchSharedFlows(b *testing.B, rel string, zeek bool) {
	raw, err := os.ReadFile(testutil.SharedData(b, rel))
	if err != nil {
		b.Fatal(err)
	}
	benchReadFlows(b, rel, repeatText(b, raw, zeek))
}

func benchSharedPackets(b *testing.B, rel string) {
	raw, err := os.ReadFile(testutil.SharedData(b, rel))
	if err != nil {
		b.Fatal(err)
	}
	// Count the packets to size the repetition. A pcap's records are
	// repeated after its file header; a pcapng file is repeated whole (a
	// section each copy).
	s, err := trace.NewSource(rel, bytes.NewReader(raw), trace.Options{})
	if err != nil {
		b.Fatal(err)
	}
	pkts, err := drain(s.Packets())
	if err != nil || len(pkts) == 0 {
		b.Fatalf("%s: %d packets, %v", rel, len(pkts), err)
	}
	hdr, body := raw[:24], raw[24:]
	if s.Format == trace.FormatPcapNG {
		hdr, body = nil, raw
	}
	data, _ := repeatBody(hdr, body, len(pkts))
	benchReadPackets(b, rel, data)
}

// BenchmarkSharedUGR16 reads a UGR'16 CSV converted from a CTU conn log.
func BenchmarkSharedUGR16(b *testing.B) {
	benchSharedFlows(b, "ctu-normal-zeek/ctu-normal-40-day1.flows.ugr16.csv", false)
}

// BenchmarkSharedNetShareCSV reads NetShare's UGR'16 sample (NetFlow CSV).
func BenchmarkSharedNetShareCSV(b *testing.B) {
	benchSharedFlows(b, "netshare-ugr16-small/raw.csv", false)
}

// BenchmarkSharedZeekTSV reads a CTU Zeek conn.log (two records per
// connection with packets both ways).
func BenchmarkSharedZeekTSV(b *testing.B) {
	benchSharedFlows(b, "ctu-normal-zeek/ctu-normal-40-day1.conn.log.labeled", true)
}

// BenchmarkSharedZeekCSV reads an IoT-23 conn log in its CSV form.
func BenchmarkSharedZeekCSV(b *testing.B) {
	benchSharedFlows(b, "iot23-zeek-csv/CTU-Malware-Capture-34-1-labeled.csv", false)
}

// BenchmarkSharedPcapNGCAIDA reads NetShare's CAIDA sample capture (a
// pcapng file despite its name).
func BenchmarkSharedPcapNGCAIDA(b *testing.B) { benchSharedPackets(b, "netshare-caida-small/raw.pcap") }

// BenchmarkSharedPcapNGICMP reads the PATHspider ICMP TTL capture (pcapng).
func BenchmarkSharedPcapNGICMP(b *testing.B) {
	benchSharedPackets(b, "pathspider-icmp-ttl/icmp_ttl.pcap")
}

// BenchmarkSharedPcapSLIPS reads a libpcap capture of the SLIPS samples.
func BenchmarkSharedPcapSLIPS(b *testing.B) {
	benchSharedPackets(b, "slips-ctu-samples/test-cc-capture-1.pcap")
}
