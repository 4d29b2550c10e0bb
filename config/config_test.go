package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPresetsLoadAndInherit(t *testing.T) {
	paper, err := Load("", "paper")
	if err != nil {
		t.Fatal(err)
	}
	if paper.Model.DiscUnits != 512 || paper.Model.DRounds != 5 || paper.Model.GLR != 1e-4 || paper.Train.Iterations != 0 || paper.Train.Epochs != 40 || paper.Train.FineTuneEpochs != 10 || paper.Train.Budget != "" || paper.Chunks != 10 {
		t.Errorf("paper preset does not hold NetShare's values: %+v", paper)
	}
	quick, err := Load("", "quick")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Load("", "")
	if err != nil {
		t.Fatal(err)
	}
	// quick extends default, which extends paper: untouched keys come through.
	if quick.Model.Beta1 != paper.Model.Beta1 || quick.Train.FineTuneReduce != def.Train.FineTuneReduce {
		t.Error("inherited keys lost")
	}
	if quick.Model.DiscUnits >= def.Model.DiscUnits || quick.Train.Iterations >= def.Train.MinIterations {
		t.Error("quick preset should be smaller than default")
	}
	// default trains NetShare's epochs, at least 2,000 iterations for chunk
	// 0, within a budget; quick a fixed count, which drops the epochs, the
	// bounds and the budget it inherits.
	if d := def.Train; !d.FromEpochs() || d.Epochs != 40 || d.FineTuneEpochs != 10 || d.MinIterations != 2000 || d.Budget != "25m" {
		t.Errorf("default schedule %+v", d)
	}
	if q := quick.Train; q.FromEpochs() || q.Epochs != 0 || q.Budget != "" || q.MinIterations != 0 {
		t.Errorf("quick schedule %+v", q)
	}
	for _, p := range Presets() {
		if _, err := Load("", p); err != nil {
			t.Errorf("preset %s: %v", p, err)
		}
	}
}

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUserFileDeepMerge(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "base.yaml", "extends: quick\nn_chunks: 3\nmodel:\n  disc_units: 48\n  lstm_units: 20\n")
	p := write(t, dir, "run.yaml", "extends: base.yaml\nmodel:\n  lstm_units: 24\ntrain:\n  iterations: 7\n")
	c, err := Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	q, _ := Load("", "quick")
	if c.Chunks != 3 || c.Model.DiscUnits != 48 || c.Model.LSTMUnits != 24 || c.Train.Iterations != 7 {
		t.Errorf("merged config wrong: chunks %d disc %d lstm %d iters %d", c.Chunks, c.Model.DiscUnits, c.Model.LSTMUnits, c.Train.Iterations)
	}
	if c.Model.BatchSize != q.Model.BatchSize {
		t.Errorf("batch size %d not inherited from quick (%d)", c.Model.BatchSize, q.Model.BatchSize)
	}
	// A file without extends overrides the preset given on the command line.
	p2 := write(t, dir, "plain.yaml", "train:\n  iterations: 9\n")
	c2, err := Load(p2, "quick")
	if err != nil {
		t.Fatal(err)
	}
	if c2.Train.Iterations != 9 || c2.Model.DiscUnits != q.Model.DiscUnits {
		t.Errorf("override of preset wrong: %+v", c2.Train)
	}
}

