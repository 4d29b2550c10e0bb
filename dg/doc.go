// Package dg is netshare's DoppelGANger: the time-series GAN that NetShare
// trains on flows (fixed attributes per flow, one feature vector per packet
// or record), built on package nn.
//
// The generator has two parts: an attribute MLP (noise → (layers−1) blocks
// of Linear → ReLU → BatchNorm → one linear layer with per-field heads) and a
// one-layer LSTM conditioned on the detached, discretised attributes (argmax
// one-hot for discrete fields, the value for continuous ones) plus per-step
// noise, each LSTM step emitting SampleLen time steps through per-field
// heads. A two-way "generation flag" output per time step (continue / end)
// is added to the caller's feature outputs; a step is active while every
// earlier step said continue, the step that says end is the last active one,
// and everything after it is zeroed. Two WGAN-GP critics score a flow: D on
// the flattened padded features (with flags) concatenated with the
// attributes, and the auxiliary D_a on the attributes alone.
//
// Training data (Data) stores each flow's active steps only, flow after
// flow; a real batch is padded to the model's length, with its flags, as it
// is assembled (into buffers reused from batch to batch). The zero-padded
// layout is accepted too and trains identically.
//
// Differences from NetShare's code, chosen deliberately:
//   - the gradient penalty interpolates with α ~ U(0,1) per example (the
//     PyTorch version used α ≡ 1, i.e. penalised at the fakes);
//   - every critic round draws a fresh real batch and fresh noise (NetShare
//     reused one batch for all d_rounds rounds, which also breaks DP
//     accounting); D and D_a are updated in the same round on the same batch;
//   - real batches are drawn uniformly with replacement (as NetShare's
//     TensorFlow loader) without DP, and by Poisson sampling with rate
//     BatchSize/N under DP, as the accountant in package privacy assumes.
//
// Under DP (Config.DP) the critics are trained with DP-SGD: each example's
// gradient of its own term fake_i + real_i + λ·GP_i, over D and D_a jointly,
// is clipped to L2 norm Clip, the clipped gradients are summed, Gaussian
// noise N(0, (Noise·Clip)²) is added to every coordinate, the result is
// divided by the expected batch size, and Adam takes a step. One critic
// round is thus one sampled Gaussian mechanism with rate q = BatchSize/N and
// multiplier Noise; an iteration has DRounds of them. The generator never
// sees real data, so it inherits the guarantee.
//
// Speed: the networks run on package nn's explicit passes and nn/blas's
// sgemm. Call nn.SetThreads(n) to let training and generation use n cores
// (large products split into blocks, element-wise loops in parallel); the
// default is one. With one thread a given seed reproduces a run bit for bit
// on the same machine; checkpoints (Save, Load) carry the random state so a
// resumed run continues the same sequence.
//
// The float32 Model is the public type; the network code is generic so that
// tests can run it in float64 against finite differences.
package dg
