package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/netshare-go/netshare/config"
	"github.com/spf13/cobra"
)

func init() { register(newConfigCmd) }

// presetUsage and configUsage describe the --preset and --config flags (a
// back-quoted word names the flag's value in the help).
var (
	presetUsage = "`PRESET` to start from: " + strings.Join(config.Presets(), ", ") +
		`; when not given, the --config file's extends: key names the base, else ` + config.DefaultPreset
	configUsage = "configuration `FILE` (YAML) whose keys override the preset; its extends: key may name a preset or another file as its base"
)

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
	show.Flags().StringVar(&file, "config", "", configUsage)
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
