// Command netshare learns a network trace and generates a synthetic one with
// the same statistics. See the README for usage.
package main

import (
	"os"

	"github.com/netshare-go/netshare/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
