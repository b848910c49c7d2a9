package pipeline

import "github.com/midata/midata/pipeline/bycustomer"

// WrapSortedStream makes r's bulk tasks split wrap(stream) instead of the
// spill's sorted stream.
func WrapSortedStream(r *Runner, wrap func(bycustomer.Stream) bycustomer.Stream) {
	r.wrapSorted = wrap
}
