package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/netshare-go/netshare/report"
)

func init() {
	register(newServeCmd)
	// Reports name the version they were written by.
	report.Version = Version
}

func newServeCmd() *cobra.Command {
	var addr string
	var allFiles bool
	cmd := &cobra.Command{
		Use:   "serve DIR",
		Short: "Serve the reports of one or more runs in a browser",
		Long: `serve shows evaluation reports in a web browser. DIR is a run directory (one
holding metrics.json, as written by 'netshare eval --report' or by a run) or a
directory of run directories. The start page compares the runs' metrics side
by side and links to each run's full report; new runs appear on reload.

Only the reports are served: each run's report.html, metrics.json and
plots/*.png. The rest of a run directory (the input trace, which may be the
private trace you mean not to share, pre-processed data, model checkpoints)
is served only with --all-files; directories are never listed, and symbolic
links that lead out of a run directory are never followed.

It listens on 127.0.0.1:8000 unless --addr says otherwise; listening on
another interface exposes the reports to the network.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := report.NewServer(args[0], report.ServerOptions{AllFiles: allFiles})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr: %w", err)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s on http://%s/\n", args[0], ln.Addr())
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			select {
			case err := <-done:
				return err
			case <-ctx.Done():
				slog.Info("shutting down")
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.Shutdown(sctx); err != nil {
					return err
				}
				if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			}
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8000", "address to listen on")
	cmd.Flags().BoolVar(&allFiles, "all-files", false, "also serve every other file of the run directories: the input trace, pre-processed data, checkpoints")
	return cmd
}
