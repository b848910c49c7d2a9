package jobs

// FlushOutcomes writes what v's store of outcomes holds in memory to
// tables on disk, so that a test reads across both, and returns how many
// tables it has.
func FlushOutcomes(v *View) (tables int64, err error) { return v.outcomes.Flush() }

// OutcomeMemory returns what v's store of outcomes holds outside the Go
// heap (Pebble's block cache and memtables) and on disk, in bytes.
func OutcomeMemory(v *View) (offHeap, disk uint64) { return v.outcomes.Memory() }
