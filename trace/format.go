package trace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Format names a supported trace file format.
type Format string

// The supported formats. Detection looks at the content, never at the file
// name; see [Detect].
const (
	FormatPcap        Format = "pcap"         // libpcap capture, either byte order, µs or ns timestamps
	FormatPcapNG      Format = "pcapng"       // pcapng capture, any number of sections and interfaces
	FormatNetShareCSV Format = "netshare-csv" // NetShare's NetFlow CSV: srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type
	FormatUGR16CSV    Format = "ugr16-csv"    // UGR'16 / nfdump CSV: ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label
	FormatZeekConn    Format = "zeek-conn"    // Zeek conn.log, TSV with #fields header
	FormatZeekCSV     Format = "zeek-csv"     // Zeek conn fields as CSV with a header line (IoT-23 style)
)

// Formats lists every supported format.
var Formats = []Format{FormatPcap, FormatPcapNG, FormatNetShareCSV, FormatUGR16CSV, FormatZeekConn, FormatZeekCSV}

// Kind says whether the format holds packets or flow records; 0 for an
// unknown format.
func (f Format) Kind() Kind {
	switch f {
	case FormatPcap, FormatPcapNG:
		return KindPackets
	case FormatNetShareCSV, FormatUGR16CSV, FormatZeekConn, FormatZeekCSV:
		return KindFlows
	}
	return 0
}

func (f Format) String() string { return string(f) }

// ParseFormat returns the format named s (as in [Formats]).
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == strings.ToLower(strings.TrimSpace(s)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want one of %s)", s, formatList())
}

func formatList() string {
	var b strings.Builder
	for i, f := range Formats {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(f))
	}
	return b.String()
}

// Magic numbers of the binary formats, as read little-endian from the first
// four bytes of the file.
const (
	pcapMagicMicroLE = 0xa1b2c3d4
	pcapMagicNanoLE  = 0xa1b23c4d
	pcapMagicMicroBE = 0xd4c3b2a1
	pcapMagicNanoBE  = 0x4d3cb2a1
	pcapMagicModLE   = 0xa1b2cd34 // Kuznetzov's modified pcap
	pcapMagicModBE   = 0x34cdb2a1
	ngBlockSHB       = 0x0a0d0d0a
	ngByteOrderMagic = 0x1a2b3c4d
)

// sniffLen is how many leading bytes detection looks at.
const sniffLen = 64 << 10

// Detect returns the format of a file from its first bytes (at least the
// first line for text formats; [NewSource] passes up to 64 KiB). name is only
// used in error messages. An empty head gives [ErrEmpty]; content that
// matches no format gives [ErrUnknownFormat]; both are wrapped with name.
//
// Binary formats are recognised by their magic numbers (pcap in both byte
// orders and both resolutions; pcapng by its section header block). Text
// formats are recognised by their first line: a Zeek log starts with
// "#separator" or "#fields"; a CSV header names its columns (id.orig_h and
// id.resp_h: Zeek CSV; srcip, dstip, ts, td, pkt, byt: NetShare; sa, da, pr,
// pkt, byt: UGR'16); a header-less CSV whose first row has 13 or 14 fields
// and a "YYYY-MM-DD hh:mm:ss" first field is UGR'16.
//
// A CSV header that none of these take but that names at least two columns
// of only one CSV format (sa and da, say) is read as that format's header:
// when its reader takes it, the file is of that format; otherwise the
// error is a [*PosError] wrapping [ErrUnknownFormat] that gives the
// reader's reason, e.g. `looks like UGR'16 CSV (ugr16-csv) but column "pkt"
// is missing`.
func Detect(name string, head []byte) (Format, error) {
	if len(head) == 0 {
		return "", fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	if len(head) >= 4 {
		switch binary.LittleEndian.Uint32(head) {
		case pcapMagicMicroLE, pcapMagicNanoLE, pcapMagicMicroBE, pcapMagicNanoBE:
			return FormatPcap, nil
		case pcapMagicModLE, pcapMagicModBE:
			return "", fmt.Errorf("%s: %w: modified (Kuznetzov) pcap is not supported; convert it with editcap -F pcap", name, ErrUnknownFormat)
		case ngBlockSHB:
			return FormatPcapNG, nil
		}
	}
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return "", fmt.Errorf("%s: %w: gzip data (decompress it first)", name, ErrUnknownFormat)
	}
	f, why := detectText(head)
	if f != "" {
		return f, nil
	}
	if why != "" {
		return "", fmt.Errorf("%s: %w: %s", name, ErrUnknownFormat, why)
	}
	if c := closestCSV(splitHeader(firstLine(head))); c != "" {
		return detectClose(name, c, head)
	}
	return "", fmt.Errorf("%s: %w", name, ErrUnknownFormat)
}

// formatNames are the formats' names in messages.
var formatNames = map[Format]string{
	FormatPcap:        "pcap",
	FormatPcapNG:      "pcapng",
	FormatNetShareCSV: "NetShare CSV",
	FormatUGR16CSV:    "UGR'16 CSV",
	FormatZeekConn:    "Zeek conn log",
	FormatZeekCSV:     "Zeek conn CSV",
}

