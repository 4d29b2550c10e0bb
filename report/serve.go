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
	"sort"

	"github.com/netshare-go/netshare/eval"
)

// Run is one evaluated run: a directory holding metrics.json (and, when
// written by [Write], report.html and plots).
type Run struct {
	Name   string
	Dir    string
	Result *eval.Result
}

// FindRuns returns the runs under root: root itself when it holds
// metrics.json, otherwise each immediate subdirectory that does, sorted by
// name. A metrics.json that cannot be read is an error naming the file.
func FindRuns(root string) ([]Run, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	load := func(name, dir string) (Run, error) {
		res, err := eval.ReadResult(filepath.Join(dir, MetricsFile))
		return Run{Name: name, Dir: dir, Result: res}, err
	}
	if _, err := os.Stat(filepath.Join(root, MetricsFile)); err == nil {
		abs, _ := filepath.Abs(root)
		r, err := load(filepath.Base(abs), root)
		if err != nil {
			return nil, err
		}
		return []Run{r}, nil
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, MetricsFile)); err != nil {
			continue
		}
		r, err := load(e.Name(), dir)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Name < runs[j].Name })
	return runs, nil
}

// Server serves the reports under a root directory: "/" compares the runs,
// "/run/NAME/" shows one run's report and "/run/NAME/FILE" its files. The
// root is scanned again on every request, so new runs appear.
type Server struct {
	root string
	mux  *http.ServeMux
}

// ErrNoRuns is returned when a directory holds no run.
var ErrNoRuns = errors.New("no run directory (one holding metrics.json) found")

// NewServer returns a server for root, which must hold at least one run.
func NewServer(root string) (*Server, error) {
	runs, err := FindRuns(root)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%s: %w", root, ErrNoRuns)
	}
	s := &Server{root: root, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	s.mux.HandleFunc("GET /run/{name}/{file...}", s.run)
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	slog.Error("serve", "err", err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
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
		if b, err := os.ReadFile(filepath.Join(run.Dir, ReportFile)); err == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(b)
			return
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
	// http.Dir confines the path to the run directory.
	http.StripPrefix("/run/"+name, http.FileServer(http.Dir(run.Dir))).ServeHTTP(w, r)
}

type indexPage struct {
	Runs []Run
	Rows []compareRow
}

type compareRow struct {
	Group, Name string
	Primary     bool
	Values      []string
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	runs, err := FindRuns(s.root)
	if err != nil {
		s.fail(w, err)
		return
	}
	p := indexPage{Runs: runs}
	// Rows are the union of every run's metric rows, in first-seen order.
	idx := map[string]int{}
	for ri, run := range runs {
		for _, m := range Rows(run.Result) {
			key := m.Group + "\x00" + m.Name
			i, ok := idx[key]
			if !ok {
				i = len(p.Rows)
				idx[key] = i
				p.Rows = append(p.Rows, compareRow{Group: m.Group, Name: m.Name, Primary: m.Primary, Values: make([]string, len(runs))})
			}
			p.Rows[i].Values[ri] = fmtF(m.Synthetic)
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
table{border-collapse:collapse;font-size:.92em}th,td{border:1px solid #d5d5d5;padding:.25em .6em;text-align:right}
th{background:#f1f3f6}td.l,th.l{text-align:left}tr.primary td{font-weight:600;background:#fafbfc}.note{color:#666;font-size:.9em}
</style></head><body>
<h1>netshare runs</h1>
<p class="note">Synthetic-versus-real metrics of each run (lower is better). Open a run for its full report.</p>
<table id="compare">
<thead><tr><th class="l">group</th><th class="l">metric</th>{{range .Runs}}<th><a href="/run/{{.Name}}/">{{.Name}}</a></th>{{end}}</tr>
<tr><th class="l"></th><th class="l">kind / records</th>{{range .Runs}}<th>{{.Result.Kind}} {{.Result.RealRecords}} / {{.Result.SyntheticRecords}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Primary}} class="primary"{{end}}><td class="l">{{.Group}}</td><td class="l">{{.Name}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table>
</body></html>
`))
