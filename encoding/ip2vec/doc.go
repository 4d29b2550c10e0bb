// Package ip2vec learns IP2Vec word2vec embeddings of ports and protocols,
// the encoding NetShare uses for those fields, and maps generated vectors
// back to real values.
//
// Training ([Train]) reads one three-token sentence per record,
// [srcport, dstport, proto], over one vocabulary in which port and protocol
// tokens are distinct (port 6 is not protocol 6), and fits a word2vec model:
// continuous bag of words with negative sampling, by default with the
// settings NetShare relied on (gensim 3.8.3 defaults: vector size 10, window
// 5, 5 negative samples, learning rate 0.025 decaying linearly to 1e-4, 5
// epochs, down-sampling threshold 1e-3, minimum count 1; see [DefaultConfig]).
// Training is single-threaded and seeded, so the same corpus and
// configuration give bit-identical vectors. The vectors are L2-normalised.
// [TrainCounts] trains on a corpus given as its distinct sentences with
// their counts ([SentenceCounts]), so that its memory is bounded by the
// distinct [srcport, dstport, proto] triples rather than the records: the
// vocabulary and token counts are the whole corpus's, and each epoch draws
// as many sentences as the corpus holds, each distinct one with probability
// proportional to its count (seeded).
//
// Encoding maps a port or protocol to its unit vector (a tanh output in
// [−1, 1]); a value the vocabulary lacks maps to the numerically nearest
// known value of the same kind, and the caller is told. Decoding maps a batch
// of generated vectors to the candidate value with the highest cosine
// similarity, by exact search over a candidate set (every known value of the
// kind, or a caller-given subset), so decoded ports and protocols are always
// real values. Batched decoding is a blocked product of the batch against
// the candidate matrix fused with the arg-max, vectorised with AVX-512 where
// the CPU has it. [Decoder.TopK] finds each vector's K most similar
// candidates the same way (exact, for posterior decoding), writing out of
// the kernel only the candidates above the vector's running K-th score.
//
// A model is saved to and loaded from a small binary file (see [Model.Save]
// for the format), so a model trained on public data can be reused, as
// NetShare's differentially private setting requires: an embedding trained
// on the private trace would leak its ports.
package ip2vec
