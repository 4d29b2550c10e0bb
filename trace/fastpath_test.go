package trace_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// Edge cases of the readers' in-place CSV splitting and field parsing.

const ugrHeader = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n"

func ugrRow(i int, label string) string {
	return fmt.Sprintf("2016-03-18 10:47:%02d.250,2016-03-18 10:47:%02d.750,0.500,10.0.%d.%d,192.0.2.1,%d,443,TCP,.AP.SF,0,0,%d,%d,%s",
		i%60, i%60, i/256%256, i%256, 1024+i%60000, 1+i, 40*(1+i), label)
}

// CRLF line ends, blank lines (LF and CRLF), quoted labels (with a comma,
// a doubled quote, a line break) and a last line without its line end read
// as the plain file does, with each record's own label.
func TestCSVQuirksReadAsPlain(t *testing.T) {
	var plain, quirky strings.Builder
	plain.WriteString(ugrHeader)
	quirky.WriteString(strings.ReplaceAll(ugrHeader, "\n", "\r\n"))
	labels := []string{"plain", `a,b`, `say "hi"`, "two\nlines", "", "last"}
	for i, l := range labels {
		plain.WriteString(ugrRow(i, "x") + "\n")
		q := l
		if strings.ContainsAny(l, ",\"\n") {
			q = `"` + strings.ReplaceAll(l, `"`, `""`) + `"`
		}
		quirky.WriteString(ugrRow(i, q))
		if i < len(labels)-1 {
			quirky.WriteString("\r\n\n\r\n")
		}
	}
	want, _, _, err := trace.ReadAllFlows(writeTemp(t, "plain.csv", plain.String()), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, st, _, err := trace.ReadAllFlows(writeTemp(t, "quirky.csv", quirky.String()), trace.Options{})
	if err != nil || len(got) != len(want) || st.TotalSkipped() != 0 {
		t.Fatalf("got %d records, %v, %+v; want %d", len(got), err, st, len(want))
	}
	for i := range got {
		w := want[i]
		w.Label = labels[i]
		if got[i] != w {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], w)
		}
	}
}

// Errors name the line a record starts on, counting blank lines and the
// lines of quoted line breaks before it, and the column at fault.
func TestCSVFastPathErrors(t *testing.T) {
	good := ugrRow(1, "x") + "\n"
	multi := ugrRow(2, "\"a\nb\nc\"") + "\n" // three lines
	cases := []struct {
		name, body string
		line       int
		column     string
		reason     string
	}{
		{"trailing field", good + ugrRow(3, "x") + ",\n", 3, "", trace.ReasonWrongColumns},
		{"after blank lines", good + "\n\r\n\n" + ugrRow(3, "x") + ",\n", 6, "", trace.ReasonWrongColumns},
		{"after a quoted line break", multi + strings.Replace(ugrRow(3, "x"), ",443,", ",65536,", 1) + "\n", 5, "dp", trace.ReasonBadField},
		{"crlf", strings.ReplaceAll(good+strings.Replace(ugrRow(3, "x"), "10.0.0.3", "10.0.0.256", 1)+"\n", "\n", "\r\n"), 3, "sa", trace.ReasonBadField},
		{"leading zero ip", good + strings.Replace(ugrRow(3, "x"), "10.0.0.3", "10.0.0.03", 1) + "\n", 3, "sa", trace.ReasonBadField},
		{"short ip", good + strings.Replace(ugrRow(3, "x"), "10.0.0.3", "10.0.3", 1) + "\n", 3, "sa", trace.ReasonBadField},
		{"uint64 overflow", good + strings.Replace(ugrRow(3, "x"), ",4,160,", ",18446744073709551616,160,", 1) + "\n", 3, "pkt", trace.ReasonBadField},
		{"20 digits", good + strings.Replace(ugrRow(3, "x"), ",4,160,", ",4,99999999999999999999,", 1) + "\n", 3, "byt", trace.ReasonBadField},
		{"port overflow", good + strings.Replace(ugrRow(3, "x"), ",1027,", ",65536,", 1) + "\n", 3, "sp", trace.ReasonBadField},
		{"feb 30", good + strings.Replace(ugrRow(3, "x"), "2016-03-18 10:47:03.250", "2016-02-30 10:47:03.250", 1) + "\n", 3, "ts", trace.ReasonBadField},
		{"leap second at midnight", good + strings.Replace(ugrRow(3, "x"), "2016-03-18 10:47:03.250", "2016-03-18 23:59:60.250", 1) + "\n", 3, "ts", trace.ReasonBadField},
		{"bare quote", good + ugrRow(3, `x"y`) + "\n", 3, "", trace.ReasonBadCSV},
	}
	for _, c := range cases {
		path := writeTemp(t, "e.csv", ugrHeader+c.body+good)
		_, _, _, err := trace.ReadAllFlows(path, trace.Options{})
		var pe *trace.PosError
		if !errors.As(err, &pe) || pe.Line != c.line || pe.Column != c.column {
			t.Errorf("%s: error %v, want a *PosError at line %d, column %q", c.name, err, c.line, c.column)
			continue
		}
		flows, st, _, err := trace.ReadAllFlows(path, trace.Options{SkipBad: true})
		if err != nil || st.Skipped[c.reason] != 1 || st.TotalSkipped() != 1 || int(st.Read) != len(flows) {
			t.Errorf("%s with SkipBad: %d records, %v, %+v; want one skipped for %q", c.name, len(flows), err, st, c.reason)
		}
	}
	// A 23:59:60 that does not carry into the next day reads as the next
	// minute.
	row := strings.Replace(ugrRow(3, "x"), "2016-03-18 10:47:03.250", "2016-03-18 10:59:60.250", 1)
	flows, _, _, err := trace.ReadAllFlows(writeTemp(t, "l.csv", ugrHeader+row+"\n"), trace.Options{})
	if err != nil || len(flows) != 1 || flows[0].Start != 1458298800250000 {
		t.Errorf("10:59:60: %+v, %v; want a start of 11:00:00.250", flows, err)
	}
}

