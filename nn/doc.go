// Package nn is netshare's small neural-network core: row-major batch-first
// matrices, layers with explicit forward and backward passes (Dense, ReLU and
// LeakyReLU, BatchNorm, per-field output heads, an LSTM unrolled through
// time), a WGAN-GP critic whose gradient penalty is differentiated exactly
// (double backpropagation) and which can report per-example gradient norms
// for DP-SGD, the Adam optimiser, a seeded random source whose state can be
// saved, and safetensors checkpoints.
//
// Everything is generic over the element type: float32 is what training
// uses (products go through package nn/blas: netshare's own SIMD sgemm by
// default); float64 instantiations of the same code are what the gradient
// checks use, against finite differences.
//
// Layers own their output buffers and reuse them from call to call, so a
// result is valid only until the layer's next call; hot loops allocate
// nothing once the buffers have grown to the batch size.
package nn
