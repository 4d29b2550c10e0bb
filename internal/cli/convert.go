package cli

import (
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/netshare-go/netshare/trace"
)

func init() { register(newConvertCmd) }

func newConvertCmd() *cobra.Command {
	var layoutName, format string
	var skipBad bool
	var active, inactive time.Duration
	cmd := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Convert a trace to flow CSV or to pcap",
		Long: `convert reads any supported trace and writes OUT, whose kind comes from its
extension:

  .csv   flow records in the layout given by --layout (default: netshare when
         IN is a NetShare CSV, ugr16 when it is a UGR'16 CSV, else ugr16-us,
         UGR'16 with microsecond times and durations). Packets are aggregated into
         unidirectional flow records by 5-tuple with NetFlow-style active and
         inactive timeouts.
  .pcap  packets (IN must be a capture) as raw-IPv4 pcap with full IPv4 and
         TCP/UDP/ICMP headers and valid checksums; only headers are captured.

Flow records cannot become packets. OUT is replaced atomically. Skipped input
records are reported on stderr.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, out := args[0], args[1]
			opt := trace.ConvertOptions{
				Read:      trace.Options{SkipBad: skipBad},
				Aggregate: trace.AggregateConfig{Active: active, Inactive: inactive},
			}
			// Mistakes in the call are usage errors, found before IN is
			// read.
			if format != "" {
				f, err := trace.ParseFormat(format)
				if err != nil {
					return usage(cmd, fmt.Errorf("--format: %w", err))
				}
				opt.Read.Format = f
			}
			if layoutName != "" {
				l, err := trace.ParseLayout(layoutName)
				if err != nil {
					return usage(cmd, fmt.Errorf("--layout: %w", err))
				}
				opt.Layout = l
			}
			if _, err := trace.OutputKind(out); err != nil {
				return usage(cmd, err)
			}
			res, err := trace.Convert(in, out, opt)
			if err != nil {
				return err
			}
			logSkipped(in, res.Format, res.Stats)
			slog.Info("wrote", "file", out, "records", res.Written)
			return nil
		},
	}
	cmd.Flags().StringVar(&layoutName, "layout", "", "flow CSV layout: netshare, ugr16 or ugr16-us (UGR'16 with microseconds); default: netshare for NetShare input, ugr16 for UGR'16 input, else ugr16-us")
	cmd.Flags().BoolVar(&skipBad, "skip-bad", false, "skip malformed rows of text formats, and read a capture cut short up to the cut (counted by reason), instead of failing")
	cmd.Flags().StringVar(&format, "format", "", "force the input format; default: detect from the content")
	cmd.Flags().DurationVar(&active, "active-timeout", trace.DefaultActiveTimeout, "packets to flows: close a flow this long after its first packet")
	cmd.Flags().DurationVar(&inactive, "inactive-timeout", trace.DefaultInactiveTimeout, "packets to flows: close a flow idle for this long")
	return cmd
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// logSkipped reports what a reader read and skipped.
func logSkipped(name string, f trace.Format, st trace.Stats) {
	attrs := []any{"file", name, "format", string(f), "read", st.Read, "skipped", st.TotalSkipped()}
	for _, k := range sortedKeys(st.Skipped) {
		attrs = append(attrs, "skipped_"+k, st.Skipped[k])
	}
	for _, k := range sortedKeys(st.Notes) {
		attrs = append(attrs, "note_"+k, st.Notes[k])
	}
	if st.TotalSkipped() > 0 {
		slog.Warn("skipped input records", attrs...)
	} else {
		slog.Info("read input", attrs...)
	}
}
