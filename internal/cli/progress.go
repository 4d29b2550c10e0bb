package cli

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/netshare-go/netshare/pipeline"
)

// reporter shows training progress: a live bar per running chunk on a
// terminal, or a log line per chunk every few percent otherwise (CI, pipes).
type reporter struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	log      *slog.Logger
	state    map[int]pipeline.Progress
	lastLog  map[int]time.Time
	lastDraw time.Time
	lines    int
	dirty    bool // an update not drawn yet
}

// newReporter returns a reporter writing to w; tty selects live bars.
func newReporter(w io.Writer, tty bool, log *slog.Logger) *reporter {
	if log == nil {
		log = slog.Default()
	}
	return &reporter{w: w, tty: tty, log: log, state: map[int]pipeline.Progress{}, lastLog: map[int]time.Time{}}
}

// Update records a progress report; it is safe for concurrent use.
func (r *reporter) Update(p pipeline.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, seen := r.state[p.Chunk]
	if p.Losses == nil && seen {
		p.Losses = prev.Losses // the final report carries no losses: show the last ones
	}
	r.state[p.Chunk] = p
	if r.tty {
		r.dirty = true
		if p.Done || time.Since(r.lastDraw) > 150*time.Millisecond {
			r.draw()
		}
		return
	}
	// Plain lines: at start, every 10% or 30 s, and at the end.
	step := max(1, p.Iterations/10)
	if !seen || p.Done || p.Iteration/step != prev.Iteration/step || time.Since(r.lastLog[p.Chunk]) > 30*time.Second {
		r.lastLog[p.Chunk] = time.Now()
		args := []any{"chunk", p.Chunk, "iteration", p.Iteration, "of", p.Iterations}
		for _, k := range slices.Sorted(maps.Keys(p.Losses)) {
			args = append(args, "loss_"+k, fmt.Sprintf("%.4g", p.Losses[k]))
		}
		if eta := p.ETA(); eta > 0 {
			args = append(args, "eta", eta.Round(time.Second).String())
		}
		if p.Done {
			r.log.Info("chunk trained", "chunk", p.Chunk, "iterations", p.Iterations)
		} else {
			r.log.Info("training", args...)
		}
	}
}

// draw redraws one line per chunk in place.
func (r *reporter) draw() {
	r.lastDraw = time.Now()
	r.dirty = false
	var b strings.Builder
	if r.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", r.lines)
	}
	chunks := make([]int, 0, len(r.state))
	for c := range r.state {
		chunks = append(chunks, c)
	}
	slices.Sort(chunks)
	for _, c := range chunks {
		p := r.state[c]
		const width = 30
		frac := 0.0
		if p.Iterations > 0 {
			frac = float64(p.Iteration) / float64(p.Iterations)
		}
		fill := int(frac * width)
		bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
		status := "ETA " + p.ETA().Round(time.Second).String()
		if p.Done {
			status = "done"
		}
		fmt.Fprintf(&b, "\x1b[2Kchunk %3d [%s] %6d/%-6d d %8.4f  g %8.4f  %s\n", c, bar, p.Iteration, p.Iterations, p.Losses["d"], p.Losses["g"], status)
	}
	r.lines = len(chunks)
	io.WriteString(r.w, b.String())
}

// Close finishes the display.
func (r *reporter) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tty && r.dirty {
		r.draw()
	}
}

// Break lets other output (a log line) through: the bars drawn so far stay
// where they are and the next update draws them afresh below that output.
func (r *reporter) Break() {
	r.mu.Lock()
	r.lines = 0
	r.mu.Unlock()
}
