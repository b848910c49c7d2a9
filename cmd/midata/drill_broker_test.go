package main

import (
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/topics"
)

// The broker restarts of the drill: one in make test, three with
// MIDATA_DRILLS_LONG=1 (make drills).
const (
	drillRestarts     = 1
	drillRestartsLong = 3
)

// TestDrillBrokerRestartMidRun is the broker drill: the kill drill's two
// bulk releases (to partner:pds-one, delivered as bundles and webhooks,
// and to self), made once undisturbed on the shared bench broker (the
// baseline) and once by a `midata serve` whose only broker, a private one
// of this test, is SIGKILLed in the middle of the run and started again
// on the same log dir after an outage of 5 to 15 s. serve stays up through
// the outage. Each run must either complete after the broker returns, or
// fail with its reason and then succeed when retried (POST
// /v1/runs/{id}/retry, as an operator would); the releases, ledger
// outcomes and deliveries must be the baseline's (compareWithBaseline).
//
// While the broker is up, a watcher reads the workers group's committed
// offsets on the requests topic every 250 ms and then the status of the
// run of every request message below them: a committed offset past a
// request whose round is unfinished (work the group would not redo after
// a rebalance) fails the drill. The outage moments come from a seeded RNG
// (logged; MIDATA_DRILL_SEED repeats them).
func TestDrillBrokerRestartMidRun(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("serve writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	shared := testbench.Kafka(t)
	long := os.Getenv("MIDATA_DRILLS_LONG") == "1"
	restarts := drillRestarts
	if long {
		restarts = drillRestartsLong
	}
	seedVal := drillSeed(t)
	t.Logf("broker drill: %d restarts, seed %d (MIDATA_DRILL_SEED=%d repeats the moments)", restarts, seedVal, seedVal)
	rng := mrand.New(mrand.NewPCG(seedVal, 0x6b61666b61212121))
	began := time.Now()

	setS3Env(t, srv)
	bin, built := buildServe(t)
	broker := testbench.PrivateKafka(t)
	keyDir, keys := drillKeys(t)
	b0 := newDrillWorld(t, srv, shared, keyDir, "k0")
	b1 := newDrillWorld(t, srv, []string{broker.Addr}, keyDir, "k1")
	built()
	setup := time.Since(began)

	// 1. The baseline, on the shared broker.
	want, _ := b0.undisturbed(t, bin, srv, keys)

	// 2. The disturbed run, on the private broker.
	life := b1.start(t, bin)
	life.ready(t)
	b1.submit(t)
	watch := newOffsetWatch(t, b1, broker)
	resumed := life.waitFor(t, "run attempt", 60*time.Second)
	outages := 0
	var down time.Duration
	lastBack := resumed
	for k := range restarts {
		// Outage k begins at a random point of the kth of N equal spans of
		// the run, counted in releases committed (the baseline's count is
		// the whole), between 10 % and 90 %.
		point := 0.1 + 0.8*(float64(k)+rng.Float64())/float64(restarts)
		target := int(point * float64(len(want.releases)))
		life.poll(t, fmt.Sprintf("%d releases committed", target), 120*time.Second, func() bool {
			_, c, _ := life.phase()
			return c >= target || b1.finished(t)
		})
		if b1.finished(t) {
			t.Logf("outage %d: the runs ended before its moment: no more outages", k+1)
			break
		}
		phase, commits, deliveries := life.phase()
		outage := 5*time.Second + time.Duration(rng.Int64N(int64(10*time.Second)))
		watch.pause()
		broker.Kill()
		at := time.Now()
		time.Sleep(outage)
		broker.Start()
		down += time.Since(at)
		lastBack = time.Now()
		watch.resume()
		outages++
		t.Logf("outage %d: broker killed at %.0f%% of the releases (%s: %d commits, %d deliveries so far), back after %s",
			k+1, 100*point, phase, commits, deliveries, time.Since(at).Round(100*time.Millisecond))
		select {
		case <-life.done:
			t.Fatalf("serve exited while the broker was down: %s", tail(life.log.String()))
		default:
		}
	}
	retried := b1.awaitOrRetry(t, life, 300*time.Second)
	ended := time.Now()
	// The group commits past a request once its run ended: the watcher
	// must see it do so for every request, or it proved nothing.
	life.poll(t, "the workers group's commits past every request", 60*time.Second, func() bool {
		watch.mu.Lock()
		defer watch.mu.Unlock()
		return watch.caughtUp
	})
	watch.stop()
	got := b1.collect(t, srv, keys)
	life.stop(t)
	t.Logf("the runs ended %s after the broker was last back", ended.Sub(lastBack).Round(100*time.Millisecond))

	// 3. The comparison.
	tally := compareWithBaseline(t, want, got, b0.runIDs[:1], seedVal)
	for _, v := range watch.violations {
		t.Errorf("offsets: %s", v)
	}
	t.Logf("timing: setup (seeding, private broker, build) %s, total %s", setup.Round(time.Second), time.Since(began).Round(time.Second))
	t.Logf("summary: broker restarts %d (down %s in all), runs retried %d, releases %d (baseline %d), lost %d, duplicated %d, different %d, partial %d, deliveries %d (baseline %d), missing %d, extra %d, webhooks duplicated (same id) %d, offset checks %d, offsets past unfinished work %d, seed %d",
		outages, down.Round(100*time.Millisecond), retried, len(got.releases), len(want.releases), tally.lost, tally.duplicated, tally.different, tally.partial,
		tally.deliveries, tally.baselineDeliveries, tally.missingDeliveries, tally.extraDeliveries, tally.hookDuplicates, watch.checks, len(watch.violations), seedVal)
}

// awaitOrRetry waits until both runs ended; a run that failed (clean, with
// its reason) is retried once, as an operator would, and must then
// succeed. It returns how many runs were retried.
func (w *drillWorld) awaitOrRetry(t *testing.T, l *drillLife, limit time.Duration) int {
	t.Helper()
	retried := map[string]bool{}
	deadline := time.Now().Add(limit)
	for {
		l.poll(t, "the end of both runs", time.Until(deadline), func() bool { return w.finished(t) })
		again := false
		for _, id := range w.runIDs {
			st, why := w.status(t, id)
			switch {
			case st == jobs.StatusSucceeded:
			case retried[id]:
				t.Fatalf("%s: run %s ended %s after its retry: %s", w.name, id, st, why)
			case why == "":
				t.Fatalf("%s: run %s ended %s without a reason", w.name, id, st)
			default:
				t.Logf("%s: run %s ended %s (%s): retrying it", w.name, id, st, why)
				if code, b := call(t, "POST", w.base+"/v1/runs/"+id+"/retry", drillOps, ""); code/100 != 2 {
					t.Fatalf("retry %s = %d %s", id, code, b)
				}
				retried[id], again = true, true
			}
		}
		if !again {
			return len(retried)
		}
		// The retry is queued: wait until the run leaves its final status.
		l.poll(t, "the retried run queued", 30*time.Second, func() bool {
			for id := range retried {
				if st, _ := w.status(t, id); st.Final() && st != jobs.StatusSucceeded {
					return false
				}
			}
			return true
		})
	}
}

// offsetWatch checks, while the broker is up, that the workers group
// commits no requests-topic offset past a request whose round is not done.
type offsetWatch struct {
	w          *drillWorld
	broker     *testbench.PrivateBroker
	topic      string
	mu         sync.Mutex
	paused     bool
	checks     int  // checks done (offsets, requests and their runs read)
	caughtUp   bool // the last check found every request below a committed offset
	violations []string
	quit, done chan struct{}
}

func newOffsetWatch(t *testing.T, w *drillWorld, broker *testbench.PrivateBroker) *offsetWatch {
	topic := ""
	for i, a := range w.args {
		if a == "--requests-topic" {
			topic = w.args[i+1]
		}
	}
	if topic == "" {
		t.Fatal("the world names no requests topic")
	}
	o := &offsetWatch{w: w, broker: broker, topic: topic, quit: make(chan struct{}), done: make(chan struct{})}
	go o.loop(t)
	t.Cleanup(o.stop)
	return o
}

func (o *offsetWatch) pause()  { o.mu.Lock(); o.paused = true; o.mu.Unlock() }
func (o *offsetWatch) resume() { o.mu.Lock(); o.paused = false; o.mu.Unlock() }

func (o *offsetWatch) stop() {
	select {
	case <-o.quit:
	default:
		close(o.quit)
	}
	<-o.done
}

func (o *offsetWatch) loop(t *testing.T) {
	defer close(o.done)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-o.quit:
			return
		case <-tick.C:
		}
		o.mu.Lock()
		paused := o.paused
		o.mu.Unlock()
		if !paused {
			o.check(t)
		}
	}
}