func TestErrorsNameKeyAndFile(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"model:\n  disc_unit: 5\n":        `unknown key "model.disc_unit" (did you mean "model.disc_units"?)`,
		"bogus: 1\n":                      `unknown key "bogus"`,
		"n_chunks: 0\n":                   "n_chunks: must be at least 1",
		"model:\n  beta1: 1.5\n":          "model.beta1: must be in [0, 1)",
		"model:\n  initial_state: warm\n": "model.initial_state",
		"dp:\n  enabled: true\n":          "set a target epsilon or a noise multiplier",
		"extends: nosuch\n":               `extends: nosuch is neither a preset (have default, paper, quick) nor a file`,
		"model: 3\n":                      `key "model" must be a mapping`,
		"train:\n  iterations: many\n":    `train.iterations: want an integer, got "many"`,
		"dp:\n  enabled: true\n  epsilon: 1\n  public_schema: true":             "dp.public_schema: needs dp.pretrained",
		"generate:\n  ip_snap_weight: -1\n":                                     "generate.ip_snap_weight: must be 0 or more, got -1",
		"generate:\n  duration: 3 days\n":                                       `generate.duration: want a positive duration such as 24h, got "3 days"`,
		"generate:\n  duration: -1h\n":                                          `generate.duration: want a positive duration`,
		"generate:\n  ip_snap_top: 0\n  ip_carry: true\n  ip_distinct: false\n": "generate.ip_carry: needs generate.ip_snap_top",
		"generate:\n  ip_snap_top: 0\n":                                         "generate.ip_distinct: needs generate.ip_snap_top",
		"word2vec:\n  tail_port_flows: 1\n":                                     "word2vec.tail_port_flows: must be 0 (off) or at least 2, got 1",
		"word2vec:\n  decode: nearest\n  tail_port_flows: 3\n":                  "word2vec.tail_port_flows: needs word2vec.decode: posterior",
		"long_flows: chain\nlength_attribute: false\n":                          "long_flows: chain needs length_attribute: true",
		"long_flows: chain\nmax_chain_len: 0\n":                                 "max_chain_len: must be at least 1",
		"long_flows: merge\n":                                                   `long_flows: must be split, chain or truncate, got "merge"`,
	}
	for text, want := range cases {
		p := write(t, dir, "bad.yaml", text)
		_, err := Load(p, "")
		if err == nil {
			t.Errorf("%q: no error", text)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%q: error %q does not mention %q and the file", text, err, want)
		}
	}
}

// A base that is neither a file nor a preset is reported as a missing file
// when its name looks like one, with the path looked for and the file (and
// line) that named it.
func TestExtendsMissingFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	p := write(t, sub, "run.yaml", "seed: 3\nextends: ../base.yaml\n")
	_, err := Load(p, "")
	want := p + ":2: extends: ../base.yaml: no such file (looked for " + filepath.Join(dir, "base.yaml") + ")"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	// Through a chain: the file that names the missing one is reported.
	write(t, dir, "mid.yaml", "extends: gone.yml\n")
	p = write(t, dir, "top.yaml", "extends: mid.yaml\n")
	_, err = Load(p, "")
	want = filepath.Join(dir, "mid.yaml") + ":1: extends: gone.yml: no such file (looked for " + filepath.Join(dir, "gone.yml") + ")"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	// A directory is not a configuration.
	p = write(t, dir, "dir.yaml", "extends: sub\n")
	if _, err = Load(p, ""); err == nil || !strings.Contains(err.Error(), "extends: sub is a directory") {
		t.Errorf("directory as base: %v", err)
	}
	// A preset that extends an unknown name says so.
	if _, err := Parse([]byte("extends: quik\n"), ""); err == nil || !strings.Contains(err.Error(), `config text:1: extends: unknown preset "quik"`) {
		t.Errorf("unknown preset in text: %v", err)
	}
}

func TestExtendsCycle(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "extends: b.yaml\n")
	p := write(t, dir, "b.yaml", "extends: a.yaml\n")
	if _, err := Load(p, ""); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle not reported: %v", err)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	c, _ := Load("", "default")
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(b, "quick")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c2, c) {
		t.Errorf("rendered config does not parse back to itself:\n%s", b)
	}
}

