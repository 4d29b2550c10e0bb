package config

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed presets/*.yaml
var presetFS embed.FS

// Presets lists the embedded presets.
func Presets() []string {
	ents, _ := presetFS.ReadDir("presets")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return out
}

// DefaultPreset is the preset used when none is named.
const DefaultPreset = "default"

// BaseConflictError reports a preset named alongside a configuration file
// whose `extends:` chain leads to another base: which of the two should win
// is not obvious, so neither does.
type BaseConflictError struct {
	// Preset is the preset asked for; File the configuration file; Extends
	// what its extends: key names, at Line; Root the preset its chain of
	// extends: ends at (empty when it ends at a file without extends:).
	Preset, File, Extends, Root string
	Line                        int
}

func (e *BaseConflictError) Error() string {
	return fmt.Sprintf("preset %s conflicts with %s, which %s: name the base in one place only",
		e.Preset, e.File, e.extendsText())
}

func (e *BaseConflictError) extendsText() string {
	s := fmt.Sprintf("extends %s (line %d)", e.Extends, e.Line)
	if e.Root != "" && e.Root != e.Extends {
		s += ", a chain that ends at preset " + e.Root
	}
	return s
}

// Describe words the conflict for a command line whose flags are named
// presetFlag and configFlag.
func (e *BaseConflictError) Describe(presetFlag, configFlag string) string {
	return fmt.Sprintf("%s %s conflicts with %s %s, which %s: drop %s, or change the file's extends:",
		presetFlag, e.Preset, configFlag, e.File, e.extendsText(), presetFlag)
}

// Load builds the effective configuration: the named preset (DefaultPreset
// when empty), overridden by the file at path when path is non-empty. A file
// with its own `extends:` chain takes its base from that chain; naming a
// different preset as well is an error (*BaseConflictError).
//
// Errors name the file and line the offending key or value was written at,
// through any chain of extends:.
func Load(path, preset string) (*Config, error) {
	l := newLoader()
	if path == "" {
		if preset == "" {
			preset = DefaultPreset
		}
		root, err := l.preset(preset, nil)
		if err != nil {
			return nil, err
		}
		return l.load(root, "preset "+preset)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return l.user(b, path, filepath.Dir(path), preset)
}

// Parse builds a configuration from YAML text over the named preset (or the
// preset its extends: names), for tests and embedding. The text may extend
// presets only.
func Parse(text []byte, preset string) (*Config, error) {
	return newLoader().user(text, "config text", "", preset)
}

// loader reads configuration documents and remembers which document every
// node came from, so that an error about a merged tree can name the file
// and line the user wrote.
type loader struct {
	origin map[*yaml.Node]string
	// root is the preset a user file's chain of extends: ended at.
	root string
}

func newLoader() *loader { return &loader{origin: map[*yaml.Node]string{}} }

// user reads a user's document (a file when dir is non-empty) over preset.
func (l *loader) user(b []byte, name, dir, preset string) (*Config, error) {
	doc, err := l.parse(b, name)
	if err != nil {
		return nil, err
	}
	var chain []string
	if dir != "" {
		abs, _ := filepath.Abs(name)
		chain = []string{abs}
	}
	ext, _ := splitExtends(doc)
	var root *yaml.Node
	if ext == nil {
		if preset == "" {
			preset = DefaultPreset
		}
		base, err := l.preset(preset, nil)
		if err != nil {
			return nil, err
		}
		root = l.merge(base, doc)
	} else {
		if root, err = l.resolve(doc, name, dir, chain); err != nil {
			return nil, err
		}
		if preset != "" && l.root != preset {
			return nil, &BaseConflictError{Preset: preset, File: name, Extends: ext.Value, Root: l.root, Line: ext.Line}
		}
	}
	return l.load(root, name)
}

func (l *loader) preset(name string, chain []string) (*yaml.Node, error) {
	b, err := presetFS.ReadFile("presets/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown preset %q (have %s)", name, strings.Join(Presets(), ", "))
	}
	doc, err := l.parse(b, "preset "+name)
	if err != nil {
		return nil, err
	}
	return l.resolve(doc, "preset "+name, "", append(chain, "preset:"+name))
}

func (l *loader) file(path string, chain []string) (*yaml.Node, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	doc, err := l.parse(b, path)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(path)
	return l.resolve(doc, path, filepath.Dir(path), append(chain, abs))
}

func isPreset(name string) bool { return slices.Contains(Presets(), name) }

// resolve merges a document over the base its extends: names, if any. A
// user's file (dir non-empty) may extend a file, looked up relative to dir,
// or a preset; a preset extends presets only.
func (l *loader) resolve(doc *yaml.Node, name, dir string, chain []string) (*yaml.Node, error) {
	ext, doc := splitExtends(doc)
	if ext == nil {
		return doc, nil
	}
	base := ext.Value
	if ext.Kind != yaml.ScalarNode || base == "" {
		return nil, l.errAt(ext, "extends must name a preset or a file")
	}
	if dir != "" {
		cand := base
		if !filepath.IsAbs(cand) {
			cand = filepath.Join(dir, base)
		}
		abs, _ := filepath.Abs(cand)
		st, err := os.Stat(cand)
		switch {
		case err == nil && st.IsDir():
			return nil, l.errAt(ext, "extends: %s is a directory (%s), not a configuration file", base, abs)
		case err == nil:
			if slices.Contains(chain, abs) {
				return nil, l.errAt(ext, "extends %s makes a cycle", base)
			}
			parent, err := l.file(cand, chain)
			if err != nil {
				return nil, err
			}
			return l.merge(parent, doc), nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, l.errAt(ext, "extends: %v", err)
		case !isPreset(base) && looksLikeFile(base):
			return nil, l.errAt(ext, "extends: %s: no such file (looked for %s)", base, abs)
		case !isPreset(base):
			return nil, l.errAt(ext, "extends: %s is neither a preset (have %s) nor a file (no %s)",
				base, strings.Join(Presets(), ", "), abs)
		}
	}
	if !isPreset(base) {
		return nil, l.errAt(ext, "extends: unknown preset %q (have %s)", base, strings.Join(Presets(), ", "))
	}
	if slices.Contains(chain, "preset:"+base) {
		return nil, l.errAt(ext, "extends %s makes a cycle", base)
	}
	if l.root == "" {
		l.root = base
	}
	parent, err := l.preset(base, chain)
	if err != nil {
		return nil, err
	}
	return l.merge(parent, doc), nil
}

func looksLikeFile(s string) bool {
	ext := strings.ToLower(filepath.Ext(s))
	return ext == ".yaml" || ext == ".yml" || strings.ContainsAny(s, `/\`)
}

// splitExtends returns a mapping's extends: value and the mapping without it.
func splitExtends(doc *yaml.Node) (ext, rest *yaml.Node) {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "extends" {
			cp := *doc
			cp.Content = slices.Concat(doc.Content[:i], doc.Content[i+2:])
			return deref(doc.Content[i+1]), &cp
		}
	}
	return nil, doc
}

// parse reads one document, which must be a mapping (or empty), and notes
// the origin of each of its nodes.
func (l *loader) parse(b []byte, name string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, syntaxError(name, err)
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		switch n := doc.Content[0]; {
		case n.Kind == yaml.MappingNode:
			root = n
		case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		default:
			return nil, fmt.Errorf("%s:%d: a configuration is a mapping of keys to values, got %s", name, n.Line, describeNode(n))
		}
	}
	l.origin[root] = name
	if err := l.mark(root, name); err != nil {
		return nil, err
	}
	return root, nil
}

// mark records the origin of n and the nodes under it, and rejects a key
// set twice in one mapping.
func (l *loader) mark(n *yaml.Node, name string) error {
	l.origin[n] = name
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if first, dup := seen[k.Value]; dup && k.Kind == yaml.ScalarNode {
				return fmt.Errorf("%s:%d: key %q is set twice (first at line %d)", name, k.Line, k.Value, first)
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := l.mark(c, name); err != nil {
			return err
		}
	}
	return nil
}

// parserProblems are the messages of errors found by the YAML parser (as
// opposed to its scanner), whose line the YAML library reports counted from
// 0, one less than the line in the file.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntaxError words a YAML syntax error as name:line: problem, with the
// line counted from 1 as in an editor.
func syntaxError(name string, err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	line, _ := strconv.Atoi(m[1])
	if slices.Contains(parserProblems, m[2]) {
		line++
	}
	if line == 0 {
		return fmt.Errorf("%s: %s", name, m[2])
	}
	return fmt.Errorf("%s:%d: %s", name, line, m[2])
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// merge returns base with over merged on top: mappings merge key by key,
// everything else is replaced. The result shares the nodes of its inputs.
func (l *loader) merge(base, over *yaml.Node) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: over.Line, Column: over.Column}
	l.origin[out] = l.origin[over]
	at := map[string]int{}
	for i := 0; i+1 < len(base.Content); i += 2 {
		at[base.Content[i].Value] = len(out.Content)
		out.Content = append(out.Content, base.Content[i], base.Content[i+1])
	}
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		j, ok := at[k.Value]
		if !ok {
			at[k.Value] = len(out.Content)
			out.Content = append(out.Content, k, v)
			continue
		}
		bv, ov := deref(out.Content[j+1]), deref(v)
		if bv.Kind == yaml.MappingNode && ov.Kind == yaml.MappingNode {
			v = l.merge(bv, ov)
			if k.Value == "train" {
				dropOtherSchedule(v, ov)
			}
		}
		out.Content[j], out.Content[j+1] = k, v
	}
	return out
}

// The two ways of stating how long chunks train: a fixed count, or epochs
// (with the budget that caps them).
var (
	fixedScheduleKeys = []string{"iterations"}
	epochScheduleKeys = []string{"epochs", "fine_tune_epochs", "min_iterations", "max_iterations", "budget"}
)

// dropOtherSchedule removes from merged, the train section of a document
// over over its base, the keys of the way of stating the schedule that
// over does not use, when over uses only one: a file that states
// train.iterations over a preset sized by epochs trains that many
// iterations, and one that states epochs over a fixed count trains by
// epochs. A document stating both ways keeps both, for Validate to reject.
func dropOtherSchedule(merged, over *yaml.Node) {
	fixed, epochs := statesAny(over, fixedScheduleKeys), statesAny(over, epochScheduleKeys)
	var drop []string
	switch {
	case fixed && !epochs:
		drop = epochScheduleKeys
	case epochs && !fixed:
		drop = fixedScheduleKeys
	default:
		return
	}
	out := merged.Content[:0:0]
	for i := 0; i+1 < len(merged.Content); i += 2 {
		if !slices.Contains(drop, merged.Content[i].Value) {
			out = append(out, merged.Content[i], merged.Content[i+1])
		}
	}
	merged.Content = out
}

// statesAny reports whether mapping m sets any of keys to a value other
// than zero, empty or null.
func statesAny(m *yaml.Node, keys []string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !slices.Contains(keys, m.Content[i].Value) {
			continue
		}
		v := deref(m.Content[i+1])
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || v.Value == "" {
			continue
		}
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil && f == 0 {
			continue
		}
		return true
	}
	return false
}

// posError is an error that already names its file and line.
type posError struct{ msg string }

func (e *posError) Error() string { return e.msg }

// errAt makes an error prefixed with the file and line of n, when known.
func (l *loader) errAt(n *yaml.Node, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if name := l.origin[n]; name != "" {
		return &posError{fmt.Sprintf("%s:%d: %s", name, n.Line, msg)}
	}
	return errors.New(msg)
}

// load decodes and validates a merged tree, naming for each error the
// file and line of the key it is about, or name when no file set that key.
func (l *loader) load(root *yaml.Node, name string) (*Config, error) {
	c, err := l.decode(root)
	if err != nil {
		return nil, l.locate(root, name, "", err)
	}
	for _, kind := range []string{"packets", "flows"} {
		if _, err := c.forKind(kind); err != nil {
			return nil, fmt.Errorf("for %s input: %w", kind, l.locate(root, name, kind, err))
		}
	}
	return c, nil
}

func (l *loader) decode(root *yaml.Node) (*Config, error) {
	if err := l.checkKeys(root, reflect.TypeOf(Config{}), ""); err != nil {
		return nil, err
	}
	var c Config
	if err := root.Decode(&c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// locate prefixes each of err's field errors with the position of its key
// (looked up in section first, when given).
func (l *loader) locate(root *yaml.Node, name, section string, err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		var fe *FieldError
		var pe *posError
		switch {
		case errors.As(e, &fe):
			var k *yaml.Node
			if section != "" {
				k = lookup(root, section+"."+fe.Key)
			}
			if k == nil {
				k = lookup(root, fe.Key)
			}
			// A key the user did not write (a preset's) is no help in
			// finding the problem: name the user's document instead.
			if k != nil && l.origin[k] != "" && (l.origin[k] == name || !strings.HasPrefix(l.origin[k], "preset ")) {
				out = append(out, fmt.Errorf("%s:%d: %w", l.origin[k], k.Line, e))
			} else {
				out = append(out, fmt.Errorf("%s: %w", name, e))
			}
		case errors.As(e, &pe):
			out = append(out, e)
		default:
			out = append(out, fmt.Errorf("%s: %w", name, e))
		}
	}
	return errors.Join(out...)
}

// lookup returns the key node of a dotted key path, or nil.
func lookup(root *yaml.Node, key string) *yaml.Node {
	n := root
	var k *yaml.Node
	for _, part := range strings.Split(key, ".") {
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := len(n.Content) - 2; i >= 0; i -= 2 {
			if n.Content[i].Value == part {
				k, next = n.Content[i], n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return k
}

// checkKeys reports the first key of m that t has no field for, with the
// closest known key as a hint, and the first value that does not decode
// into its field's type.
func (l *loader) checkKeys(m *yaml.Node, t reflect.Type, prefix string) error {
	known := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		known[tag] = f.Type
		names = append(names, tag)
	}
	m = deref(m)
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, v := m.Content[i], deref(m.Content[i+1])
		k := kn.Value
		ft, ok := known[k]
		if !ok || kn.Kind != yaml.ScalarNode {
			msg := fmt.Sprintf("unknown key %q", prefix+k)
			if s := closest(k, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", prefix+s)
			}
			return l.errAt(kn, "%s", msg)
		}
		isNull := v.Kind == yaml.ScalarNode && v.Tag == "!!null"
		switch {
		case k == "packets" || k == "flows":
			if isNull {
				continue
			}
			if v.Kind != yaml.MappingNode {
				return l.errAt(kn, "key %q must be a mapping", prefix+k)
			}
			for _, nested := range []string{"packets", "flows"} {
				if n := lookup(v, nested); n != nil {
					return l.errAt(n, "key %q cannot hold another %s section", prefix+k, nested)
				}
			}
			if err := l.checkKeys(v, reflect.TypeOf(Config{}), prefix+k+"."); err != nil {
				return err
			}
		case ft.Kind() == reflect.Struct:
			if isNull {
				continue
			}
			if v.Kind != yaml.MappingNode {
				return l.errAt(kn, "key %q must be a mapping", prefix+k)
			}
			if err := l.checkKeys(v, ft, prefix+k+"."); err != nil {
				return err
			}
		default:
			if err := v.Decode(reflect.New(ft).Interface()); err != nil {
				return l.errAt(v, "%s: want %s, got %s", prefix+k, wantText(ft), describeNode(v))
			}
		}
	}
	return nil
}

func wantText(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return t.String()
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "a document"
}
