package pipeline

import "fmt"

// mib formats a byte count in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// perRecord is bytes per record, 0 when there are no records.
func perRecord(bytes int64, records int) int64 {
	if records <= 0 {
		return 0
	}
	return bytes / int64(records)
}
