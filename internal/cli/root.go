package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Version is the netshare version, set at build time with
// -ldflags "-X github.com/netshare-go/netshare/internal/cli.Version=v1.2.3".
var Version = "dev"

// commands holds the constructors of every subcommand; each command's file
// adds itself in an init function.
var commands []func() *cobra.Command

func register(c func() *cobra.Command) { commands = append(commands, c) }

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// NewRoot builds the root command with every registered subcommand.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	var logLevel, logFormat string
	root := &cobra.Command{
		Use:   "netshare",
		Short: "Learn a network trace and generate a synthetic one with the same statistics",
		Long: `netshare learns a packet capture or flow records with a GAN (DoppelGANger, as in
NetShare, SIGCOMM 2022) and generates a synthetic trace with the same field
distributions and joint structure, plus a fidelity report.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setupLogging(stderr, logLevel, logFormat)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

func setupLogging(w io.Writer, level, format string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return fmt.Errorf("--log-format: want text or json, got %q", format)
	}
	slog.SetDefault(slog.New(h))
	return nil
}

// Main runs the CLI with args and returns the process exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot(os.Stdout, os.Stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "netshare: %v\n", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func init() {
	register(func() *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print the netshare version",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				v := Version
				if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					v = bi.Main.Version
				}
				fmt.Fprintf(cmd.OutOrStdout(), "netshare %s\n", v)
				return nil
			},
		}
	})
}
