package cli

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// --preset and a --config file that extends another base conflict: the
// error names both flags, and no run directory is made.
func TestPresetConflictsWithConfigFile(t *testing.T) {
	dir := t.TempDir()
	q := writeFile(t, dir, "q.yaml", "extends: quick\n")
	out := filepath.Join(dir, "run")
	_, _, err := runCLI(t, "run", "--preset", "paper", "--config", q, "--out", out)
	want := "--preset paper conflicts with --config " + q + ", which extends quick (line 1)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("run: %v, want %q", err, want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("run directory made")
	}
	if _, _, err := runCLI(t, "config", "show", "--preset", "default", "--config", q); err == nil || !strings.Contains(err.Error(), "--preset default conflicts with --config") {
		t.Errorf("config show: %v", err)
	}
	// Without --preset the file's base applies.
	stdout, _, err := runCLI(t, "config", "show", "--config", q)
	if err != nil || !strings.Contains(stdout, "iterations: 1500") {
		t.Errorf("config show of a quick file: %v\n%s", err, stdout)
	}
}

// Errors about values given on the command line name the flags, not the
// configuration keys they set; no run directory is made.
func TestDPFlagErrorsNameTheFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--dp-epsilon", "4"}, "--dp-epsilon 4 needs --pretrained RUN (a run on public data)"},
		{[]string{"--dp-epsilon", "-1", "--pretrained", dir}, "--dp-epsilon -1: the privacy budget must be positive"},
		{[]string{"--dp-epsilon", "4", "--pretrained", dir, "--dp-delta", "2"}, "--dp-delta 2: must be between 0 and 1"},
		{[]string{"--pretrained", dir}, "--pretrained only applies to a run with differential privacy"},
		{[]string{"--pretrained", dir, "--dp-delta", "1e-6"}, "--dp-delta and --pretrained only apply to a run with differential privacy"},
	}
	for _, c := range cases {
		_, _, err := runCLI(t, append([]string{"run", "--preset", "quick", "--out", out}, c.args...)...)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "dp.pretrained") || strings.Contains(err.Error(), "dp.delta") || strings.Contains(err.Error(), "dp.epsilon")) {
			t.Errorf("%v: error %q names a configuration key", c.args, err)
		}
	}
	// A key from the file that conflicts with DP turned on by the flag
	// names the file.
	q := writeFile(t, dir, "q.yaml", "extends: quick\nword2vec:\n  pretrained: vecs.bin\n")
	_, _, err := runCLI(t, "run", "--config", q, "--out", out, "--dp-epsilon", "4", "--pretrained", dir)
	if err == nil || !strings.Contains(err.Error(), q+": word2vec.pretrained:") || !strings.Contains(err.Error(), "--dp-epsilon") {
		t.Errorf("file key under flag DP: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("run directory made")
	}
}

// The help names the values of --config and --preset plainly and gives
// the preset that applies when none is named.
func TestRunHelpText(t *testing.T) {
	for _, args := range [][]string{{"run", "--help"}, {"preprocess", "--help"}, {"config", "show", "--help"}} {
		out, _, err := runCLI(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"--config extends:", "(default default)", "may extends:"} {
			if strings.Contains(out, bad) {
				t.Errorf("%v: help shows %q:\n%s", args, bad, out)
			}
		}
		for _, want := range []string{"--config FILE", "--preset PRESET", "else default"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// --version and version print the same description of the build.
func TestVersion(t *testing.T) {
	a, _, err := runCLI(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := runCLI(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || !strings.HasPrefix(a, "netshare ") || strings.HasPrefix(a, "netshare dev\n") || !strings.Contains(a, "\nBLAS: ") {
		t.Errorf("--version %q, version %q", a, b)
	}
}

func TestDescribeBuild(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	want := "netshare v1.4.0\ncommit 0123abcd (2026-01-02T03:04:05Z), with uncommitted changes\ngo1.99 linux/arm64\n"
	if got := describeBuild("", bi); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// A version set at link time wins; a build without module version or
	// VCS stamp says devel.
	if got := describeBuild("v2.0.0", bi); !strings.HasPrefix(got, "netshare v2.0.0\n") {
		t.Errorf("linked version: %q", got)
	}
	bare := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}}
	if got := describeBuild("", bare); !strings.HasPrefix(got, "netshare devel\ngo1.99 ") {
		t.Errorf("bare build: %q", got)
	}
	if got := describeBuild("", nil); !strings.HasPrefix(got, "netshare devel\n") || !strings.Contains(got, "no build information") {
		t.Errorf("no build info: %q", got)
	}
}
