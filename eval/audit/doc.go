// Package audit measures whether a synthetic trace copies the records its
// generator was trained on, which no marginal or joint fidelity metric can
// tell: a resample of the training data scores best on all of them.
//
// Three measurements are made. The exact-copy rate is the share of
// synthetic records identical to a training record (flow records on
// 5-tuple, packets, bytes and duration in ms; packet traces flow by flow, on
// 5-tuple and the whole sequence of packet lengths). Given real records
// held out of training, the same rate for the held-out records says how
// often real traffic repeats itself, which is the level a generator may
// reach without memorising. The distance to the closest record compares how
// near synthetic records and held-out records lie to the training set in a
// normalised feature space. A membership-inference attack tries to tell
// training records from held-out ones by their distance to the nearest
// synthetic record; its AUC is 0.5 when the synthetic trace leaks nothing.
//
// Without held-out records only the exact-copy rate can be computed; the
// report says what was left out and why.
package audit
