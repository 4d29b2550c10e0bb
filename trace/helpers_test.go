package trace_test

import (
	"errors"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// readPackets reads every packet of path and fails the test on an error.
func readPackets(t testing.TB, path string) ([]trace.Packet, trace.Stats) {
	t.Helper()
	pkts, st, _, err := trace.ReadAllPackets(path, trace.Options{})
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return pkts, st
}

// readFlows reads every flow record of path and fails the test on an error.
func readFlows(t testing.TB, path string, opt trace.Options) ([]trace.Flow, trace.Stats) {
	t.Helper()
	flows, st, _, err := trace.ReadAllFlows(path, opt)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return flows, st
}

// requireTool skips the test when the named program is not installed.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed", name)
	}
	return p
}

// tsharkRows runs tshark on path and returns one row of the given fields per
// frame (first occurrence of each field, so an ICMP error's quoted header
// does not count).
func tsharkRows(t testing.TB, path string, extra []string, fields ...string) [][]string {
	t.Helper()
	tshark := requireTool(t, "tshark")
	args := []string{"-r", path, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"}
	args = append(args, extra...)
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("tshark %s: %v: %s", path, err, ee.Stderr)
		}
		t.Fatalf("tshark %s: %v", path, err)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		rows = append(rows, strings.Split(line, "|"))
	}
	return rows
}

// num parses a tshark number (decimal or 0x hex); "" is 0.
func num(t testing.TB, s string) uint64 {
	t.Helper()
	if s == "" {
		return 0
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("tshark value %q: %v", s, err)
	}
	return v
}

// epochMicros parses tshark's frame.time_epoch ("1521118773.289502000").
func epochMicros(t testing.TB, s string) int64 {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	v, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		t.Fatalf("tshark time %q: %v", s, err)
	}
	frac = (frac + "000000")[:6]
	us, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		t.Fatalf("tshark time %q: %v", s, err)
	}
	return v*1_000_000 + us
}

func ip(t testing.TB, s string) uint32 {
	t.Helper()
	v, err := trace.ParseIPv4(s)
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return v
}

// drain reads a packet reader to its end and returns the packets and the
// final error (nil at a clean end).
func drain(pr trace.PacketReader) ([]trace.Packet, error) {
	var out []trace.Packet
	for {
		var p trace.Packet
		err := pr.Next(&p)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
}

func drainFlows(fr trace.FlowReader) ([]trace.Flow, error) {
	var out []trace.Flow
	for {
		var f trace.Flow
		err := fr.Next(&f)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}
