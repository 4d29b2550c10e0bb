package report

import (
	"fmt"
	"image/color"

	"github.com/netshare-go/netshare/eval"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SelectionRow is one chunk's line of the checkpoint-selection table.
type SelectionRow struct {
	Chunk, ValidationFlows, GeneratedFlows, Checkpoints int
	Chosen, Last                                        eval.CheckpointScore
	Seconds                                             float64 // mean time to score a checkpoint
}

// SelectionRows summarises each chunk's checkpoint selection.
func SelectionRows(res *eval.Result) []SelectionRow {
	var rows []SelectionRow
	for i := range res.CheckpointSelection {
		cs := &res.CheckpointSelection[i]
		last, ok := cs.Last()
		if !ok {
			continue
		}
		r := SelectionRow{Chunk: cs.Chunk, ValidationFlows: cs.ValidationFlows, GeneratedFlows: cs.GeneratedFlows, Checkpoints: len(cs.Scores), Last: last}
		for _, s := range cs.Scores {
			r.Seconds += s.Seconds / float64(len(cs.Scores))
			if s.Iteration == cs.Chosen {
				r.Chosen = s
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// SelectionFigures draws each chunk's checkpoint score against the
// iteration, the chosen checkpoint marked (none without scores).
func SelectionFigures(res *eval.Result) ([]Figure, error) {
	if len(res.CheckpointSelection) == 0 {
		return nil, nil
	}
	p := newPlot("Checkpoint selection", "iteration", "score (lower is better)")
	var chosen plotter.XYs
	for i, cs := range res.CheckpointSelection {
		if len(cs.Scores) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(cs.Scores))
		for j, s := range cs.Scores {
			pts[j] = plotter.XY{X: float64(s.Iteration), Y: s.Score}
			if s.Iteration == cs.Chosen {
				chosen = append(chosen, pts[j])
			}
		}
		c := chunkColors[i%len(chunkColors)]
		if len(pts) == 1 {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			p.Legend.Add(fmt.Sprintf("chunk %d", cs.Chunk), sc)
			continue
		}
		if err := addLine(p, fmt.Sprintf("chunk %d", cs.Chunk), pts, c, i >= len(chunkColors)); err != nil {
			return nil, err
		}
	}
	if len(chosen) > 0 {
		sc, err := plotter.NewScatter(chosen)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: draw.RingGlyph{}}
		p.Add(sc)
		p.Legend.Add("chosen", sc)
	}
	f, err := renderFigure("checkpoint_selection", "Fast fidelity of each training checkpoint per chunk: the mean of the mean joint TVD and the mean JSD of a generated sample against the chunk's validation flows (held out of training). Rings mark the checkpoints generation used.", p)
	if err != nil {
		return nil, err
	}
	return []Figure{f}, nil
}
