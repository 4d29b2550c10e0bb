package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/netshare-go/netshare/config"
	"github.com/spf13/cobra"
)

func init() { register(newConfigCmd) }

// presetUsage describes the --preset flag.
var presetUsage = "preset: " + strings.Join(config.Presets(), ", ") + " (default " + config.DefaultPreset + ")"

// loadConfig loads the configuration named by --config and --preset,
// wording a conflict between the two in terms of the flags.
func loadConfig(file, preset string) (*config.Config, error) {
	c, err := config.Load(file, preset)
	var conflict *config.BaseConflictError
	if errors.As(err, &conflict) {
		return nil, errors.New(conflict.Describe("--preset", "--config"))
	}
	return c, err
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration or the presets",
	}
	var file, preset, kind string
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (preset, then --config overrides)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadConfig(file, preset)
			if err != nil {
				return err
			}
			if kind != "" {
				if c, err = c.ForKind(kind); err != nil {
					return err
				}
			}
			b, err := c.YAML()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	show.Flags().StringVar(&file, "config", "", "configuration file (YAML; may `extends:` a preset or another file)")
	show.Flags().StringVar(&preset, "preset", "", presetUsage)
	show.Flags().StringVar(&kind, "for", "", "apply the configuration's section for this kind of input: packets or flows")
	presets := &cobra.Command{
		Use:   "presets",
		Short: "List the embedded presets",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			for _, p := range config.Presets() {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
		},
	}
	cmd.AddCommand(show, presets)
	return cmd
}
