package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/netshare-go/netshare/dg"
)

// LossLogFile is the compact loss log kept in a chunk's model folder,
// beside its checkpoints: the losses every iteration training reports
// progress at (about 200 points per chunk), written at each checkpoint and
// when training stops, so the report can draw the loss curves.
const LossLogFile = "losses.json"

// LossLog is one chunk's training losses.
type LossLog struct {
	Chunk      int         `json:"chunk"`
	Iterations int         `json:"iterations"` // the job's target
	Points     []LossPoint `json:"points"`
}

// LossPoint is the losses after one iteration: the critic's (d), the
// attribute critic's (d_attr), the generator's (g) and the critic's
// Wasserstein estimate (w_dist); Seconds is the training time so far,
// across resumptions.
type LossPoint struct {
	Iteration int     `json:"it"`
	Seconds   float64 `json:"s"`
	D         float64 `json:"d"`
	DAttr     float64 `json:"d_attr"`
	G         float64 `json:"g"`
	WDist     float64 `json:"w_dist"`
}

// ReadLossLog reads the loss log of a chunk's model folder.
func ReadLossLog(modelDir string) (*LossLog, error) {
	p := filepath.Join(modelDir, LossLogFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var l LossLog
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &l, nil
}

// lossRecorder collects a training job's losses and writes them at each
// checkpoint.
type lossRecorder struct {
	path      string
	log       LossLog
	offset    float64 // training seconds before this session
	every     int     // checkpoint interval (0: only at the end)
	lastWrite int
}

// newLossRecorder starts the log of a job that begins at iteration first:
// a resumed job keeps the points up to its checkpoint, a new one starts
// empty.
func newLossRecorder(modelDir string, job ChunkJob, first, checkpointEvery int) *lossRecorder {
	r := &lossRecorder{path: filepath.Join(modelDir, LossLogFile), every: checkpointEvery, lastWrite: first,
		log: LossLog{Chunk: job.Chunk, Iterations: job.Iterations}}
	if first > 0 {
		if old, err := ReadLossLog(modelDir); err == nil {
			for _, p := range old.Points {
				if p.Iteration <= first {
					r.log.Points = append(r.log.Points, p)
					r.offset = p.Seconds
				}
			}
		}
	}
	return r
}

// round keeps 5 significant digits: the log stays compact.
func round(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 5, 64), 64)
	return f
}

func (r *lossRecorder) add(p dg.Progress) error {
	l := p.Losses
	pt := LossPoint{Iteration: p.Iteration, Seconds: round(r.offset + p.Elapsed.Seconds()),
		D: round(l.D), DAttr: round(l.DA), G: round(l.G), WDist: round(-l.WassersteinD)}
	for _, v := range []float64{pt.D, pt.DAttr, pt.G, pt.WDist} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil // training stops on a diverged loss; JSON has no NaN
		}
	}
	r.log.Points = append(r.log.Points, pt)
	if r.every > 0 && p.Iteration/r.every != r.lastWrite/r.every {
		return r.save()
	}
	return nil
}

func (r *lossRecorder) save() error {
	if len(r.log.Points) > 0 {
		r.lastWrite = r.log.Points[len(r.log.Points)-1].Iteration
	}
	b, err := json.Marshal(r.log)
	if err != nil {
		return err
	}
	return writeBytesAtomic(r.path, append(b, '\n'))
}