// Errors name the line of the user's file that holds the offending key or
// value, through merges with presets and files it extends.
func TestErrorsNameTheUsersLine(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "base.yaml", "extends: quick\nn_chunks: 2\nmodel:\n  lstm_units: 8\n  beta1: 3\n")
	cases := []struct{ name, text, want string }{
		{"type.yaml", "n_chunks: 2\ntrain:\n  iterations: many\n", `type.yaml:3: train.iterations: want an integer, got "many"`},
		{"flowseq.yaml", "n_chunks: 2\nmodel: [1,\n  x: 2\n", "flowseq.yaml:2: did not find expected ',' or ']'"},
		{"scan.yaml", "n_chunks: 2\ntrain: : 3\n", "scan.yaml:2: mapping values are not allowed in this context"},
		{"tab.yaml", "n_chunks: 2\nmodel:\n\tx: 1\n", "tab.yaml:3: found character that cannot start any token"},
		{"key.yaml", "train:\n  iterations: 3\n seed: 1\n", "key.yaml:3: did not find expected key"},
		{"seq.yaml", "- a\nb: 1\n", "seq.yaml:2: did not find expected '-' indicator"},
		{"range.yaml", "seed: 1\n\nn_chunks: 0\n", "range.yaml:3: n_chunks: must be at least 1"},
		{"unknown.yaml", "model:\n  lstm_units: 8\n  disc_unit: 5\n", `unknown.yaml:3: unknown key "model.disc_unit"`},
		{"mapping.yaml", "seed: 1\nmodel: 3\n", `mapping.yaml:2: key "model" must be a mapping`},
		{"dup.yaml", "seed: 1\nseed: 2\n", `dup.yaml:2: key "seed" is set twice (first at line 1)`},
		{"section.yaml", "seed: 1\npackets:\n  n_chunks: -1\n", "section.yaml:3: n_chunks: must be at least 1"},
		{"sectiontype.yaml", "packets:\n  model:\n    g_lr: fast\n", `sectiontype.yaml:3: packets.model.g_lr: want a number, got "fast"`},
		// The bad value was written in the base file: its line there.
		{"child.yaml", "extends: base.yaml\nseed: 4\n", "base.yaml:5: model.beta1: must be in [0, 1)"},
	}
	for _, c := range cases {
		_, err := Load(write(t, dir, c.name, c.text), "")
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), filepath.Join(dir, c.want)) {
			t.Errorf("%s: error %q, want %q", c.name, err, c.want)
		}
	}
	// Text parsed without a file names its lines too.
	if _, err := Parse([]byte("seed: 1\ntrain:\n  iterations: x\n"), ""); err == nil || !strings.Contains(err.Error(), "config text:3: train.iterations") {
		t.Errorf("Parse: %v", err)
	}
}

// A preset named alongside a file that extends another base is an error
// naming both; the same base named twice, or a file without extends:, is not.
func TestPresetConflictsWithExtends(t *testing.T) {
	dir := t.TempDir()
	q := write(t, dir, "q.yaml", "seed: 1\nextends: quick\n")
	_, err := Load(q, "paper")
	var conflict *BaseConflictError
	if !errors.As(err, &conflict) || conflict.Preset != "paper" || conflict.Extends != "quick" || conflict.Line != 2 {
		t.Fatalf("got %v", err)
	}
	if want := "preset paper conflicts with " + q + ", which extends quick (line 2)"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	// Through a file: the chain ends at quick.
	p := write(t, dir, "p.yaml", "extends: q.yaml\n")
	if _, err := Load(p, "default"); !errors.As(err, &conflict) || conflict.Root != "quick" ||
		!strings.Contains(err.Error(), "a chain that ends at preset quick") {
		t.Errorf("chain: %v", err)
	}
	if _, err := Load(p, "quick"); err != nil {
		t.Errorf("same base named twice: %v", err)
	}
	plain := write(t, dir, "plain.yaml", "seed: 1\n")
	if c, err := Load(plain, "paper"); err != nil || c.Model.DiscUnits != 512 {
		t.Errorf("file without extends: over paper: %v", err)
	}
	if _, err := Parse([]byte("extends: quick\n"), "paper"); !errors.As(err, &conflict) {
		t.Errorf("Parse: %v", err)
	}
}

