package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// usageError is a mistake in how a command was called (a missing or
// unknown flag or argument, a flag value out of range): it is reported with
// the command's usage line.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usage marks err as a mistake in calling cmd.
func usage(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	return &usageError{cmd: cmd, err: err}
}

// usagef is usage with a formatted error.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	return usage(cmd, fmt.Errorf(format, args...))
}

// markUsageErrors makes the argument, flag and required-flag errors that
// cobra finds before a command runs usage errors, for cmd and every
// command under it.
func markUsageErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usage(c, err) })
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error { return usage(c, args(c, a)) }
	}
	if cmd.Runnable() {
		// Cobra checks required flags and flag groups after PreRunE, and
		// with plain errors: check them first.
		pre, preE := cmd.PreRun, cmd.PreRunE
		cmd.PreRun = nil
		cmd.PreRunE = func(c *cobra.Command, a []string) error {
			if err := c.ValidateRequiredFlags(); err != nil {
				return usage(c, err)
			}
			if err := c.ValidateFlagGroups(); err != nil {
				return usage(c, err)
			}
			if preE != nil {
				return preE(c, a)
			}
			if pre != nil {
				pre(c, a)
			}
			return nil
		}
	}
	for _, c := range cmd.Commands() {
		markUsageErrors(c)
	}
}

// reportFailure writes a failed command's error to w, with the usage line of the
// command when it was called wrongly, and returns the exit status: 2 for a
// usage error, the status an *exitError carries, else 1.
func reportFailure(w io.Writer, cmd *cobra.Command, err error) int {
	fmt.Fprintf(w, "netshare: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		cmd = ue.cmd
	} else if cmd == nil || !cmd.HasParent() && strings.HasPrefix(err.Error(), "unknown command ") {
		ue = &usageError{cmd: cmd}
	}
	if ue != nil && cmd != nil {
		line := cmd.UseLine()
		if cmd.HasAvailableSubCommands() && !cmd.Runnable() {
			line = cmd.CommandPath() + " COMMAND [flags]"
		}
		fmt.Fprintf(w, "usage: %s\nRun '%s --help' for more.\n", line, cmd.CommandPath())
		return 2
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}
