package report

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/netshare-go/netshare/eval"
)

// Run is one evaluated run: a directory holding metrics.json (and, when
// written by [Write], report.html and plots).
type Run struct {
	Name   string
	Dir    string
	Result *eval.Result
	// Date is when metrics.json was last written.
	Date time.Time
}

// FindRuns returns the runs under root: root itself when it holds
// metrics.json, otherwise each immediate subdirectory that does, sorted by
// name. Symbolic links to directories are not followed, and a metrics.json
// that is a link to a file outside its run directory is ignored. A
// metrics.json that cannot be read is an error naming the file.
func FindRuns(root string) ([]Run, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	// found returns the run in dir, or ok false when dir holds no
	// metrics.json of its own.
	found := func(name, dir string) (r Run, ok bool, err error) {
		p, err := confined(dir, MetricsFile)
		if err != nil {
			return Run{}, false, nil
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return Run{}, false, nil
		}
		res, err := eval.ReadResult(p)
		return Run{Name: name, Dir: dir, Result: res, Date: fi.ModTime()}, true, err
	}
	if r, ok, err := found(filepath.Base(root), root); ok || err != nil {
		if err != nil {
			return nil, err
		}
		if abs, err := filepath.Abs(root); err == nil {
			r.Name = filepath.Base(abs)
		}
		return []Run{r}, nil
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, e := range ents {
		if !e.IsDir() { // links are not directories here: they are not followed
			continue
		}
		r, ok, err := found(e.Name(), filepath.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		if ok {
			runs = append(runs, r)
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Name < runs[j].Name })
	return runs, nil
}

// errOutside is returned for a path that is not a file of its run
// directory (after symbolic links are resolved).
var errOutside = errors.New("not inside the run directory")

// confined returns the real path of the file rel (slash-separated) inside
// dir, with every symbolic link resolved, or errOutside when rel or its
// resolution leaves dir. rel must be a plain relative path: no "..", "."
// or empty segment, no backslash and no NUL byte.
func confined(dir, rel string) (string, error) {
	if !cleanRel(rel) {
		return "", errOutside
	}
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	p, err := filepath.EvalSymlinks(filepath.Join(base, filepath.FromSlash(rel)))
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(base, p)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return "", errOutside
	}
	return p, nil
}

// cleanRel reports whether rel is a plain relative slash-separated path.
func cleanRel(rel string) bool {
	if rel == "" || strings.ContainsAny(rel, "\\\x00") || strings.HasPrefix(rel, "/") {
		return false
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

var plotFile = regexp.MustCompile(`^` + PlotsDir + `/[A-Za-z0-9_-]+\.png$`)

// reportFile reports whether rel (relative to a run directory) is one of
// the report's files: report.html, metrics.json or a plot.
func reportFile(rel string) bool {
	return rel == ReportFile || rel == MetricsFile || plotFile.MatchString(rel)
}

// ServerOptions tunes a [Server].
type ServerOptions struct {
	// AllFiles also serves every other file of the run directories: the
	// input trace (which may be private), pre-processed data, model
	// checkpoints and the synthetic trace. By default only the report's
	// files are served. Directories are never listed.
	AllFiles bool
}

// Server serves the reports under a root directory: "/" compares the runs,
// "/run/NAME/" shows one run's report and "/run/NAME/FILE" the report's
// files (report.html, metrics.json, plots/NAME.png). Nothing else is
// served unless [ServerOptions.AllFiles] is set, never a directory listing,
// and never a file reached through a symbolic link that leaves the run
// directory. The root is scanned again on every request, so new runs
// appear.
type Server struct {
	root string
	opt  ServerOptions
	mux  *http.ServeMux
}

// ErrNoRuns is returned when a directory holds no run.
var ErrNoRuns = errors.New("no run directory (one holding metrics.json) found")

// NewServer returns a server for root, which must hold at least one run.
func NewServer(root string, opt ServerOptions) (*Server, error) {
	runs, err := FindRuns(root)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%s: %w", root, ErrNoRuns)
	}
	s := &Server{root: root, opt: opt, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	s.mux.HandleFunc("GET /run/{name}/{file...}", s.run)
	return s, nil
}

// contentSecurityPolicy suits the report: inline style sheet and style
// attributes, inline SVG, PNG links to the same origin; no script, no
// frame, no form, no external resource.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

// fail logs err and answers with a generic error: paths and file contents
// stay in the server's log.
func (s *Server) fail(w http.ResponseWriter, err error) {
	slog.Error("serve", "err", err)
	http.Error(w, "internal error (see the server's log)", http.StatusInternalServerError)
}

func (s *Server) run(w http.ResponseWriter, r *http.Request) {
	runs, err := FindRuns(s.root)
	if err != nil {
		s.fail(w, err)
		return
	}
	name, file := r.PathValue("name"), r.PathValue("file")
	var run *Run
	for i := range runs {
		if runs[i].Name == name {
			run = &runs[i]
		}
	}
	if run == nil {
		http.NotFound(w, r)
		return
	}
	if file == "" || file == ReportFile {
		if p, err := confined(run.Dir, ReportFile); err == nil {
			if b, err := os.ReadFile(p); err == nil {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Write(b)
				return
			}
		}
		var buf bytes.Buffer
		if err := Render(&buf, Input{Title: "netshare report: " + run.Name, Result: run.Result}); err != nil {
			s.fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes())
		return
	}
	if !s.opt.AllFiles && !reportFile(file) {
		http.NotFound(w, r)
		return
	}
	p, err := confined(run.Dir, file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if !s.opt.AllFiles {
		// A link from a report file name to another file of the run (say,
		// the input trace) is refused too.
		base, _ := filepath.EvalSymlinks(run.Dir)
		if rel, err := filepath.Rel(base, p); err != nil || !reportFile(filepath.ToSlash(rel)) {
			http.NotFound(w, r)
			return
		}
	}
	f, err := os.Open(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r) // directories are not listed
		return
	}
	http.ServeContent(w, r, filepath.Base(p), fi.ModTime(), f)
}

type indexPage struct {
	Runs []indexRun
	Rows []compareRow
}

type indexRun struct {
	Run
	Date    string
	Verdict *eval.Verdict
}

type compareRow struct {
	Group, Name, Unit string
	Primary           bool
	Cells             []compareCell
}

// compareCell is one run's figures for a metric: the synthetic trace's
// value and, when the run computed them, the two references'.
type compareCell struct {
	Value, Floor, Marginal string
	SplitHalf              string // "" when the run drew none
	Refs, Set, Worse       bool
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	runs, err := FindRuns(s.root)
	if err != nil {
		s.fail(w, err)
		return
	}
	var p indexPage
	for _, run := range runs {
		v := run.Result.Verdict
		if v == nil { // metrics.json from an older version
			_, v = eval.Judge(run.Result)
		}
		p.Runs = append(p.Runs, indexRun{Run: run, Date: run.Date.UTC().Format("2006-01-02 15:04 UTC"), Verdict: v})
	}
	// Rows are the union of every run's metric rows, in first-seen order.
	idx := map[string]int{}
	for ri, run := range runs {
		for _, m := range Rows(run.Result) {
			key := m.Group + "\x00" + m.Name
			i, ok := idx[key]
			if !ok {
				i = len(p.Rows)
				idx[key] = i
				p.Rows = append(p.Rows, compareRow{Group: m.Group, Name: m.Name, Unit: m.Unit, Primary: m.Primary, Cells: make([]compareCell, len(runs))})
			}
			c := compareCell{Value: fmtF(m.Synthetic), Set: true, Worse: m.Worse}
			if m.HasBaselines {
				c.Refs, c.Floor, c.Marginal = true, fmtF(m.Bootstrap), fmtF(m.Marginal)
				if m.HasSplitHalf {
					c.SplitHalf = fmtF(m.SplitHalf)
				}
			}
			p.Rows[i].Cells[ri] = c
		}
	}
	var buf bytes.Buffer
	if err := indexTmpl.Execute(&buf, p); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

var indexTmpl = template.Must(template.New("index").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>netshare runs</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:0 auto;max-width:1200px;padding:1.5em;color:#222}
table{border-collapse:collapse;font-size:.92em}th,td{border:1px solid #d5d5d5;padding:.25em .6em;text-align:right;vertical-align:top}
th{background:#f1f3f6}td.l,th.l{text-align:left}tr.primary td{font-weight:600;background:#fafbfc}.note{color:#666;font-size:.9em}
.refs{display:block;color:#666;font-size:.8em;font-weight:normal}
td.worse{color:#b00020;background:#fdf3f3}th.v-pass{color:#0a7a28}th.v-fail,th.v-copy{color:#b00020}
</style></head><body>
<h1>netshare runs</h1>
<p class="note">Synthetic-versus-real metrics of each run (lower is better), with the run's two references below each value where it computed them: the <em>floor</em> (a bootstrap resample of the real trace: sampling noise only) and the <em>marginal</em> sampler (every field drawn on its own). Values in red are at least twice their floor. Open a run for its full report.</p>
<table id="compare">
<thead><tr><th class="l">group</th><th class="l">metric</th><th class="l">unit</th>{{range .Runs}}<th><a href="/run/{{.Name}}/">{{.Name}}</a></th>{{end}}</tr>
<tr class="date"><th class="l"></th><th class="l">evaluated</th><th></th>{{range .Runs}}<th>{{.Date}}</th>{{end}}</tr>
<tr class="size"><th class="l"></th><th class="l">records: real / synthetic</th><th></th>{{range .Runs}}<th>{{.Result.Kind}} {{.Result.RealRecords}} / {{.Result.SyntheticRecords}}</th>{{end}}</tr>
<tr class="verdict"><th class="l"></th><th class="l">verdict</th><th></th>{{range .Runs}}<th class="v-{{.Verdict.Status}}" title="{{.Verdict.Summary}}">{{.Verdict.Status}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Primary}} class="primary"{{end}}><td class="l">{{.Group}}</td><td class="l">{{.Name}}</td><td class="l">{{.Unit}}</td>{{range .Cells}}<td{{if .Worse}} class="worse"{{end}}>{{if .Set}}{{.Value}}{{if .Refs}}<span class="refs">floor {{.Floor}} · marginal {{.Marginal}}{{if .SplitHalf}} · split half {{.SplitHalf}}{{end}}</span>{{end}}{{else}}–{{end}}</td>{{end}}</tr>
{{end}}</tbody></table>
</body></html>
`))
