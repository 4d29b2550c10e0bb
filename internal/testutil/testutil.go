// Package testutil holds helpers shared by netshare's tests.
package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// RepoRoot returns the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Testdata returns the path of a fixture under the repository's testdata/.
func Testdata(parts ...string) string {
	return filepath.Join(append([]string{RepoRoot(), "testdata"}, parts...)...)
}

// SharedData returns the path of a file in the optional larger data set
// (the directory named by $NETSHARE_DATA, or ../shared/data beside the
// repository), and skips the test when it is absent.
func SharedData(tb testing.TB, rel string) string {
	tb.Helper()
	dir := os.Getenv("NETSHARE_DATA")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared", "data")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("optional data %s not available", rel)
	}
	return p
}

// TinyConfig is a configuration (YAML, over the quick preset) that trains
// chunks chunks for iterations iterations in a second or two, with a
// checkpoint every checkpointEvery iterations; each of train is one more
// "key: value" line of its train: section.
func TinyConfig(chunks, iterations, checkpointEvery int, train ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `extends: quick
n_chunks: %d
model:
  batch_size: 32
  attr_gen_layers: 2
  attr_gen_units: 16
  lstm_units: 8
  disc_layers: 2
  disc_units: 16
  aux_disc_layers: 2
  aux_disc_units: 16
  d_rounds: 1
train:
  iterations: %d
  checkpoint_every: %d
`, chunks, iterations, checkpointEvery)
	for _, l := range train {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	return b.String()
}
