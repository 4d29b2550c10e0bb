package encoding

// ForProto returns the port codec restricted to the values seen with
// protocol p, weighted by how often they were seen with it, for decoding
// the ports of flows whose protocol is p: generated (port, protocol) pairs
// are then pairs the data holds, in their proportions. It returns nil when
// the codec has no per-protocol priors or p was never seen.
func (c *Embedded) ForProto(p uint8) *Embedded {
	pp, ok := c.ByProto[p]
	if !ok || c.Post == nil {
		return nil
	}
	if sub, ok := c.sub[p]; ok {
		return sub
	}
	sub := &Embedded{Field: c.Field, IsProto: c.IsProto, E: c.E, Post: &Posterior{Kappa: c.Post.Kappa, TopK: c.Post.TopK}}
	if pp.ChunkRecordPrior != nil {
		sub.Post.ChunkRecordPrior = make([][]float64, len(pp.ChunkRecordPrior))
	}
	for i, v := range c.Candidates {
		if pp.Prior[i] > 0 || (pp.RecordPrior != nil && pp.RecordPrior[i] > 0) {
			sub.Candidates = append(sub.Candidates, v)
			sub.Post.Prior = append(sub.Post.Prior, pp.Prior[i])
			if pp.RecordPrior != nil {
				sub.Post.RecordPrior = append(sub.Post.RecordPrior, pp.RecordPrior[i])
			}
			for ch, row := range pp.ChunkRecordPrior {
				sub.Post.ChunkRecordPrior[ch] = append(sub.Post.ChunkRecordPrior[ch], row[i])
			}
		}
	}
	if len(sub.Candidates) == 0 {
		return nil
	}
	if c.sub == nil {
		c.sub = map[uint8]*Embedded{}
	}
	c.sub[p] = sub
	return sub
}
