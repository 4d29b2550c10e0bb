package cli

import (
	"fmt"
	"strings"

	"github.com/netshare-go/netshare/config"
	"github.com/spf13/cobra"
)

func init() { register(newConfigCmd) }

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
			c, err := config.Load(file, preset)
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
	show.Flags().StringVar(&preset, "preset", config.DefaultPreset, "preset: "+strings.Join(config.Presets(), ", "))
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
