package pipeline

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/netshare-go/netshare/dg"
)

// This file exposes what a driver that runs the stages itself (a cluster
// workflow whose steps run on different machines) needs beyond the stage
// methods: reopening a prepared run directory cheaply, and where a chunk's
// training will resume.

// Reopen opens a run directory that Open has already prepared (its
// configuration, input and manifest saved), without re-hashing the input or
// rewriting anything: each step of a cluster run opens the run afresh on
// whichever machine runs it. audit must be what the run was opened with.
// Like Open, it holds the run directory until Close.
func Reopen(dir string, audit bool, log *slog.Logger) (_ *Run, err error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("run directory %q is not an absolute path", dir)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.release()
		}
	}()
	man, err := LoadManifest(dir)
	if err != nil {
		return nil, err
	}
	if man.Input.SHA256 == "" {
		return nil, fmt.Errorf("%s has not been prepared (no input recorded in its manifest)", dir)
	}
	cfg, err := loadRunConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("no configuration saved in %s: %w", dir, err)
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Run{Dir: dir, Cfg: cfg, Man: man, Audit: audit, log: log, lock: lock}
	if man.Input.Path == EmbeddedSampleName {
		if r.InputPath, err = materialiseInput(dir, ""); err != nil {
			return nil, err
		}
	} else {
		r.InputPath = man.Input.Path
		if _, err := os.Stat(r.InputPath); err != nil {
			return nil, fmt.Errorf("input: %w (is it on storage this machine sees?)", err)
		}
	}
	return r, nil
}

// ResumePoint is the iteration TrainChunk will start job at: that of the
// checkpoint in the chunk's model folder when the folder holds checkpoints
// of job's key, else 0.
func ResumePoint(job ChunkJob) int {
	dir := ModelDir(job.RunDir, job.Chunk)
	key, err := os.ReadFile(filepath.Join(dir, jobKeyFile))
	if err != nil || strings.TrimSpace(string(key)) != job.Key || job.Key == "" {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, dg.ManifestFile))
	if err != nil {
		return 0
	}
	var m struct {
		Iteration int `json:"iteration"`
	}
	if json.Unmarshal(b, &m) != nil {
		return 0
	}
	return m.Iteration
}
