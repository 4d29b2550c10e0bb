package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// LockFile is a run directory's lock: the process that opens the run holds
// an exclusive lock on it until Run.Close (or its exit), and writes its PID
// and start time into it for whoever finds the lock taken. It is the one
// file of a run written in place, not atomically: the lock belongs to the
// file, and a renamed replacement would not hold it.
const LockFile = "run.lock"

// processStart is when this process started (near enough: when the
// package was initialised).
var processStart = time.Now().UTC()

// errLocked is what tryLock returns when another process holds the lock.
var errLocked = errors.New("locked")

// lockHolder is what the lock file says of the process holding it.
type lockHolder struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// dirLock is a held run directory lock.
type dirLock struct{ f *os.File }

// lockDir takes dir's lock, or fails at once, naming the process that
// holds it.
func lockDir(dir string) (*dirLock, error) {
	p := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock the run directory: %w", err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		holder := "another process"
		var h lockHolder
		if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &h) == nil && h.PID > 0 {
			holder = fmt.Sprintf("process %d (started %s)", h.PID, h.Started.Local().Format(time.DateTime))
		}
		return nil, fmt.Errorf("run directory %s is in use by %s: wait for it to finish, or stop it (lock file %s)", dir, holder, p)
	}
	b, _ := json.Marshal(lockHolder{PID: os.Getpid(), Started: processStart})
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return &dirLock{f}, nil
}

// release gives the lock up; it may be called on a nil lock, and twice.
func (l *dirLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the file releases the lock
	l.f = nil
	return err
}