// csvCandidates are the header-named CSV formats with the columns their
// readers know (labels aside), for telling which one a header that
// detection does not take comes closest to.
var csvCandidates = []struct {
	f    Format
	cols []string
}{
	{FormatNetShareCSV, netshareColumns},
	{FormatUGR16CSV, []string{"ts", "te", "td", "sa", "da", "sp", "dp", "pr", "flg", "fwd", "stos", "pkt", "byt", "ipkt", "ibyt"}},
	{FormatZeekCSV, append([]string{"uid", "duration", "history", "conn_state", "service", "orig_bytes", "resp_bytes"}, zeekRequired...)},
}

// closestCSV returns the CSV format whose columns a header has most of,
// provided it has at least two columns that only that format has (so that
// "ts" or "pkt" alone suggest nothing), or "" when none does or two tie.
func closestCSV(header []string) Format {
	owners := make(map[string]int) // column → how many formats know it
	for _, c := range csvCandidates {
		for _, n := range c.cols {
			owners[n]++
		}
	}
	has := make(map[string]bool, len(header))
	for _, h := range header {
		has[h] = true
	}
	best, bestScore, tie := Format(""), 0, false
	for _, c := range csvCandidates {
		score, own := 0, 0
		for _, n := range c.cols {
			if has[n] {
				score++
				if owners[n] == 1 {
					own++
				}
			}
		}
		switch {
		case own < 2:
		case score > bestScore:
			best, bestScore, tie = c.f, score, false
		case score == bestScore:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// detectClose opens head as format f, the one its header comes closest
// to. When f's reader takes the header, the file is f; otherwise the
// reader's error, as --format f would give it, says why it is not.
func detectClose(name string, f Format, head []byte) (Format, error) {
	r := bytes.NewReader(head)
	var err error
	switch f {
	case FormatNetShareCSV:
		_, err = newNetShareReader(name, r, Options{}, nil)
	case FormatUGR16CSV:
		_, err = newUGR16Reader(name, r, Options{}, nil)
	case FormatZeekCSV:
		_, err = newZeekCSVReader(name, r, Options{}, nil)
	}
	if err == nil {
		return f, nil
	}
	line, cause := 1, err
	var pe *PosError
	if errors.As(err, &pe) {
		if pe.Line > 0 {
			line = pe.Line
		}
		cause = pe.Err
	}
	var why string
	var mc missingColumnError
	if errors.As(cause, &mc) {
		why = fmt.Sprintf("column %q is missing", string(mc))
	} else {
		why = cause.Error()
	}
	return "", &PosError{File: name, Offset: -1, Line: line,
		Err: fmt.Errorf("%w: looks like %s (%s) but %s", ErrUnknownFormat, formatNames[f], f, why)}
}

// firstLine returns the first non-blank line of head without its line end
// and a leading UTF-8 byte-order mark.
func firstLine(head []byte) string {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		var line []byte
		if i < 0 {
			line, head = head, nil
		} else {
			line, head = head[:i], head[i+1:]
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) > 0 {
			return string(line)
		}
	}
	return ""
}

func detectText(head []byte) (Format, string) {
	// Text formats hold no NUL bytes and no other control characters than
	// tab, CR and LF in their first line.
	line := firstLine(head)
	if line == "" {
		return "", "no text line found"
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 && c != '\t' {
			return "", "binary data"
		}
	}
	if strings.HasPrefix(line, "#separator") || strings.HasPrefix(line, "#fields") {
		return detectZeekTSV(head)
	}
	cols := splitHeader(line)
	set := make(map[string]bool, len(cols))
	for _, c := range cols {
		set[c] = true
	}
	has := func(names ...string) bool {
		for _, n := range names {
			if !set[n] {
				return false
			}
		}
		return true
	}
	switch {
	case has("id.orig_h", "id.resp_h"):
		return FormatZeekCSV, ""
	case has("srcip", "dstip", "ts", "td", "pkt", "byt"):
		return FormatNetShareCSV, ""
	case has("srcip", "dstip", "time", "pkt_len"):
		return "", "NetShare's per-packet CSV is not a supported input; give the capture itself"
	case has("sa", "da", "pr", "pkt", "byt") || has("sa", "da", "pr", "ipkt", "ibyt"):
		return FormatUGR16CSV, ""
	}
	if (len(cols) == 13 || len(cols) == 14) && isDateTime(cols[0]) {
		return FormatUGR16CSV, ""
	}
	return "", ""
}

// detectZeekTSV checks that a Zeek log is a conn log.
func detectZeekTSV(head []byte) (Format, string) {
	for _, line := range strings.Split(string(head), "\n") {
		line = strings.TrimRight(line, "\r")
		if !strings.HasPrefix(line, "#") {
			break
		}
		if strings.HasPrefix(line, "#path") {
			if f := strings.Fields(line); len(f) == 2 && f[1] != "conn" {
				return "", fmt.Sprintf("Zeek %s log, not a conn log", f[1])
			}
		}
		if strings.HasPrefix(line, "#fields") {
			if !strings.Contains(line, "id.orig_h") || !strings.Contains(line, "id.resp_h") {
				return "", "Zeek log without id.orig_h/id.resp_h fields, not a conn log"
			}
		}
	}
	return FormatZeekConn, ""
}

// splitHeader splits a CSV header line into lower-case, trimmed, unquoted
// column names.
func splitHeader(line string) []string {
	cols := strings.Split(line, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		c = strings.Trim(c, `"`)
		cols[i] = strings.ToLower(strings.TrimSpace(c))
	}
	return cols
}

// isDateTime reports whether s looks like "YYYY-MM-DD hh:mm:ss[.fff]".
func isDateTime(s string) bool {
	_, err := parseDateTime(s)
	return err == nil
}
