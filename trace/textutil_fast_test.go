package trace

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// The readers' hand-written parsers must agree with the library ones they
// replace.

func TestParseDateTimeMatchesTimeDate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(y, mo, d, h, mi, se int) {
		s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d.5", y, mo, d, h, mi, se)
		got, err := parseDateTime(s)
		tm := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
		if tm.Day() != d {
			if err == nil {
				t.Fatalf("%s: got %d, want an error", s, got)
			}
			return
		}
		if want := tm.Unix()*1_000_000 + 500_000; err != nil || got != want {
			t.Fatalf("%s: got %d, %v; want %d", s, got, err, want)
		}
	}
	for _, y := range []int{0, 1, 4, 100, 400, 1600, 1900, 1969, 1970, 2000, 2016, 2024, 2100, 9999} {
		for mo := 1; mo <= 12; mo++ {
			for d := 1; d <= 31; d++ {
				check(y, mo, d, 0, 0, 0)
				check(y, mo, d, 23, 59, 60)
			}
		}
	}
	for i := 0; i < 100000; i++ {
		check(r.IntN(10000), 1+r.IntN(12), 1+r.IntN(31), r.IntN(24), r.IntN(60), r.IntN(61))
	}
}

func TestParseIPv4MatchesNetip(t *testing.T) {
	cases := []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3.04", "0.10.100.200",
		"1.2.3", "1.2.3.4.", ".1.2.3", "1..2.3", "1.2.3.4.5", "", "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4", "1.2.3.1000",
		"::ffff:1.2.3.4", "1.2.3.4%eth0", "999.2.3.4", "00.0.0.0"}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		b := make([]byte, 1+r.IntN(16))
		for j := range b {
			b[j] = "0123456789.:x"[r.IntN(13)]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		got, gotErr := ParseIPv4(s)
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			if gotErr == nil {
				t.Fatalf("%q: got %d, want an error", s, got)
			}
		case !a.Is4():
			if gotErr != ErrIPv6 {
				t.Fatalf("%q: got %d, %v; want ErrIPv6", s, got, gotErr)
			}
		default:
			b := a.As4()
			if want := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]); gotErr != nil || got != want {
				t.Fatalf("%q: got %d, %v; want %d", s, got, gotErr, want)
			}
		}
	}
}

func TestParseUintMatchesStrconv(t *testing.T) {
	cases := []string{"0", "00", "255", "256", "65535", "65536", "4294967295", "4294967296", "18446744073709551615",
		"18446744073709551616", "9999999999999999999", "99999999999999999999", "1234567890123456789", "+1", "-1", "1_0", "0x10"}
	for _, s := range cases {
		for _, bits := range []int{8, 16, 32, 64} {
			got, err := parseUint(s, bits)
			want, werr := strconv.ParseUint(s, 10, bits)
			if werr == nil && (err != nil || got != want) {
				t.Errorf("parseUint(%q, %d) = %d, %v; want %d", s, bits, got, err, want)
			}
			if ne, ok := werr.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && err == nil {
				t.Errorf("parseUint(%q, %d) = %d; want out of range", s, bits, got)
			}
		}
	}
}
