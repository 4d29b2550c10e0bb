package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netshare-go/netshare/internal/sampledata"
	"github.com/netshare-go/netshare/trace"
)

func init() { register(newInspectCmd) }

func newInspectCmd() *cobra.Command {
	var asJSON, skipBad bool
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [FILE]",
		Short: "Detect a trace's format and summarise its records",
		Long: `inspect reads a trace (pcap, pcapng, NetShare or UGR'16 flow CSV, Zeek conn log
as TSV or CSV; gzip-compressed or not) and prints its detected format and a
summary: records in the input, records skipped (by reason), IPv4 records,
distinct 5-tuples, distinct source and destination addresses, the first and
last timestamp (RFC 3339, UTC, microseconds; a flow's start) and the records
per protocol. Without FILE it inspects the sample embedded in the binary.

With --json it prints one JSON object with the keys format, records, skipped,
skipped_reasons, ipv4_records, flows, src_ips, dst_ips, start, end, protocols.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt := trace.Options{SkipBad: skipBad}
			if format != "" {
				f, err := trace.ParseFormat(format)
				if err != nil {
					return usagef(cmd, "--format: %w", err)
				}
				opt.Format = f
			}
			var src *trace.Source
			var err error
			name := ""
			if len(args) == 0 {
				name = sampledata.Name + " (embedded sample)"
				src, err = trace.NewSource(sampledata.Name, bytes.NewReader(sampledata.UGR16Small), opt)
			} else {
				name = args[0]
				src, err = trace.Open(args[0], opt)
			}
			if err != nil {
				return err
			}
			defer src.Close()
			sum, err := trace.Summarize(src)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				return enc.Encode(sum)
			}
			printSummary(cmd.OutOrStdout(), name, src.Kind(), sum)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&skipBad, "skip-bad", false, "skip malformed rows of text formats, and read a capture cut short up to the cut (counted by reason), instead of failing")
	cmd.Flags().StringVar(&format, "format", "", "force the input format ("+strings.Join(formatNames(), ", ")+"); default: detect from the content")
	return cmd
}

func formatNames() []string {
	var s []string
	for _, f := range trace.Formats {
		s = append(s, string(f))
	}
	return s
}

func printSummary(w io.Writer, name string, kind trace.Kind, s trace.Summary) {
	fmt.Fprintf(w, "file:            %s\n", name)
	fmt.Fprintf(w, "format:          %s (%s)\n", s.Format, kind)
	fmt.Fprintf(w, "records:         %d\n", s.Records)
	fmt.Fprintf(w, "skipped:         %d", s.Skipped)
	if len(s.SkippedReasons) > 0 {
		fmt.Fprintf(w, " (%s)", countList(s.SkippedReasons))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "IPv4 records:    %d\n", s.IPv4Records)
	fmt.Fprintf(w, "5-tuples:        %d\n", s.Flows)
	fmt.Fprintf(w, "source IPs:      %d\n", s.SrcIPs)
	fmt.Fprintf(w, "destination IPs: %d\n", s.DstIPs)
	if s.Start != nil {
		fmt.Fprintf(w, "first:           %s\n", *s.Start)
		fmt.Fprintf(w, "last:            %s\n", *s.End)
	}
	fmt.Fprintf(w, "protocols:       %s\n", countList(s.Protocols))
}

// countList renders counts as "a 3, b 2, ..." by decreasing count.
func countList(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].v != l[j].v {
			return l[i].v > l[j].v
		}
		return l[i].k < l[j].k
	})
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", e.k, e.v)
	}
	return b.String()
}
