// Package encoding turns flows of trace records into the fixed-size numeric
// tensors a DoppelGANger model trains on, and generated tensors back into
// records.
//
// Each column of a record is handled by a [Codec]: IP addresses as 32 bits
// (each a 2-way discrete output, as NetShare does), ports and protocol as
// IP2Vec embeddings (package ip2vec), counts and durations as log1p then
// min-max continuous values, small categorical fields as one-hot. A [Schema]
// lists the codecs of a dataset kind's attributes (fixed per flow: the
// 5-tuple, the flow's start in its chunk, the cross-chunk tags) and features
// (one per record of the flow: inter-arrival time, sizes, flags, ...), and
// encodes a chunk's flows into a [Data] set, counting what it had to clamp
// or truncate.
//
// A training set is sparse: Data holds each flow's attribute vector and the
// feature vectors of its real records only, flow after flow, not a
// MaxLen-long zero-padded sequence per flow (most flows have one record,
// so the padded layout was mostly zeros); the model pads when it assembles
// a batch, and [Data.Dense] builds the padded layout. Its file (Data.Save,
// [LoadData]) is sparse too, versioned in its magic and header, and read by
// streaming the flows into their final slices; a [DataWriter] appends flows
// one at a time and puts the file in place atomically on Close.
package encoding