// Rows are parsed in place in the read buffer: labels (interned or past
// the interner's limit), headers and a Zeek log's header values must
// survive the buffer's reuse over a file several buffers long.
func TestFieldsOutliveReadBuffer(t *testing.T) {
	const n = 30000 // about 4 MiB, several 1-MiB buffers
	var b strings.Builder
	b.WriteString(ugrHeader)
	for i := 0; i < n; i++ {
		b.WriteString(ugrRow(i, fmt.Sprintf("label-%d", i%6000)) + "\n") // 6,000 distinct: past the interner's 4,096
	}
	flows, _, _, err := trace.ReadAllFlows(writeTemp(t, "big.csv", b.String()), trace.Options{})
	if err != nil || len(flows) != n {
		t.Fatalf("%d records, %v", len(flows), err)
	}
	for i, f := range flows {
		if want := fmt.Sprintf("label-%d", i%6000); f.Label != want || f.Packets != uint64(1+i) {
			t.Fatalf("record %d: label %q, %d packets; want %q, %d", i, f.Label, f.Packets, want, 1+i)
		}
	}
	// A Zeek log whose unset and empty markers are unusual: they must be
	// remembered after the header lines' buffer is reused.
	var z strings.Builder
	z.WriteString("#separator \\x09\n#unset_field\tNA\n#empty_field\tNONE\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\tlabel\n")
	for i := 0; i < n; i++ {
		label := fmt.Sprintf("z%d", i%6000)
		if i%3 == 0 {
			label = "NONE"
		}
		fmt.Fprintf(&z, "1600000000.%06d\t10.0.0.1\t%d\t10.0.0.2\t80\ttcp\tNA\t%d\t40\t0\tNA\t%s\n", i, 1024+i%60000, 1+i, label)
	}
	flows, _, _, err = trace.ReadAllFlows(writeTemp(t, "conn.log", z.String()), trace.Options{})
	if err != nil || len(flows) != n {
		t.Fatalf("zeek: %d records, %v", len(flows), err)
	}
	for i, f := range flows {
		want := fmt.Sprintf("z%d", i%6000)
		if i%3 == 0 {
			want = ""
		}
		if f.Label != want || f.Dur != 0 || f.Packets != uint64(1+i) {
			t.Fatalf("zeek record %d: %+v, want label %q", i, f, want)
		}
	}
}
