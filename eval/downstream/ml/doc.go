// Package ml holds the small, deterministic learners that netshare's
// downstream tasks use to compare a synthetic trace with the real one:
// classifiers (multinomial logistic regression, a CART decision tree, a
// random forest, gradient-boosted trees, a one-hidden-layer perceptron and
// Gaussian naive Bayes) and unsupervised anomaly detectors (isolation
// forest, k-nearest-neighbour distance, PCA reconstruction error and
// Mahalanobis distance), with the accuracy, AUC and Spearman rank
// correlation used to score them.
//
// Inputs are dense rows of float64 features; labels are class indices in
// [0, k). Every learner is seeded, so fitting twice on the same data gives
// the same model. The learners favour speed and predictability over
// hyper-parameter search: they exist to rank-order the real and the
// synthetic trace the same way, not to win benchmarks.
package ml
