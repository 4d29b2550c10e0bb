// Package radix sorts unsigned 64-bit keys with an LSD radix sort, the
// workhorse of netshare's evaluation (millions of integer samples).
package radix
