// Command fidelity runs netshare on a set of real traces and prints, per
// trace, the fidelity of the synthetic trace next to the two reference
// generators, the record counts, the wall time and the peak memory, as a
// Markdown table (the figures in docs/BENCHMARKS.md come from it).
//
//	go run ./tools/fidelity [-data DIR] [-preset P] [-config F] [-audit] [-out DIR] [TRACE...]
//
// TRACE paths are relative to -data (default ../shared/data); without them
// it runs every flow trace and capture of the default list. Each run uses a
// fresh directory under -out, so figures are never reused.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

var defaultTraces = []string{
	"ctu-normal-zeek/ctu-normal-40-day1.flows.ugr16.csv",
	"ctu-normal-zeek/ctu-normal-42-day2.flows.ugr16.csv",
	"netshare-ugr16-small/raw.csv",
	"netshare-caida-small/raw.flows.ugr16.csv",
	"pathspider-icmp-ttl/icmp_ttl.flows.ugr16.csv",
	"stratosphere-zeek-scenarios/002-nmap-portscans.flows.ugr16.csv",
	"slips-ctu-samples/test-cc-capture-1.flows.ugr16.csv",
	"slips-ctu-samples/test7-malicious.flows.ugr16.csv",
	"iot23-zeek-csv/CTU-Honeypot-Capture-4-1-labeled.csv",
	"iot23-zeek-csv/CTU-Honeypot-Capture-5-1-labeled.csv",
	"iot23-zeek-csv/CTU-Honeypot-Capture-7-1-labeled.csv",
	"iot23-zeek-csv/CTU-Malware-Capture-8-1-labeled.csv",
	"iot23-zeek-csv/CTU-Malware-Capture-20-1-labeled.csv",
	"iot23-zeek-csv/CTU-Malware-Capture-21-1-labeled.csv",
	"iot23-zeek-csv/CTU-Malware-Capture-34-1-labeled.csv",
	"iot23-zeek-csv/CTU-Malware-Capture-42-1-labeled.csv",
	"iot23-zeek-csv/CTU-Malware-Capture-44-1-labeled.csv",
	"netshare-caida-small/raw.pcap",
	"pathspider-icmp-ttl/icmp_ttl.pcap",
	"slips-ctu-samples/test-cc-capture-1.pcap",
}

type fidelity struct {
	Kind         string              `json:"kind"`
	Real         int                 `json:"real_records"`
	Synthetic    int                 `json:"synthetic_records"`
	MeanJSD      float64             `json:"mean_jsd"`
	MeanEMDNorm  float64             `json:"mean_emd_normalized"`
	Joint        map[string]float64  `json:"joint"`
	Baselines    map[string]fidelity `json:"baselines"`
	PrivacyAudit *audit              `json:"privacy_audit"`
	Privacy      *struct {
		Epsilon float64 `json:"epsilon"`
		Noise   float64 `json:"noise"`
	} `json:"privacy"`
}

type audit struct {
	ExactCopy struct {
		Rate        float64 `json:"rate"`
		HoldoutRate float64 `json:"holdout_rate"`
	} `json:"exact_copy"`
	Membership *struct {
		AUC float64 `json:"auc"`
	} `json:"membership_inference"`
}

func main() {
	data := flag.String("data", filepath.Join("..", "shared", "data"), "directory of the traces")
	preset := flag.String("preset", "default", "preset")
	cfg := flag.String("config", "", "configuration file")
	doAudit := flag.Bool("audit", false, "run with --audit (hold 20% out) and report the memorisation audit")
	out := flag.String("out", "", "where the runs go (default: a temporary directory)")
	bin := flag.String("netshare", "", "netshare binary (default: built from this module)")
	extra := flag.String("args", "", "more arguments for netshare run, space-separated (e.g. \"--dp-epsilon 4 --pretrained DIR\")")
	flag.Parse()
	traces := flag.Args()
	if len(traces) == 0 {
		traces = defaultTraces
	}
	if *out == "" {
		d, err := os.MkdirTemp("", "netshare-fidelity-")
		check(err)
		*out = d
	}
	if *bin == "" {
		*bin = filepath.Join(*out, "netshare")
		b := exec.Command("go", "build", "-o", *bin, "./cmd/netshare")
		b.Stdout, b.Stderr = os.Stderr, os.Stderr
		check(b.Run())
	}
	fmt.Println("| trace | kind | real | synthetic | mean JSD | mean norm. EMD | mean joint TVD (bootstrap / marginal) | wall | peak RSS |" + auditHeader(*doAudit))
	fmt.Println("|---|---|---:|---:|---:|---:|---|---:|---:|" + auditRule(*doAudit))
	for i, tr := range traces {
		in := filepath.Join(*data, tr)
		if _, err := os.Stat(in); err != nil {
			fmt.Fprintf(os.Stderr, "skip %s: %v\n", tr, err)
			continue
		}
		dir := filepath.Join(*out, fmt.Sprintf("run-%02d", i))
		args := []string{"run", "--input", in, "--out", dir, "--preset", *preset, "--log-level", "warn"}
		if *cfg != "" {
			args = append(args, "--config", *cfg)
		}
		if *doAudit {
			args = append(args, "--audit")
		}
		args = append(args, strings.Fields(*extra)...)
		cmd := exec.Command(*bin, args...)
		cmd.Stderr = os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fmt.Printf("| %s | failed: %v |\n", tr, err)
			continue
		}
		wall := time.Since(start)
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		var f fidelity
		b, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
		check(err)
		check(json.Unmarshal(b, &f))
		bs, mg := f.Baselines["bootstrap"], f.Baselines["marginal"]
		name := tr
		if f.Privacy != nil {
			name += fmt.Sprintf(" (ε = %.3g, σ = %.3g)", f.Privacy.Epsilon, f.Privacy.Noise)
		}
		fmt.Printf("| %s | %s | %d | %d | %.3f | %.4f | %.3f (%.3f / %.3f) | %s | %d MiB |%s\n", name, f.Kind, f.Real, f.Synthetic,
			f.MeanJSD, f.MeanEMDNorm, f.Joint["mean_joint_tvd"], bs.Joint["mean_joint_tvd"], mg.Joint["mean_joint_tvd"],
			wall.Round(time.Second), rss/1024, auditCells(*doAudit, f.PrivacyAudit))
	}
}

func auditHeader(on bool) string {
	if !on {
		return ""
	}
	return " exact copies (held-out) | membership AUC |"
}

func auditRule(on bool) string {
	if !on {
		return ""
	}
	return "---:|---:|"
}

func auditCells(on bool, a *audit) string {
	if !on || a == nil {
		return ""
	}
	auc := "n/a"
	if a.Membership != nil {
		auc = fmt.Sprintf("%.3f", a.Membership.AUC)
	}
	return fmt.Sprintf(" %.3f (%.3f) | %s |", a.ExactCopy.Rate, a.ExactCopy.HoldoutRate, strings.TrimSpace(auc))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
