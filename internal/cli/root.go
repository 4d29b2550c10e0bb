package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/netshare-go/netshare/nn/blas"
)

// Version is the netshare version when set at build time with
// -ldflags "-X github.com/netshare-go/netshare/internal/cli.Version=v1.2.3";
// empty, the module version the go command recorded is used.
var Version = ""

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
	root.Version = "-" // makes --version; the template below prints versionText
	cobra.AddTemplateFunc("netshareVersion", versionText)
	root.SetVersionTemplate("{{netshareVersion}}")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	for _, c := range commands {
		root.AddCommand(c())
	}
	markUsageErrors(root)
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
	if cmd, err := root.ExecuteContextC(ctx); err != nil {
		return reportFailure(os.Stderr, cmd, err)
	}
	return 0
}

func init() {
	register(func() *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print the netshare version, the commit it was built from, and the BLAS in use",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				_, err := io.WriteString(cmd.OutOrStdout(), versionText())
				return err
			},
		}
	})
}

// versionText describes this build and the BLAS it runs on.
func versionText() string {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(Version, bi) + "BLAS: " + blas.Info().String() + "\n"
}

// describeBuild words the version of a build: the version set at link
// time, else the module's version, else "devel"; then the VCS revision and
// time the go command stamped, when it did, and the Go version and target.
func describeBuild(linked string, bi *debug.BuildInfo) string {
	v := linked
	if v == "" && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "devel"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "netshare %s\n", v)
	if bi == nil {
		fmt.Fprintf(&b, "%s %s/%s (no build information)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return b.String()
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if rev := set["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, "commit %s", rev)
		if t := set["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
		if set["vcs.modified"] == "true" {
			b.WriteString(", with uncommitted changes")
		}
		b.WriteString("\n")
	}
	goos, goarch := set["GOOS"], set["GOARCH"]
	if goos == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	fmt.Fprintf(&b, "%s %s/%s\n", goVersion, goos, goarch)
	return b.String()
}
