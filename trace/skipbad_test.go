package trace_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// pcapRecordOffsets returns the byte offset of every record of a
// little-endian pcap file.
func pcapRecordOffsets(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	for off := 24; off < len(data); {
		offs = append(offs, off)
		if off+16 > len(data) {
			t.Fatalf("record header at %d overruns the file", off)
		}
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	return offs
}

// readCut reads data as a capture named name.
func readCut(t *testing.T, name string, data []byte, skipBad bool) ([]trace.Packet, trace.Stats, error) {
	t.Helper()
	s, err := trace.NewSource(name, bytes.NewReader(data), trace.Options{SkipBad: skipBad})
	if err != nil {
		return nil, trace.Stats{}, err
	}
	pkts, err := drain(s.Packets())
	return pkts, s.Stats(), err
}

// A pcap cut in the middle of a record: without SkipBad the error names the
// file, the record's byte offset and its number; with SkipBad the records
// before it are read and the cut one is counted.
func TestSkipBadTruncatedPcap(t *testing.T) {
	const name = "http-cut.cap"
	data, err := os.ReadFile(testutil.Testdata("netshare", "http.cap"))
	if err != nil {
		t.Fatal(err)
	}
	offs := pcapRecordOffsets(t, data)
	if len(offs) < 10 {
		t.Fatalf("http.cap has %d records", len(offs))
	}
	k := len(offs) / 2 // the record cut in two (0-based)
	recLen := 16 + int(binary.LittleEndian.Uint32(data[offs[k]+8:]))
	for _, cut := range []int{offs[k] + 7, offs[k] + 16 + (recLen-16)/2, offs[k] + recLen - 1} {
		fixture := data[:cut]
		all, _, err := readCut(t, name, data[:offs[k]], false) // the intact records alone
		if err != nil {
			t.Fatal(err)
		}

		pkts, _, err := readCut(t, name, fixture, false)
		var pe *trace.PosError
		if !errors.As(err, &pe) || !errors.Is(err, trace.ErrTruncated) || pe.File != name ||
			pe.Offset != int64(offs[k]) || pe.Record != int64(k+1) {
			t.Fatalf("cut at %d: error %v, want a truncation at byte offset %d, record %d", cut, err, offs[k], k+1)
		}
		if !reflect.DeepEqual(pkts, all) {
			t.Errorf("cut at %d: %d packets before the error, want %d", cut, len(pkts), len(all))
		}

		pkts, st, err := readCut(t, name, fixture, true)
		if err != nil {
			t.Fatalf("cut at %d with SkipBad: %v", cut, err)
		}
		if !reflect.DeepEqual(pkts, all) || st.Skipped[trace.ReasonTruncatedRecord] != 1 {
			t.Errorf("cut at %d with SkipBad: %d packets (want %d), skipped %v", cut, len(pkts), len(all), st.Skipped)
		}
	}
	// A cut inside the file header leaves nothing to salvage.
	if _, _, err := readCut(t, name, data[:20], true); !errors.Is(err, trace.ErrTruncated) {
		t.Errorf("cut file header with SkipBad: %v, want ErrTruncated", err)
	}
}

// Every cut of a pcap or pcapng file either ends at a record boundary (the
// same packets either way, nothing skipped) or, with SkipBad, gives the
// packets read before the error and one truncated record.
func TestSkipBadTruncatedCaptures(t *testing.T) {
	for _, rel := range []string{"netshare/caida-small.pcapng", "netshare/http.cap", "gopacket/gopacket-test_loopback.pcap"} {
		data, err := os.ReadFile(testutil.Testdata(rel))
		if err != nil {
			t.Fatal(err)
		}
		salvaged := 0
		for cut := 200; cut < len(data); cut += 613 { // past the file header and the pcapng section header
			strict, _, errStrict := readCut(t, rel, data[:cut], false)
			lax, st, errLax := readCut(t, rel, data[:cut], true)
			if errLax != nil {
				t.Fatalf("%s cut at %d with SkipBad: %v", rel, cut, errLax)
			}
			if !reflect.DeepEqual(lax, strict) {
				t.Fatalf("%s cut at %d: %d packets with SkipBad, %d before the error without", rel, cut, len(lax), len(strict))
			}
			want := int64(0)
			if errStrict != nil {
				if !errors.Is(errStrict, trace.ErrTruncated) {
					t.Fatalf("%s cut at %d: %v, want a truncation", rel, cut, errStrict)
				}
				want = 1
				salvaged++
			}
			if got := st.Skipped[trace.ReasonTruncatedRecord]; got != want {
				t.Fatalf("%s cut at %d: %d truncated records counted, want %d", rel, cut, got, want)
			}
		}
		if salvaged == 0 {
			t.Errorf("%s: no cut fell inside a record", rel)
		}
	}
}

// A gzip-compressed capture cut short is salvaged the same way.
func TestSkipBadTruncatedGzipPcap(t *testing.T) {
	data, err := os.ReadFile(testutil.Testdata("netshare", "http.cap"))
	if err != nil {
		t.Fatal(err)
	}
	gz := gzipBytes(t, data)
	cut := gz[:len(gz)*2/3]
	strict, _, err := readCut(t, "http.cap.gz", cut, false)
	var pe *trace.PosError
	if !errors.Is(err, trace.ErrTruncated) || !errors.As(err, &pe) || pe.Record != int64(len(strict))+1 || pe.Offset <= 0 {
		t.Fatalf("cut gzip: %v after %d packets, want ErrTruncated at the next record", err, len(strict))
	}
	lax, st, err := readCut(t, "http.cap.gz", cut, true)
	if err != nil || !reflect.DeepEqual(lax, strict) || len(lax) == 0 || st.Skipped[trace.ReasonTruncatedRecord] != 1 {
		t.Errorf("cut gzip with SkipBad: %d packets (%d without), skipped %v, %v", len(lax), len(strict), st.Skipped, err)
	}
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