func TestTrainScheduleValidation(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"train:\n  budget: soon\n":                                        "train.budget: want a duration such as 20m or 1h30m, got \"soon\"",
		"train:\n  budget: -5m\n":                                         "train.budget: must be positive",
		"train:\n  epochs: -1\n":                                          "train.epochs: must not be negative",
		"train:\n  epochs: 10\n  fine_tune_epochs: -2\n":                  "train.fine_tune_epochs: must not be negative",
		"train:\n  iterations: 100\n  epochs: 10\n":                       "train.iterations: set train.iterations or train.epochs, not both",
		"train:\n  iterations: 100\n  budget: 10m\n":                      "train.budget: caps the iterations derived from train.epochs",
		"train:\n  iterations: 100\n  fine_tune_epochs: 3\n":              "train.fine_tune_epochs: applies to train.epochs",
		"train:\n  iterations: 100\n  min_iterations: 50\n":               "min_iterations and train.max_iterations bound",
		"train:\n  iterations: -1\n":                                      "train.iterations: must be at least 0",
		"train:\n  iterations: 0\n":                                       "train.epochs: set train.epochs (passes over each chunk's flows) or train.iterations",
		"train:\n  epochs: 5\n  min_iterations: 9\n  max_iterations: 8\n": "train.max_iterations: must not be less than train.min_iterations (9), got 8",
	}
	for text, want := range cases {
		p := write(t, dir, "bad.yaml", "extends: quick\n"+text)
		_, err := Load(p, "")
		if err == nil {
			t.Errorf("%q: no error", text)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%q: error %q does not mention %q and the file", text, err, want)
		}
	}
}

// A document states the schedule one way; the other way, inherited from
// its base, is dropped, so that a file's train.iterations wins over a
// preset's epochs and a file's epochs over a preset's iterations.
func TestTrainScheduleOverridesBase(t *testing.T) {
	dir := t.TempDir()
	base := write(t, dir, "base.yaml", "extends: quick\ntrain:\n  iterations: 0\n  epochs: 40\n  fine_tune_epochs: 10\n  min_iterations: 100\n  budget: 20m\n")
	c, err := Load(base, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.Iterations != 0 || c.Train.Epochs != 40 || c.Train.Budget != "20m" || !c.Train.FromEpochs() {
		t.Fatalf("epochs over quick's iterations: %+v", c.Train)
	}
	if d, err := c.Train.BudgetDuration(); err != nil || d != 20*time.Minute {
		t.Errorf("budget %v, %v", d, err)
	}
	if a, b := c.Train.ChunkEpochs(); a != 40 || b != 10 {
		t.Errorf("chunk epochs %v, %v; want 40, 10", a, b)
	}
	fixed, err := Load(write(t, dir, "fixed.yaml", "extends: base.yaml\ntrain:\n  iterations: 300\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if tr := fixed.Train; tr.Iterations != 300 || tr.Epochs != 0 || tr.FineTuneEpochs != 0 || tr.Budget != "" || tr.MinIterations != 0 || tr.FromEpochs() {
		t.Errorf("iterations over epochs: %+v", tr)
	}
	// Overrides for one kind of input follow the same rule.
	kinds, err := Load(write(t, dir, "kinds.yaml", "extends: base.yaml\nflows:\n  train:\n    iterations: 77\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	fl, err := kinds.ForKind("flows")
	if err != nil {
		t.Fatal(err)
	}
	if fl.Train.Iterations != 77 || fl.Train.Epochs != 0 || fl.Train.Budget != "" {
		t.Errorf("flows override: %+v", fl.Train)
	}
	// Without fine_tune_epochs, fine-tuned chunks take epochs / fine_tune_reduce.
	c.Train.FineTuneEpochs, c.Train.FineTuneReduce = 0, 4
	if _, b := c.Train.ChunkEpochs(); b != 10 {
		t.Errorf("fine-tuned epochs %v, want 10", b)
	}
}

// A saved configuration reads back to the same schedule over the default
// preset, whichever way it is stated and whatever it unsets.
func TestTrainScheduleRoundTrip(t *testing.T) {
	for _, text := range []string{
		"train:\n  budget: \"\"\n  min_iterations: 0\n",
		"train:\n  epochs: 3\n  budget: 90s\n",
		"train:\n  iterations: 123\n",
	} {
		c, err := Parse([]byte(text), "")
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		b, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(b, "")
		if err != nil {
			t.Fatalf("%q read back: %v", text, err)
		}
		if back.Train != c.Train {
			t.Errorf("%q: saved %+v, read back %+v", text, c.Train, back.Train)
		}
	}
}
