package cli

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The cluster flags are checked before anything is written or contacted.
func TestClusterFlagErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--executor", "ray", "--out", out}, `--executor: want local or temporal, got "ray"`},
		{[]string{"run", "--executor", "temporal", "--out", out, "--preset", "quick"}, "--temporal HOST:PORT is required"},
		{[]string{"run", "--executor", "temporal", "--temporal", closed, "--out", out, "--preset", "nope"}, "nope"},
		{[]string{"worker", "--temporal", closed, "--poll", "some"}, "--poll: want all, stages or train"},
		{[]string{"worker", "--poll", "train"}, "--temporal HOST:PORT is required"},
		{[]string{"worker", "--temporal", closed, "--concurrency", "-1"}, "must not be negative"},
	} {
		_, _, err := runTraceCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("netshare %s: error %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused cluster run created its run directory")
	}
}
