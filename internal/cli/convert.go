package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
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
			opt := trace.Options{SkipBad: skipBad}
			if format != "" {
				f, err := trace.ParseFormat(format)
				if err != nil {
					return fmt.Errorf("--format: %w", err)
				}
				opt.Format = f
			}
			ext := strings.ToLower(filepath.Ext(out))
			if ext != ".csv" && ext != ".pcap" {
				return fmt.Errorf("output %s: unknown extension %q (want .csv for flow records or .pcap for packets)", out, filepath.Ext(out))
			}
			src, err := trace.Open(in, opt)
			if err != nil {
				return err
			}
			defer src.Close()
			var n int64
			var st trace.Stats
			switch ext {
			case ".pcap":
				if src.Kind() != trace.KindPackets {
					return fmt.Errorf("cannot convert %s to pcap: it holds flow records (%s), and flow records cannot be turned into packets", in, src.Format)
				}
				pr := src.Packets()
				err = trace.WritePcapFileFunc(out, trace.PcapOptions{}, func(w *trace.PcapWriter) error {
					var p trace.Packet
					for {
						if err := pr.Next(&p); err != nil {
							if err == io.EOF {
								return nil
							}
							return err
						}
						if err := w.Write(&p); err != nil {
							return err
						}
						n++
					}
				})
				st = pr.Stats()
			case ".csv":
				layout := trace.DefaultLayout(src.Format)
				if layoutName != "" {
					if layout, err = trace.ParseLayout(layoutName); err != nil {
						return fmt.Errorf("--layout: %w", err)
					}
				}
				var fr trace.FlowReader
				var pr trace.PacketReader
				if src.Kind() == trace.KindPackets {
					pr = src.Packets()
					fr = trace.AggregateFlows(pr, trace.AggregateConfig{Active: active, Inactive: inactive})
				} else {
					fr = src.Flows()
				}
				err = trace.WriteFlowsFileFunc(out, layout, func(w *trace.FlowWriter) error {
					var f trace.Flow
					for {
						if err := fr.Next(&f); err != nil {
							if err == io.EOF {
								return nil
							}
							return err
						}
						if err := w.Write(&f); err != nil {
							return err
						}
						n++
					}
				})
				if pr != nil {
					st = pr.Stats()
				} else {
					st = fr.Stats()
				}
			}
			if err != nil {
				var pe *trace.PosError
				if errors.As(err, &pe) {
					return err
				}
				return fmt.Errorf("convert %s to %s: %w", in, out, err)
			}
			logSkipped(in, src.Format, st)
			slog.Info("wrote", "file", out, "records", n)
			return nil
		},
	}
	cmd.Flags().StringVar(&layoutName, "layout", "", "flow CSV layout: netshare, ugr16 or ugr16-us (UGR'16 with microseconds); default: netshare for NetShare input, ugr16 for UGR'16 input, else ugr16-us")
	cmd.Flags().BoolVar(&skipBad, "skip-bad", false, "skip malformed rows of text formats (counted by reason) instead of failing")
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
