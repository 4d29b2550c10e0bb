package trace_test

import (
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

const sec = int64(time.Second / time.Microsecond)

// regular returns n times one second apart from 2016-07-27, shuffled.
func regular(n int, seed uint64) []int64 {
	t0 := time.Date(2016, 7, 27, 13, 0, 0, 0, time.UTC).UnixMicro()
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = t0 + int64(i)*sec
	}
	r := rand.New(rand.NewPCG(seed, 1))
	r.Shuffle(n, func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
	return ts
}

func TestTimeOutliersFindsFarRecords(t *testing.T) {
	y2200 := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	ts := regular(1000, 1)
	ts[417] = y2200
	if got := trace.TimeOutliers(ts); !slices.Equal(got, []int{417}) {
		t.Errorf("year 2200: got %v, want [417]", got)
	}
	// One at each end: a clock reset to 1970 and the year 2200.
	ts[3] = 0
	if got := trace.TimeOutliers(ts); !slices.Equal(got, []int{3, 417}) {
		t.Errorf("both ends: got %v, want [3 417]", got)
	}
	// Two far records at one end count when the trace is large enough to
	// allow two (0.1% of 2000).
	ts = regular(2000, 2)
	ts[10], ts[20] = y2200, y2200+sec
	if got := trace.TimeOutliers(ts); !slices.Equal(got, []int{10, 20}) {
		t.Errorf("two: got %v, want [10 20]", got)
	}
	// A short trace and a record a day later.
	ts = regular(50, 3)
	ts[0] = slices.Max(ts) + 24*3600*sec
	if got := trace.TimeOutliers(ts); !slices.Equal(got, []int{0}) {
		t.Errorf("a day later: got %v, want [0]", got)
	}
}

func TestTimeOutliersKeepsOrdinaryTraces(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	cases := map[string][]int64{}
	// Poisson arrivals; heavy-tailed (Pareto) gaps; two sessions with a
	// night between; a burst then a slow trickle; a sparse tail that
	// thins out; everything at one instant.
	var poisson, pareto, sessions, trickle, thinning, instant []int64
	tp, tq := int64(0), int64(0)
	for i := range 5000 {
		tp += int64(r.ExpFloat64() * 1000)
		poisson = append(poisson, tp)
		tq += int64(1000 / math.Pow(1-r.Float64(), 1/1.2))
		pareto = append(pareto, tq)
		s := int64(i%2) * 12 * 3600 * sec
		sessions = append(sessions, s+int64(r.IntN(3600))*sec)
		if i < 4990 {
			trickle = append(trickle, int64(r.IntN(1000)))
		} else {
			trickle = append(trickle, int64(i-4989)*600*sec)
		}
		thinning = append(thinning, int64(math.Pow(float64(i)/100, 4)*float64(sec)))
		instant = append(instant, 42)
	}
	cases["poisson"], cases["pareto"], cases["sessions"], cases["trickle"], cases["thinning"], cases["instant"] =
		poisson, pareto, sessions, trickle, thinning, instant
	// A short capture with a record half an hour later: below the hour
	// no gap sets records apart.
	short := regular(30, 4)
	short[5] = slices.Max(short) + 30*60*sec
	cases["half an hour"] = short
	// Too few records to have a bulk.
	cases["few"] = []int64{0, 1, 2, 3, 4, 5, 6, 7, 1 << 60}
	cases["extremes"] = append(regular(20, 5), math.MinInt64, math.MaxInt64)
	for name, ts := range cases {
		got := trace.TimeOutliers(ts)
		if name == "extremes" {
			if !slices.Equal(got, []int{20, 21}) {
				t.Errorf("extremes: got %v, want [20 21]", got)
			}
			continue
		}
		if len(got) != 0 {
			t.Errorf("%s: %d records flagged, e.g. index %d", name, len(got), got[0])
		}
	}
}

// No record of a fixture, nor of the optional larger data set, is a time
// outlier.
func TestTimeOutliersNoneInTraces(t *testing.T) {
	roots := []string{testutil.Testdata(), filepath.Join(testutil.RepoRoot(), "internal", "sampledata")}
	if dir := os.Getenv("NETSHARE_DATA"); dir != "" {
		roots = append(roots, dir)
	} else if dir := filepath.Join(testutil.RepoRoot(), "..", "shared", "data"); dirExists(dir) {
		roots = append(roots, dir)
	}
	checked := 0
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			ts, ok := readTimes(p)
			if !ok {
				return nil
			}
			checked++
			if out := trace.TimeOutliers(ts); len(out) > 0 {
				t.Errorf("%s: %d of %d records flagged, e.g. time %d", p, len(out), len(ts), ts[out[0]])
			}
			return nil
		})
	}
	if checked < 10 {
		t.Errorf("only %d traces checked", checked)
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// readTimes returns the record times of the trace at path, or false when
// it is not a trace netshare reads.
func readTimes(path string) ([]int64, bool) {
	s, err := trace.Open(path, trace.Options{SkipBad: true})
	if err != nil {
		return nil, false
	}
	kind := s.Kind()
	s.Close()
	var ts []int64
	if kind == trace.KindPackets {
		pkts, _, _, err := trace.ReadAllPackets(path, trace.Options{SkipBad: true})
		if err != nil {
			return nil, false
		}
		for _, p := range pkts {
			ts = append(ts, p.TS)
		}
	} else {
		flows, _, _, err := trace.ReadAllFlows(path, trace.Options{SkipBad: true})
		if err != nil {
			return nil, false
		}
		for _, f := range flows {
			ts = append(ts, f.Time())
		}
	}
	return ts, true
}
