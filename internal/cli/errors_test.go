package cli

import (
	"os"
	"path/filepath"
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
