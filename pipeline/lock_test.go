package pipeline

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// A run directory is held by whoever opened it: a second Open or Reopen
// fails at once with an error naming the holder's PID, and succeeds once
// the first has closed it.
func TestRunDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(Options{Dir: dir, Config: tinyConfig(t, 5), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{Dir: dir, Logger: quietLogger()})
	if err == nil {
		t.Fatal("a second Open of a held run directory succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "in use by process "+fmt.Sprint(os.Getpid())) || !strings.Contains(msg, "started ") || !strings.Contains(msg, dir) {
		t.Errorf("error %q does not name the directory and the holder's PID and start", msg)
	}
	if _, err := Reopen(dir, false, quietLogger()); err == nil {
		t.Error("Reopen of a held run directory succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	r2.Close()
	r2.Close() // twice is harmless
}
