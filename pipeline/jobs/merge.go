package jobs

// merge returns the state of a run after event e, given its state cur (ok
// false: no state yet), and whether e changed anything. Every View applies
// the events of one key in the order of their partition with these rules,
// so all instances agree:
//
//   - an event of an older round (Request.Retry) than cur is stale: ignored;
//     one of a newer round replaces cur;
//   - in the same round a final state is kept: only another final event
//     replaces it (a duplicate run's end, or a worker's re-publication),
//     never a late queued, running or cancelling one;
//   - in the same round a cancel asked sticks: a transient event (progress,
//     a hand-back) is taken but the status stays cancelling until a final
//     event ends the run.
func merge(cur Run, ok bool, e Run) (Run, bool) {
	if !ok || e.Request.Retry > cur.Request.Retry {
		return e, true
	}
	if e.Request.Retry < cur.Request.Retry {
		return cur, false
	}
	if cur.Status.Final() && !e.Status.Final() {
		return cur, false
	}
	if cur.Status == StatusCancelling && !e.Status.Final() {
		e.Status = StatusCancelling
	}
	return e, true
}
