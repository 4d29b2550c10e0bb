package cli

import (
	"bytes"
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

// runMain runs the CLI as Main does and returns the exit status and what
// went to stderr.
func runMain(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := NewRoot(&out, &errb)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0, errb.String()
	}
	return reportFailure(&errb, cmd, err), errb.String()
}

// A command called wrongly prints its usage line under the error and
// exits with status 2.
func TestUsageOnArgumentErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args      []string
		err, line string
	}{
		{[]string{"run"}, `required flag(s) "out" not set`, "usage: netshare run [flags]"},
		{[]string{"run", "--out", dir, "--bogus"}, "unknown flag: --bogus", "usage: netshare run [flags]"},
		{[]string{"run", "--out", dir, "extra"}, `unknown command "extra"`, "usage: netshare run [flags]"},
		{[]string{"preprocess", "--out", dir, "--skip-bad=maybe"}, "invalid argument", "usage: netshare preprocess [flags]"},
		{[]string{"train"}, `required flag(s) "out" not set`, "usage: netshare train [flags]"},
		{[]string{"generate", "--out"}, "flag needs an argument", "usage: netshare generate [flags]"},
		{[]string{"report", "a"}, `unknown command "a"`, "usage: netshare report [flags]"},
		{[]string{"inspect", "a", "b"}, "accepts at most 1 arg(s)", "usage: netshare inspect [FILE] [flags]"},
		{[]string{"inspect", "--format", "nope"}, "--format", "usage: netshare inspect [FILE] [flags]"},
		{[]string{"eval"}, "both --real and --synthetic are required", "usage: netshare eval --real FILE --synthetic FILE [flags]"},
		{[]string{"privacy", "--records", "10"}, `required flag(s) "batch" not set`, "usage: netshare privacy [flags]"},
		{[]string{"privacy", "--records", "10", "--batch", "1", "--noise", "1", "--steps", "1", "--epochs", "1"}, "none of the others can be", "usage: netshare privacy [flags]"},
		{[]string{"privacy", "--records", "0", "--batch", "1", "--noise", "1", "--steps", "1"}, "--records 0", "usage: netshare privacy [flags]"},
		{[]string{"config", "show", "--for"}, "flag needs an argument", "usage: netshare config show [flags]"},
		{[]string{"config", "presets", "x"}, `unknown command "x"`, "usage: netshare config presets [flags]"},
		{[]string{"version", "--bogus"}, "unknown flag", "usage: netshare version [flags]"},
		{[]string{"worker", "--poll", "x"}, "--poll", "usage: netshare worker [flags]"},
		{[]string{"bogus"}, `unknown command "bogus" for "netshare"`, "usage: netshare COMMAND [flags]"},
	}
	for _, c := range cases {
		code, stderr := runMain(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.err) || !strings.Contains(stderr, c.line+"\n") {
			t.Errorf("%v: status %d, stderr:\n%s\nwant status 2, %q and %q", c.args, code, stderr, c.err, c.line)
		}
	}
	// A failure that is not about the call has no usage line.
	code, stderr := runMain(t, "inspect", filepath.Join(dir, "missing.csv"))
	if code != 1 || strings.Contains(stderr, "usage:") {
		t.Errorf("missing input: status %d, stderr:\n%s", code, stderr)
	}
}

// A command that fails before its run starts leaves no directory behind;
// a later stage does not make one.
func TestFailedCommandsLeaveNoEmptyRunDirectory(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a", "b", "run")
	_, _, err := runCLI(t, "run", "--preset", "quick", "--input", filepath.Join(dir, "missing.csv"), "--out", out)
	if err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing input: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Error("missing input: run directory (or its parent) made")
	}
	for _, stage := range []string{"train", "generate", "report"} {
		_, _, err := runCLI(t, stage, "--out", out)
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("%s: %v", stage, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
			t.Errorf("%s: run directory made", stage)
		}
	}
	// A directory that was there already stays, even when empty.
	kept := filepath.Join(dir, "kept")
	if err := os.Mkdir(kept, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "preprocess", "--preset", "quick", "--input", filepath.Join(dir, "missing.csv"), "--out", kept); err == nil {
		t.Error("missing input: no error")
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("existing directory removed: %v", err)
	}
}
