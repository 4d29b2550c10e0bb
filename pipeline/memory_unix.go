//go:build unix

package pipeline

import (
	"runtime"
	"syscall"
)

// peakRSS returns the process's peak resident memory so far, in bytes
// (getrusage's maxrss), or 0 where it cannot be read.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) // bytes there, KiB elsewhere
	}
	return int64(ru.Maxrss) * 1024
}
