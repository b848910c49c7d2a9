package kafkasource

// Range is the offsets [Start, End) of one partition that a release reads.
type Range struct {
	Partition int   `json:"partition"`
	Start     int64 `json:"start"`
	End       int64 `json:"end"`
}

// Snapshot is the frozen source of a release: which offsets of which
// partitions it reads. A release is a pure function of its request, its
// snapshot and the consent state, so the snapshot goes into the manifest.
type Snapshot struct {
	Topic       string `json:"topic"`
	Partitioner string `json:"partitioner"`
	Pruned      bool   `json:"pruned"` // only the customer's partition is read
	// Keyed is set by PlanBulk when the sampled keys sit where the
	// configured partitioner puts them: each customer's records are then on
	// one known partition, and partitions can be released independently.
	Keyed  bool    `json:"keyed,omitempty"`
	Ranges []Range `json:"partitions"`
	// Partitions is how many partitions the topic had when planned.
	Partitions int `json:"partition_count,omitempty"`
}

// Records returns the number of offsets the snapshot spans: an upper bound
// on the records Read delivers (compaction gaps, transaction markers and
// aborted records take offsets but are not delivered).
func (s Snapshot) Records() int64 {
	var n int64
	for _, r := range s.Ranges {
		if r.End > r.Start {
			n += r.End - r.Start
		}
	}
	return n
}
