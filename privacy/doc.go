// Package privacy is netshare's differential-privacy accountant: it computes
// the (ε, δ) guarantee of DP-SGD training and of the other private releases a
// run makes, by Rényi-DP (RDP) accounting.
//
// The training side runs DP-SGD on the two discriminators with Poisson
// sampling (each flow is included in a batch independently with probability
// q = B/N), clips the per-flow gradient of the discriminator pair jointly to
// an L2 norm C and adds Gaussian noise of standard deviation σC. Each
// discriminator step is therefore one sampled Gaussian mechanism with rate q
// and noise multiplier σ. The accountant:
//
//   - computes the RDP of the sampled Gaussian mechanism (Mironov, Talwar and
//     Zhang, 2019): exactly, by the binomial expansion, at integer orders, and
//     by the convergent two-sided series at fractional orders, in log space;
//   - composes mechanisms by adding their RDP order by order (the RDP of all
//     time chunks is summed, which is sound whether or not a flow appears in
//     several chunks), plus plain Gaussian releases such as the noisy number
//     of flows to generate per chunk;
//   - converts RDP to (ε, δ)-DP, by default with the bound of Balle et al.
//     (2020) / Canonne, Kamath and Steinke (2020), or with the classic
//     conversion ε = RDP(α) + ln(1/δ)/(α−1), minimising over the orders;
//   - inverts the accounting: [NoiseForEpsilon] finds, by bisection, the
//     smallest noise multiplier that meets a target ε;
//   - provides the mechanisms for DP statistics of the private trace: the
//     Gaussian mechanism on a histogram over data-independent [Bins], with
//     each flow's contribution bounded in L2 norm ([Counts]), and its
//     post-processing (clipping negative counts, thresholding sparse
//     domains, quantiles and sampling from the noisy histogram); each
//     release is a [Mechanism] that composes with DP-SGD in the same
//     accountant, and [GaussianNoiseForEpsilon] and [Split] calibrate them
//     to a stated share of ε.
//
// The unit of privacy is one flow (5-tuple). See docs/privacy.md.
package privacy