// check reads the committed offsets, then the request messages below them,
// then their runs' rounds: a run read later as unfinished in the round of
// a message below a committed offset was unfinished when that offset was
// read (a round only ends once).
func (o *offsetWatch) check(t *testing.T) {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(o.broker.Addr), Transport: tr, Timeout: 2 * time.Second}
	parts := make([]int, topics.RequestsPartitions)
	for i := range parts {
		parts[i] = i
	}
	res, err := c.OffsetFetch(t.Context(), &kafka.OffsetFetchRequest{GroupID: o.w.group, Topics: map[string][]int{o.topic: parts}})
	if err != nil || res.Error != nil {
		return // the broker is starting or the group has no offsets yet
	}
	committed := map[int]int64{}
	for _, p := range res.Topics[o.topic] {
		if p.Error == nil && p.CommittedOffset > 0 {
			committed[p.Partition] = p.CommittedOffset
		}
	}
	type msg struct {
		partition int
		offset    int64
		req       jobs.Request
	}
	var below []msg
	total := 0
	for p := range topics.RequestsPartitions {
		fr, err := c.Fetch(t.Context(), &kafka.FetchRequest{Topic: o.topic, Partition: p, Offset: 0, MaxBytes: 4 << 20})
		if err != nil || fr.Error != nil {
			return
		}
		for {
			r, err := fr.Records.ReadRecord()
			if err != nil {
				break
			}
			total++
			if r.Offset >= committed[p] {
				continue
			}
			key, _ := io.ReadAll(r.Key)
			value, _ := io.ReadAll(r.Value)
			req, err := jobs.DecodeRequest(o.topic, topics.Message{Key: key, Value: value, Partition: p, Offset: r.Offset})
			if err != nil {
				o.fail(fmt.Sprintf("request %d/%d does not decode: %v", p, r.Offset, err))
				continue
			}
			below = append(below, msg{p, r.Offset, req})
		}
	}
	for _, m := range below {
		code, b := call(t, "GET", o.w.base+"/v1/runs/"+url.PathEscape(m.req.ID), drillOps, "")
		var run struct {
			Status  jobs.Status `json:"status"`
			Request struct {
				Retry int `json:"retry"`
			} `json:"request"`
		}
		if code != http.StatusOK || json.Unmarshal(b, &run) != nil {
			return // serve is busy; the next tick checks again
		}
		if run.Request.Retry == m.req.Retry && !run.Status.Final() {
			o.fail(fmt.Sprintf("the group committed %d on partition %d, past request %s (%s, round %d) at offset %d, which is %s",
				committed[m.partition], m.partition, m.req.ID, m.req.Kind, m.req.Retry, m.offset, run.Status))
		}
	}
	o.mu.Lock()
	o.checks++
	o.caughtUp = total > 0 && len(below) == total
	o.mu.Unlock()
}

func (o *offsetWatch) fail(v string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, have := range o.violations {
		if have == v {
			return
		}
	}
	o.violations = append(o.violations, v)
}
