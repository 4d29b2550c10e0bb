// Package config holds netshare's run configuration: the pre-processing,
// model, training, generation and privacy settings, with embedded presets
// (quick, default, paper) and NetShare-style inheritance, where a file
// names a base with `extends:` and overrides some of its keys (a deep merge:
// nested maps merge key by key, lists and scalars replace).
//
// Unknown keys and invalid values are errors that name the key and the file
// and line it was written at, through any chain of extends:.
package config
