// Package atomicfile writes files atomically: the content goes to a
// temporary file in the destination's directory, is synced, and is renamed
// over the destination only when complete, so a reader (or a run resumed
// after a crash) sees either the old file or the whole new one.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write atomically replaces path with what fill writes. fill's writer is
// buffered; if fill returns an error the destination is left untouched.
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// File is a file written atomically piece by piece, for content produced
// over time: Create starts it, Write appends to it (buffered), Commit puts
// it in place of the destination, and Abort (or a failed Commit) removes
// it, leaving the destination untouched.
type File struct {
	path, tmp string
	perm      os.FileMode
	f         *os.File
	w         *bufio.Writer
	closed    bool
}

// Create starts an atomic write of path.
func Create(path string, perm os.FileMode) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	return &File{path: path, tmp: f.Name(), perm: perm, f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

// Write appends p.
func (f *File) Write(p []byte) (int, error) {
	if f.closed {
		return 0, fmt.Errorf("write %s: already closed", f.path)
	}
	return f.w.Write(p)
}

// WriteAt overwrites bytes already written, at offset off (a header whose
// figures are known only at the end, say).
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, fmt.Errorf("write %s: already closed", f.path)
	}
	if err := f.w.Flush(); err != nil {
		return 0, fmt.Errorf("write %s: %w", f.path, err)
	}
	return f.f.WriteAt(p, off)
}

// Commit syncs the content and renames it over the destination.
func (f *File) Commit() (err error) {
	if f.closed {
		return fmt.Errorf("commit %s: already closed", f.path)
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	if err = f.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err = f.f.Chmod(f.perm); err != nil {
		return fmt.Errorf("chmod %s: %w", f.path, err)
	}
	if err = f.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.path, err)
	}
	f.closed = true
	if err = f.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.path, err)
	}
	if err = os.Rename(f.tmp, f.path); err != nil {
		return fmt.Errorf("rename into %s: %w", f.path, err)
	}
	f.tmp = ""
	return syncDir(filepath.Dir(f.path))
}

// Abort drops the content written so far; the destination is untouched.
// It does nothing after a successful Commit.
func (f *File) Abort() {
	if !f.closed {
		f.closed = true
		f.f.Close()
	}
	if f.tmp != "" {
		os.Remove(f.tmp)
		f.tmp = ""
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil // best effort: some filesystems do not allow opening directories
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}
