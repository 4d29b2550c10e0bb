package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/netshare-go/netshare/internal/atomicfile"
)

// Paths inside a run directory.
const (
	ConfigFile    = "config.yaml"
	PreDir        = "preprocess"
	ModelsDir     = "models"
	SchemaFile    = "schema.json"
	EmbeddingFile = "ip2vec.model"
	SplitFile     = "split.json"
	HoldoutBase   = "holdout"
	TrainBase     = "train"
	SyntheticBase = "synthetic"
)

func chunkDataPath(dir string, c int) string {
	return filepath.Join(dir, PreDir, fmt.Sprintf("chunk-%03d.data", c))
}

// ModelDir is the folder of chunk c's model and checkpoints.
func ModelDir(dir string, c int) string {
	return filepath.Join(dir, ModelsDir, fmt.Sprintf("chunk-%03d", c))
}

func preFile(dir, name string) string { return filepath.Join(dir, PreDir, name) }

// traceExt is the file extension of a trace of the given kind.
func traceExt(packets bool) string {
	if packets {
		return ".pcap"
	}
	return ".csv"
}

// removeIfExists removes a file, if there is one.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func writeBytesAtomic(path string, b []byte) error {
	return atomicfile.WriteFile(path, b, 0o644)
}
