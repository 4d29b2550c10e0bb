package trace

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// errSyntax is the generic "cannot parse" cause; messages add the value.
var errSyntax = errors.New("invalid syntax")

// pow10 holds 10^0 .. 10^18.
var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// parseFixed parses a non-negative decimal number and returns it multiplied
// by 10^decimals, rounded half away from zero. It reads plain decimals
// ("1458298072364000.0", "305.63599999999997", "0.000010") exactly, without
// going through float64; numbers in exponent notation are parsed as float64.
func parseFixed(s string, decimals int) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i+1:]
	}
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	var v int64
	for i := 0; i < len(intPart); i++ {
		c := intPart[i]
		if c < '0' || c > '9' {
			return parseFixedFloat(s, decimals)
		}
		if v > (math.MaxInt64-9)/10 {
			return 0, fmt.Errorf("number %q out of range", s)
		}
		v = v*10 + int64(c-'0')
	}
	if v > math.MaxInt64/pow10[decimals] {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	v *= pow10[decimals]
	var f int64
	roundUp := false
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return parseFixedFloat(s, decimals)
		}
		switch {
		case i < decimals:
			f = f*10 + int64(c-'0')
		case i == decimals:
			roundUp = c >= '5'
		}
	}
	if n := len(frac); n < decimals {
		f *= pow10[decimals-n]
	}
	if roundUp {
		f++
	}
	if v > math.MaxInt64-f {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	return v + f, nil
}

// parseFixedFloat is parseFixed's path for exponent notation.
func parseFixedFloat(s string, decimals int) (int64, error) {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	if x < 0 {
		return 0, fmt.Errorf("negative number %q", s)
	}
	x = math.Round(x * float64(pow10[decimals]))
	if x >= math.MaxInt64 {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	return int64(x), nil
}

// parseUint parses an unsigned integer of at most bits bits. A number
// written as a float ("15.0", as NetShare's generated traces hold) is
// rounded to the nearest integer.
func parseUint(s string, bits int) (uint64, error) {
	if n := len(s); n > 0 && n <= 19 {
		// Up to 19 digits cannot overflow uint64.
		var v uint64
		i := 0
		for ; i < n; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				break
			}
			v = v*10 + uint64(c-'0')
		}
		if i == n && (bits == 64 || v < 1<<bits) {
			return v, nil
		}
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err == nil {
		return v, nil
	}
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	x, ferr := strconv.ParseFloat(s, 64)
	if ferr != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	x = math.Round(x)
	if x < 0 || x > float64(uint64(1)<<bits-1) {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	return uint64(x), nil
}

// parseDateTime parses "YYYY-MM-DD hh:mm:ss[.f...]" (or with a 'T'
// separator) as UTC and returns microseconds since the epoch; digits past
// the microsecond are truncated.
func parseDateTime(s string) (int64, error) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		return 0, fmt.Errorf("invalid timestamp %q (want YYYY-MM-DD hh:mm:ss[.fff])", s)
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d, h, mi, se := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60 {
		return 0, fmt.Errorf("invalid timestamp %q", s)
	}
	var us int64
	if rest := s[19:]; rest != "" {
		if rest[0] != '.' || len(rest) == 1 {
			return 0, fmt.Errorf("invalid timestamp %q", s)
		}
		frac := rest[1:]
		for i := 0; i < len(frac); i++ {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("invalid timestamp %q", s)
			}
			if i < 6 {
				us = us*10 + int64(c-'0')
			}
		}
		if len(frac) < 6 {
			us *= pow10[6-len(frac)]
		}
	}
	// A day past the month's end, or a leap second at 23:59:60 (which
	// would carry into the next day), is not a date.
	if d > daysIn(y, mo) || h == 23 && mi == 59 && se == 60 {
		return 0, fmt.Errorf("invalid date in timestamp %q", s)
	}
	sec := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+se)
	return sec*1_000_000 + us, nil
}

