// Package testutil holds helpers shared by netshare's tests.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
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
