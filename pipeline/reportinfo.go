package pipeline

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/report"
)

// reportInfo gathers what the report shows of the run: version, preset,
// effective configuration, seed, each chunk's training (iterations,
// starting point, time, losses from its loss log) and each stage's wall
// time, the evaluation's up to now.
func (r *Run) reportInfo() *report.RunInfo {
	ri := &report.RunInfo{Version: report.BuildVersion(), Seed: r.Cfg.Seed, Audit: r.Audit}
	if text, err := r.Cfg.YAML(); err == nil {
		ri.Config = string(text)
		ri.Preset = matchingPreset(text, r.Man.Input.Kind.String())
	}
	var chunkStages []string
	for name := range r.Man.Stages {
		if strings.HasPrefix(name, "train/chunk-") {
			chunkStages = append(chunkStages, name)
		}
	}
	sort.Strings(chunkStages)
	var base, rest report.StageTime
	for _, name := range chunkStages {
		st := r.Man.Stage(name)
		var c int
		if _, err := fmt.Sscanf(name, "train/chunk-%03d", &c); err != nil || st == nil {
			continue
		}
		cr := report.ChunkRun{Chunk: c}
		var ti TrainInfo
		if st.DecodeInfo(&ti) == nil {
			cr.Iterations = ti.Iterations
			if ti.InitFrom != "" {
				cr.InitFrom = r.describeModel(ti.InitFrom)
			}
		}
		if l, err := ReadLossLog(ModelDir(r.Dir, c)); err == nil {
			for _, p := range l.Points {
				cr.Losses = append(cr.Losses, report.LossPoint{Iteration: p.Iteration, D: p.D, DAttr: p.DAttr, G: p.G, WDist: p.WDist})
			}
			if n := len(l.Points); n > 0 {
				cr.Seconds = l.Points[n-1].Seconds
			}
		}
		ri.Chunks = append(ri.Chunks, cr)
		// The base chunk trains alone, the others together.
		t := &rest
		if len(ri.Chunks) == 1 && !r.Cfg.DP.Enabled {
			t = &base
		}
		t.Seconds = max(t.Seconds, st.Seconds)
		t.PeakRSS = max(t.PeakRSS, st.PeakRSS)
		t.Records += st.Records
		if st.Finished.After(t.Finished) {
			t.Finished = st.Finished
		}
	}
	add := func(name string, st *StageRecord) {
		if st != nil {
			ri.Stages = append(ri.Stages, report.StageTime{Name: name, Seconds: st.Seconds, Finished: st.Finished, PeakRSS: st.PeakRSS, Records: st.Records})
		}
	}
	add("pre-process", r.Man.Stage("preprocess"))
	if base.Seconds > 0 {
		base.Name = "train chunk 0"
		ri.Stages = append(ri.Stages, base)
	}
	if rest.Seconds > 0 {
		name := "train"
		if base.Seconds > 0 {
			name = "train the other chunks"
		}
		rest.Name = name
		ri.Stages = append(ri.Stages, rest)
	}
	add("generate", r.Man.Stage("generate"))
	if d, ok := r.Man.Running("evaluate"); ok {
		ri.Stages = append(ri.Stages, report.StageTime{Name: "evaluate", Seconds: d.Seconds(), PeakRSS: peakRSS()})
	}
	return ri
}

// describeModel names the model folder a chunk was fine-tuned from.
func (r *Run) describeModel(dir string) string {
	if rel, err := filepath.Rel(r.Dir, dir); err == nil && !strings.HasPrefix(rel, "..") {
		var c int
		if _, err := fmt.Sscanf(filepath.ToSlash(rel), ModelsDir+"/chunk-%03d", &c); err == nil {
			return fmt.Sprintf("chunk %d", c)
		}
	}
	return "the public run's model " + filepath.Base(filepath.Dir(filepath.Dir(dir))) + "/" + filepath.Base(dir)
}

// matchingPreset returns the preset whose configuration, for this kind of
// input, is text; "" when none is.
func matchingPreset(text []byte, kind string) string {
	for _, name := range config.Presets() {
		c, err := config.Load("", name)
		if err != nil {
			continue
		}
		if kind != "" {
			if c, err = c.ForKind(kind); err != nil {
				continue
			}
		}
		if t, err := c.YAML(); err == nil && string(t) == string(text) {
			return name
		}
	}
	return ""
}
