// Package sampledata embeds the small real trace that netshare runs on when
// no input is given: 1,000 UGR'16 NetFlow records in NetShare's CSV layout,
// as shipped by NetShare (Clear BSD licence; see testdata/LICENSES.md).
package sampledata

import _ "embed"

// Name is the file name the embedded sample is known by.
const Name = "ugr16-small.csv"

// UGR16Small is the content of the embedded sample.
//
//go:embed ugr16-small.csv
var UGR16Small []byte
