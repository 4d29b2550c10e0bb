package trace_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// The fuzz targets feed arbitrary bytes to the readers. The property: no
// panic, no runaway allocation, and every error is a *trace.PosError or
// wraps one of the package's sentinels. Plain `go test` runs them on the
// seed corpus (the fixtures) and on testdata/fuzz.

var sentinels = []error{trace.ErrEmpty, trace.ErrUnknownFormat, trace.ErrTruncated, trace.ErrIPv6, trace.ErrWrongKind}

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil || err == io.EOF {
		return
	}
	var pe *trace.PosError
	if errors.As(err, &pe) {
		if pe.File == "" {
			t.Fatalf("positioned error without a file name: %v", err)
		}
		return
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %q (%T) is neither a *PosError nor a known sentinel", err, err)
}

// consume opens data as format f ("" = detect) and reads every record.
func consume(t *testing.T, data []byte, f trace.Format, skipBad bool) {
	// An input this small that takes seconds is a hang: make it a crash the
	// fuzzer records.
	tm := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("no progress on input %q", data)) })
	defer tm.Stop()
	s, err := trace.NewSource("fuzz", bytes.NewReader(data), trace.Options{Format: f, SkipBad: skipBad})
	if err != nil {
		checkErr(t, err)
		return
	}
	defer s.Close()
	var n int64
	if s.Kind() == trace.KindPackets {
		var p trace.Packet
		pr := s.Packets()
		for err = pr.Next(&p); err == nil; err = pr.Next(&p) {
			n++
		}
		if st := pr.Stats(); st.Read != n {
			t.Fatalf("stats say %d read, %d returned", st.Read, n)
		}
	} else {
		var fl trace.Flow
		fr := s.Flows()
		for err = fr.Next(&fl); err == nil; err = fr.Next(&fl) {
			if fl.Dur < 0 {
				t.Fatalf("negative duration %+v", fl)
			}
			n++
		}
		if st := fr.Stats(); st.Read != n {
			t.Fatalf("stats say %d read, %d returned", st.Read, n)
		}
	}
	checkErr(t, err)
}

func addFiles(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(testutil.Testdata(p))
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			if len(data) > 32<<10 {
				data = data[:32<<10] // keep the corpus small; a cut file is a good seed too
			}
			f.Add(data)
		}
	}
}

func FuzzPcap(f *testing.F) {
	addFiles(f, "gopacket/*.pcap", "netshare/http.cap")
	f.Fuzz(func(t *testing.T, data []byte) { consume(t, data, trace.FormatPcap, false) })
}

func FuzzPcapNG(f *testing.F) {
	addFiles(f, "pcapng/le-test00[1-9].pcapng", "pcapng/be-test10*.pcapng", "pcapng/*-test20*.pcapng", "pcapng/*-test90*.pcapng",
		"netshare/caida-small.pcapng")
	f.Fuzz(func(t *testing.T, data []byte) { consume(t, data, trace.FormatPcapNG, false) })
}

func FuzzFlowCSV(f *testing.F) {
	addFiles(f, "flows/*.csv")
	f.Add([]byte("srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n1730436467,719036359,0,0,ICMP,1458298072364000.0,305.63599999999997,62,1736,background\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		consume(t, data, "", false)
		consume(t, data, trace.FormatNetShareCSV, true)
		consume(t, data, trace.FormatUGR16CSV, true)
	})
}

func FuzzZeek(f *testing.F) {
	addFiles(f, "zeek/*")
	f.Fuzz(func(t *testing.T, data []byte) {
		consume(t, data, trace.FormatZeekConn, false)
		consume(t, data, trace.FormatZeekConn, true)
		consume(t, data, trace.FormatZeekCSV, true)
	})
}

// FuzzDetect opens arbitrary bytes with format detection.
func FuzzDetect(f *testing.F) {
	addFiles(f, "flows/ugr16-header.csv", "zeek/conn.log", "gopacket/gopacket-test_dns.pcap", "pcapng/le-test006.pcapng")
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) { consume(t, data, "", true) })
}
