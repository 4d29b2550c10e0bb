// Package cli holds netshare's command-line interface: one file per
// subcommand, each a thin layer that parses flags and calls the package that
// owns the work.
package cli
