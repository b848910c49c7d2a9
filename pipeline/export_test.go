package pipeline

import (
	"github.com/midata/midata/pipeline/bycustomer"
	"github.com/midata/midata/pipeline/spill"
)

// WrapSortedStream makes bulk tasks split wrap(it) instead of the spill's
// iterator it, until the returned restore is called.
func WrapSortedStream(wrap func(bycustomer.Stream) bycustomer.Stream) (restore func()) {
	old := sortedStream
	sortedStream = func(it *spill.Iterator) bycustomer.Stream { return wrap(it) }
	return func() { sortedStream = old }
}