// daysIn returns the number of days of month mo (1-12) of year y in the
// proleptic Gregorian calendar.
func daysIn(y, mo int) int {
	switch mo {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the date
// y-mo-d of the proleptic Gregorian calendar (y >= 0), as time.Date does.
func daysFromCivil(y, mo, d int) int64 {
	if mo <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	m := mo + 9
	if mo > 2 {
		m = mo - 3
	}
	doy := (153*m+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// appendDateTimeUs appends the UTC time of us (microseconds since the
// epoch) as "YYYY-MM-DD hh:mm:ss.ffffff".
func appendDateTimeUs(b []byte, us int64) []byte {
	ms, rest := floorDiv(us, 1000)
	return appendPad(appendDateTimeMs(b, ms), int(rest), 3)
}

// appendDateTimeMs appends the UTC time of ms (milliseconds since the epoch)
// as "YYYY-MM-DD hh:mm:ss.fff".
func appendDateTimeMs(b []byte, ms int64) []byte {
	sec, msec := floorDiv(ms, 1000)
	t := time.Unix(sec, 0).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, int(mo), 2)
	b = append(b, '-')
	b = appendPad(b, d, 2)
	b = append(b, ' ')
	b = appendPad(b, h, 2)
	b = append(b, ':')
	b = appendPad(b, mi, 2)
	b = append(b, ':')
	b = appendPad(b, s, 2)
	b = append(b, '.')
	return appendPad(b, int(msec), 3)
}

func appendPad(b []byte, v, width int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// floorDiv returns the floor quotient and the non-negative remainder.
func floorDiv(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// appendCSVField appends s, quoted when it holds a comma, a quote, a line
// break or leading/trailing space.
func appendCSVField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") && strings.TrimSpace(s) == s {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// tcpFlagLetters is nfdump's 6-character TCP flag layout, highest bit first.
const tcpFlagLetters = "UAPRSF"

// appendFlagsUAPRSF appends TCP flags as nfdump's 6-character string.
func appendFlagsUAPRSF(b []byte, fl uint8) []byte {
	for i := 0; i < 6; i++ {
		if fl&(1<<(5-i)) != 0 {
			b = append(b, tcpFlagLetters[i])
		} else {
			b = append(b, '.')
		}
	}
	return b
}

// parseTCPFlags reads TCP flags written as nfdump's 6-character "UAPRSF"
// string, its 8-character "CEUAPRSF" form ('.' = unset), a hexadecimal
// "0x.." value or a decimal number.
func parseTCPFlags(s string) (uint8, error) {
	if s == "" {
		return 0, nil
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		v, err := strconv.ParseUint(s[2:], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("invalid TCP flags %q", s)
		}
		return uint8(v), nil
	}
	if s[0] >= '0' && s[0] <= '9' {
		if v, err := strconv.ParseUint(s, 10, 8); err == nil {
			return uint8(v), nil
		}
	}
	const all = "CEUAPRSF"
	if len(s) != 6 && len(s) != 8 {
		return 0, fmt.Errorf("invalid TCP flags %q (want 6 characters UAPRSF, '.' for unset)", s)
	}
	letters := all[8-len(s):]
	var v uint8
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.':
		case letters[i]:
			v |= 1 << (len(s) - 1 - i)
		default:
			return 0, fmt.Errorf("invalid TCP flags %q (want %s, '.' for unset)", s, letters)
		}
	}
	return v, nil
}

// parseIPv4Field parses an IPv4 address written as a dotted quad or as a
// uint32 decimal (NetShare's form). IPv6 addresses give ErrIPv6.
func parseIPv4Field(s string) (uint32, error) {
	if strings.IndexByte(s, ':') >= 0 {
		return 0, ErrIPv6
	}
	if strings.IndexByte(s, '.') >= 0 {
		if v, err := ParseIPv4(s); err == nil {
			return v, nil
		}
		// NetShare's generated files may hold the integer as a float.
		if v, err := parseUint(s, 32); err == nil {
			return uint32(v), nil
		}
		return 0, fmt.Errorf("invalid IPv4 address %q", s)
	}
	v, err := parseUint(s, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid IPv4 address %q", s)
	}
	return uint32(v), nil
}
