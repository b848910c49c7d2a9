package drills

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/schemas/synth"
	"github.com/midata/midata/sinks"
)

// scale sizes a drill.
type scale struct {
	customers   int // of the data set of many customers
	perCustomer int // its transactions per customer
	largeRows   int // transactions of the one customer of the large data set (files of several parts)
	singles     int // single-customer releases, of customers C000001…
	seeds       []uint64
	rate        float64 // of faults, per request
	limits      limits  // of the drilled sink
	// largeInRandom puts the large release in the random drills too (it
	// is always in the round robin and the stalled part's drill).
	largeInRandom bool
}

// The drill of `make test` (well under a minute) and the long one
// (MIDATA_DRILLS_LONG=1, for `make drills`). MIDATA_DRILLS_SEED=<n> runs
// the random drill with that one seed.
var (
	shortDrill = scale{customers: 12, perCustomer: 40, largeRows: 20_000, singles: 4, seeds: []uint64{1}, rate: 0.35, limits: limits{3, 2 * time.Second}}
	longDrill  = scale{customers: 200, perCustomer: 100, largeRows: 60_000, singles: 30, seeds: []uint64{1, 2, 3, 4, 5, 6, 7, 8}, rate: 0.3, limits: limits{3, 2 * time.Second}, largeInRandom: true}
)

// weights of the random drill: every kind of fault, stalls (which cost an
// attempt's whole timeout) rarer.
var weights = map[Kind]int{Status500: 3, Status503: 2, Slow: 3, Reset: 3, LostAnswer: 3, Truncate: 3, ShortBody: 1, Corrupt: 2, Stall: 1, StallBody: 1}

// now is the clock of every runner: manifests (their created time) and
// consent decisions are the same in the baseline and under faults.
var now = time.Date(2026, 10, 2, 12, 0, 0, 0, time.UTC)

// formats of the single-customer releases and of the bulk one.
var (
	singleFormats = []string{"ndjson", "midata-csv", "csv"}
	bulkFormats   = []string{"ndjson", "csv"}
)

// slack is how much longer than the limits of its S3 requests a whole
// release may take: its own work (Kafka, encoding) on a loaded machine.
const slack = 15 * time.Second

func drillScale(t *testing.T) scale {
	sc := shortDrill
	if os.Getenv("MIDATA_DRILLS_LONG") == "1" {
		sc = longDrill
	}
	if s := os.Getenv("MIDATA_DRILLS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MIDATA_DRILLS_SEED=%q: want a number", s)
		}
		sc.seeds = []uint64{n}
	}
	return sc
}

// dataSet is a synthetic data set on topics of its own, with the Source,
// consent view and quarantine producer its runners share.
type dataSet struct {
	name       string
	from, to   time.Time
	source     *kafkasource.Source
	grants     *consent.View
	producer   *topics.Producer
	quarantine string
}

func openDataSet(t *testing.T, brokers []string, name string, cfg synth.Config, partitions int) *dataSet {
	t.Helper()
	cfg.TransactionsTopic = testbench.UniqueName(t, name+"-tx")
	cfg.ConsentTopic = testbench.UniqueName(t, name+"-consent")
	ds := &dataSet{name: name, from: cfg.Start, to: cfg.End, quarantine: testbench.UniqueName(t, name+"-quarantine")}
	testbench.CreateTopic(t, brokers, cfg.TransactionsTopic, partitions)
	testbench.CreateTopic(t, brokers, cfg.ConsentTopic, 1)
	testbench.CreateTopic(t, brokers, ds.quarantine, 1)
	conn := topics.Connection{Brokers: brokers}
	if _, err := seed.Produce(t.Context(), conn, cfg, nil); err != nil {
		t.Fatal(err)
	}
	src, err := kafkasource.New(kafkasource.Config{Kafka: conn, Topic: cfg.TransactionsTopic, Partitioner: "murmur2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	ds.source = src
	ds.producer = topics.NewProducer(conn, nil)
	t.Cleanup(func() { ds.producer.Close() })
	ds.grants, err = consent.OpenView(t.Context(), consent.ViewConfig{Kafka: conn, Topic: cfg.ConsentTopic, Quarantine: ds.producer, QuarantineTopic: ds.quarantine, MaxWait: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.grants.Close() })
	return ds
}

// runner makes releases of ds into sink.
func (ds *dataSet) runner(t *testing.T, sink sinks.Sink) *pipeline.Runner {
	t.Helper()
	r, err := pipeline.NewRunner(pipeline.Config{
		Source: ds.source, Grants: ds.grants, Producer: ds.producer, Sink: sink,
		QuarantineTopic: ds.quarantine, TempDir: t.TempDir(),
		Now: func() time.Time { return now }, CommitDepth: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// single is one customer's release request of a drill.
type single struct {
	name string
	set  *dataSet
	req  pipeline.Request
}

// workload is what every drill releases: the same requests as the baseline.
type workload struct {
	singles []single
	bulkSet *dataSet
	bulk    pipeline.Bulk
}

func newWorkload(sc scale, many, large *dataSet) workload {
	var w workload
	for i := 1; len(w.singles) < sc.singles; i++ {
		if i%10 == 0 {
			continue // synth's customers 10, 20, … give no consent at all
		}
		c := fmt.Sprintf("C%06d", i)
		req := pipeline.Request{CustomerID: schemas.CustomerID(c), Recipient: "self", From: many.from, To: many.to, Formats: singleFormats}
		if i%2 == 0 {
			req.ID = "drill-" + c // planned once and kept in the store
		}
		w.singles = append(w.singles, single{name: "single " + c, set: many, req: req})
	}
	w.singles = append(w.singles, single{name: "large C000001", set: large,
		req: pipeline.Request{CustomerID: "C000001", Recipient: "self", From: large.from, To: large.to, Formats: []string{"ndjson"}}})
	w.bulkSet = many
	w.bulk = pipeline.Bulk{ID: "drill-bulk", Recipient: "self", From: many.from, To: many.to, Formats: bulkFormats}
	return w
}

// stored is a committed release as read back from the store directly.
type stored struct {
	id       string
	manifest []byte          // the manifest with its objects' attempt names removed
	files    map[string]file // by the path a recipient downloads
	txIDs    []string        // the transaction ids of its ndjson file, in order
	problems []string        // objects the manifest names that are missing or differ from it
	named    map[string]bool // the keys of the objects the manifest names, and its own
}

type file struct {
	sha   string
	bytes int64
}

// readRelease reads release id's manifest and every object it names past
// the proxy, hashing each; nil when there is no manifest.
func readRelease(ctx context.Context, d direct, id string) (*stored, error) {
	body, ok, err := d.object(ctx, pipeline.Prefix(id)+release.ManifestFile)
	if err != nil || !ok {
		return nil, err
	}
	m, err := release.ParseManifest(body)
	if err != nil {
		return &stored{id: id, problems: []string{"manifest does not parse: " + err.Error()}}, nil
	}
	s := &stored{id: id, files: map[string]file{}, named: map[string]bool{pipeline.Prefix(id) + release.ManifestFile: true}}
	for _, rs := range m.Resources {
		key := releasestore.Key(id, rs)
		s.named[key] = true
		b, ok, err := d.object(ctx, key)
		switch {
		case err != nil:
			return nil, err
		case !ok:
			s.problems = append(s.problems, fmt.Sprintf("%s: named by the manifest, missing", key))
			continue
		case "sha256:"+sum(b) != rs.Hash || int64(len(b)) != rs.Bytes:
			s.problems = append(s.problems, fmt.Sprintf("%s: %d bytes sha256:%s stored, the manifest says %d bytes %s", key, len(b), sum(b), rs.Bytes, rs.Hash))
		}
		s.files[rs.Path] = file{sum(b), int64(len(b))}
		if rs.MidataFormat == "ndjson" {
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var rec struct {
					ID string `json:"transaction_id"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					s.problems = append(s.problems, fmt.Sprintf("%s: a line is not JSON: %v", key, err))
					break
				}
				s.txIDs = append(s.txIDs, rec.ID)
			}
		}
	}
	for i := range m.Resources {
		m.Resources[i].Object = ""
	}
	s.manifest, _ = json.Marshal(m)
	return s, nil
}

// audit is what a bucket holds after a drill, against the baseline.
type audit struct {
	committed  int      // releases with a manifest
	partial    []string // committed releases whose manifest names a missing or different object
	different  []string // committed releases whose files or manifest differ from the baseline's
	unexpected []string // committed releases the baseline does not have: duplicates
	missing    []string // baseline releases not committed
	lost, dup  int      // transactions of baseline releases missing from, or extra in, the committed ones
	orphans    int      // objects of release prefixes that no manifest names (invisible)
	uploads    int      // multipart uploads left open
}

// check reads every release prefix of the bucket back directly.
func check(ctx context.Context, d direct, base map[string]*stored) (audit, error) {
	var a audit
	keys, err := d.keys(ctx, "releases/")
	if err != nil {
		return a, err
	}
	objects := map[string][]string{} // by release id
	for _, k := range keys {
		id, _, _ := strings.Cut(strings.TrimPrefix(k, "releases/"), "/")
		objects[id] = append(objects[id], k)
	}
	for _, id := range slices.Sorted(maps.Keys(objects)) {
		got, err := readRelease(ctx, d, id)
		if err != nil {
			return a, err
		}
		if got == nil {
			a.orphans += len(objects[id])
			continue
		}
		a.committed++
		for _, k := range objects[id] {
			if !got.named[k] {
				a.orphans++
			}
		}
		if len(got.problems) > 0 {
			a.partial = append(a.partial, id+": "+strings.Join(got.problems, "; "))
		}
		want := base[id]
		if want == nil {
			a.unexpected = append(a.unexpected, id)
			a.dup += len(got.txIDs)
			continue
		}
		if !bytes.Equal(got.manifest, want.manifest) || !maps.Equal(got.files, want.files) {
			a.different = append(a.different, fmt.Sprintf("%s: files %v, the baseline's %v", id, got.files, want.files))
		}
		l, dup := diffIDs(want.txIDs, got.txIDs)
		a.lost += l
		a.dup += dup
	}
	for id, want := range base {
		if _, ok := objects[id]; !ok || !slices.ContainsFunc(objects[id], func(k string) bool { return strings.HasSuffix(k, "/"+release.ManifestFile) }) {
			a.missing = append(a.missing, id)
			a.lost += len(want.txIDs)
		}
	}
	slices.Sort(a.missing)
	a.uploads, err = d.uploads(ctx, "releases/")
	return a, err
}

// diffIDs counts the ids of want missing from got, and those of got that
// are not in want or repeat.
func diffIDs(want, got []string) (lost, dup int) {
	n := map[string]int{}
	for _, id := range want {
		n[id]++
	}
	for _, id := range got {
		if n[id] > 0 {
			n[id]--
		} else {
			dup++
		}
	}
	for _, c := range n {
		lost += c
	}
	return lost, dup
}

// fixture is what every drill shares: the data sets, the workload and the
// baseline made without faults.
type fixture struct {
	srv     testbench.S3Server
	sc      scale
	work    workload
	base    map[string]*stored // by release id
	singles map[string]string  // release id of each single's name
	took    time.Duration      // of the slowest baseline single release
	total   totals
}

// totals add up the figures of every drill, for the report.
type totals struct {
	mu                           sync.Mutex
	drills                       int
	faults                       map[Kind]int
	releases                     int // made in all
	committed, failed, ambiguous int
	unretried, noQuota           int
	lost, dup, partial, corrupt  int
	orphans, uploads             int
}

func (x *totals) add(releases int, faults map[Kind]int, during, after audit, failed, ambiguous, unretried, noQuota int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.faults == nil {
		x.faults = map[Kind]int{}
	}
	x.drills++
	x.releases += releases
	x.noQuota += noQuota
	for k, n := range faults {
		x.faults[k] += n
	}
	x.committed += during.committed
	x.failed += failed
	x.ambiguous += ambiguous
	x.unretried += unretried
	x.lost += after.lost
	x.dup += after.dup + len(after.unexpected)
	x.partial += len(during.partial) + len(after.partial)
	x.corrupt += len(during.different) + len(after.different)
	x.orphans += after.orphans
	x.uploads += after.uploads
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := s3Bench(t)
	brokers := testbench.Kafka(t)
	sc := drillScale(t)
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = sc.customers, sc.customers*sc.perCustomer, 6
	many := openDataSet(t, brokers, "many", cfg, 4)
	cfg = synth.DefaultConfig()
	cfg.Customers, cfg.Transactions, cfg.Malformed = 1, sc.largeRows, 0
	large := openDataSet(t, brokers, "large", cfg, 1)
	f := &fixture{srv: srv, sc: sc, work: newWorkload(sc, many, large), base: map[string]*stored{}, singles: map[string]string{}}

	// The baseline: the same requests on a clean bucket, no proxy.
	bucket := testbench.Bucket(t, srv)
	sink := newSink(t, srv, srv.Endpoint, bucket, limits{3, 30 * time.Second})
	d := direct{testbench.S3Client(srv), bucket}
	ids := make([]string, len(f.work.singles))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, s := range f.work.singles {
		wg.Go(func() {
			start := time.Now()
			res, err := s.set.runner(t, sink).Release(t.Context(), s.req)
			if err != nil || res.Status != release.StatusCommitted {
				t.Errorf("baseline %s: %s", s.name, errOrStatus(res, err))
				return
			}
			mu.Lock()
			defer mu.Unlock()
			f.took = max(f.took, time.Since(start))
			f.singles[s.name] = res.ReleaseID
			ids[i] = res.ReleaseID
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	r := f.work.bulkSet.runner(t, sink)
	snap, tasks, err := r.PlanBulk(t.Context(), f.work.bulk)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tasks {
		results, err := r.RunTask(t.Context(), f.work.bulk, snap, p, nil)
		if err != nil {
			t.Fatalf("baseline bulk task %d: %v", p, err)
		}
		for _, res := range results {
			if res.Status != release.StatusCommitted && res.Status != release.StatusEmpty {
				t.Fatalf("baseline bulk release of %s: %s %s", res.CustomerID, res.Status, res.Reason)
			}
			ids = append(ids, res.ReleaseID)
		}
	}
	rows := 0
	for _, id := range ids {
		s, err := readRelease(t.Context(), d, id)
		if err != nil || s == nil || len(s.problems) > 0 {
			t.Fatalf("baseline release %s read back: %v %+v", id, err, s)
		}
		if _, dup := f.base[id]; dup {
			t.Fatalf("baseline release %s made twice", id)
		}
		f.base[id] = s
		rows += len(s.txIDs)
	}
	largeID := f.singles["large C000001"]
	if b := f.base[largeID].files["transactions.ndjson"].bytes; b <= 5<<20 {
		t.Fatalf("the large release's ndjson has %d bytes: too few for a multipart upload", b)
	}
	t.Logf("baseline: %d releases (%d single, %d bulk), %d transactions; the slowest single release took %s",
		len(ids), len(f.work.singles), len(ids)-len(f.work.singles), rows, f.took.Round(time.Millisecond))
	return f
}

// TestReleasesSurviveS3Faults is the fault drill: the releases of the
// baseline made again through the fault proxy, then once more without
// faults for those that failed, and the bucket read back directly.
func TestReleasesSurviveS3Faults(t *testing.T) {
	f := newFixture(t)
	// The drills run at once, each on a bucket and proxy of its own: the
	// figures of one do not depend on the others.
	t.Run("drills", func(t *testing.T) {
		t.Run("every kind of fault in turn on first attempts", func(t *testing.T) {
			t.Parallel()
			t.Logf("round robin of %v on the first attempt of every request, slow ones %s", roundRobinKinds, roundRobinSlow)
			f.drill(t, "round robin", RoundRobin(roundRobinKinds, roundRobinSlow, nil), true, true)
		})
		for _, seed := range f.sc.seeds {
			t.Run(fmt.Sprintf("random faults, seed %d", seed), func(t *testing.T) {
				t.Parallel()
				mix := Mix{Seed: seed, Rate: f.sc.rate, Weights: weights, SlowMin: 100 * time.Millisecond, SlowMax: f.sc.limits.timeout * 3 / 4}
				t.Logf("seed %d: fault rate %.2f, weights %v, %d attempts of %s (reproduce: MIDATA_DRILLS_SEED=%d)", seed, f.sc.rate, weights, f.sc.limits.attempts, f.sc.limits.timeout, seed)
				f.drill(t, fmt.Sprintf("seed %d", seed), mix.Schedule(), false, f.sc.largeInRandom)
			})
		}
		t.Run("a commit that stalls on every attempt fails by its time limit", func(t *testing.T) { t.Parallel(); f.stalledCommit(t) })
		t.Run("a commit whose every answer is lost is committed all the same", func(t *testing.T) { t.Parallel(); f.lostCommit(t) })
		t.Run("a stalled part upload is retried within its time limit", func(t *testing.T) { t.Parallel(); f.stalledPart(t) })
		t.Run("a download that stalls mid-body ends by its time limit", func(t *testing.T) { t.Parallel(); f.stalledDownload(t) })
	})
	x := &f.total
	t.Logf("REPORT of %d release drills (%d releases): faults injected %s; releases committed under faults %d, runs failed %d (commits stored but not learnt %d, downloads stalled mid-body %d, not retried for lack of retry quota %d); after the re-runs: records lost %d, duplicates %d, partial or corrupted releases visible %d, releases differing from the baseline %d; invisible orphan objects %d, open multipart uploads %d",
		x.drills, x.releases, FormatCounts(x.faults), x.committed, x.failed, x.ambiguous, x.unretried, x.noQuota, x.lost, x.dup, x.partial, x.corrupt, x.orphans, x.uploads)
}

// outcome is how one release (or bulk task) of a drill ended.
type outcome struct {
	name string
	err  error
	took time.Duration
}

// roundRobinSlow is the delay of the slow answers of the round robin.
const roundRobinSlow = 300 * time.Millisecond

// roundRobinKinds are the faults of the round robin, in turn: every kind,
// the stalls (which cost an attempt's whole timeout) a third as often.
var roundRobinKinds = func() []Kind {
	var ks []Kind
	for range 3 {
		for _, k := range Kinds {
			if k != Stall && k != StallBody {
				ks = append(ks, k)
			}
		}
	}
	return append(ks, Stall, StallBody)
}()

// drill makes the workload's releases on a fresh bucket through a proxy
// injecting the faults of schedule, then again without faults those that
// failed, reads the bucket back directly after each phase, and checks
// it against the baseline. With strict, every release must commit under
// the faults (each request is faulted on one attempt only).
func (f *fixture) drill(t *testing.T, label string, schedule Schedule, strict, large bool) {
	srv, sc := f.srv, f.sc
	singles, base := f.work.singles, f.base
	if !large {
		// Without the large release (the most CPU of the workload).
		largeID := f.singles[singles[len(singles)-1].name]
		singles = singles[:len(singles)-1]
		base = maps.Clone(f.base)
		delete(base, largeID)
	}
	bucket := testbench.Bucket(t, srv)
	d := direct{testbench.S3Client(srv), bucket}
	p := newProxy(t, srv, schedule)
	sink := newSink(t, srv, p.URL(), bucket, sc.limits)

	// Under faults, all at once as the workers would run them: the single
	// releases, and the bulk request's plan and tasks, each tried up to
	// three times.
	deadline := time.Minute
	var mu sync.Mutex
	var failed []single
	var outcomes []outcome
	var committed, ambiguous int
	var wg sync.WaitGroup
	for _, s := range singles {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			start := time.Now()
			res, err := s.set.runner(t, sink).Release(ctx, s.req)
			o := outcome{name: s.name, err: err, took: time.Since(start)}
			id := f.singles[s.name]
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, o)
			if ctx.Err() != nil {
				t.Errorf("%s: the test's deadline of %s ended the release (%v), not the sink's time limits: it hung", s.name, deadline, err)
			}
			if err != nil {
				failed = append(failed, s)
				if err.Error() == "" {
					t.Errorf("%s failed without a message", s.name)
				}
				got, rerr := readRelease(t.Context(), d, id)
				switch {
				case rerr != nil:
					t.Errorf("read back %s: %v", id, rerr)
				case got != nil && (strings.Contains(err.Error(), "commit manifest of "+id) || strings.Contains(err.Error(), "committed by another writer")):
					// The commit was stored but the writer did not learn
					// it (or could not read it back): the release is
					// visible, and the audit checks it is whole.
					ambiguous++
				case got != nil:
					t.Errorf("%s failed (%v) but its release %s is visible", s.name, err, id)
				}
				return
			}
			if res.ReleaseID != id || res.Status != release.StatusCommitted {
				t.Errorf("%s: release %s %s (%s), want %s committed", s.name, res.ReleaseID, res.Status, res.Reason, id)
				return
			}
			committed++
			for _, file := range res.Files {
				if want := f.base[id].files[path.Base(file.Path)]; want.sha != file.SHA256 || want.bytes != file.Bytes {
					t.Errorf("%s: %s reported %d bytes %s, the baseline's %d bytes %s", s.name, file.Path, file.Bytes, file.SHA256, want.bytes, want.sha)
				}
			}
		})
	}
	r := f.work.bulkSet.runner(t, sink)
	var tasks []int
	var snap kafkasource.Snapshot
	wg.Go(func() {
		for try := 1; try <= 3 && tasks == nil; try++ {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			start := time.Now()
			var err error
			if snap, tasks, err = r.PlanBulk(ctx, f.work.bulk); err != nil {
				tasks = nil
				mu.Lock()
				outcomes = append(outcomes, outcome{name: fmt.Sprintf("bulk plan, try %d", try), err: err, took: time.Since(start)})
				mu.Unlock()
			}
			cancel()
		}
		var tg sync.WaitGroup
		for _, task := range tasks {
			tg.Go(func() {
				for try := 1; try <= 3; try++ {
					ctx, cancel := context.WithTimeout(t.Context(), deadline)
					start := time.Now()
					results, err := r.RunTask(ctx, f.work.bulk, snap, task, nil)
					hung := ctx.Err() != nil
					cancel()
					mu.Lock()
					outcomes = append(outcomes, outcome{name: fmt.Sprintf("bulk task %d, try %d", task, try), err: err, took: time.Since(start)})
					if hung {
						t.Errorf("bulk task %d, try %d: the test's deadline of %s ended it: it hung", task, try, deadline)
					}
					for _, res := range results {
						if f.base[res.ReleaseID] == nil {
							t.Errorf("bulk task %d made release %s of %s, which the baseline does not have", task, res.ReleaseID, res.CustomerID)
						}
						if res.Status == release.StatusCommitted || res.Status == release.StatusEmpty {
							committed++
						}
					}
					mu.Unlock()
					if err == nil {
						return
					}
				}
			})
		}
		tg.Wait()
	})
	wg.Wait()
	faults := p.Counts()
	requests := p.Requests()
	var failures []string
	unretried := 0 // failed by a download cut mid-body, which nothing retries
	noQuota := 0   // failed because the SDK's retry quota was spent: not retried
	for _, o := range outcomes {
		if o.err != nil {
			failures = append(failures, fmt.Sprintf("%s after %s: %v", o.name, o.took.Round(time.Millisecond), o.err))
			if strings.Contains(o.err.Error(), "while reading body") {
				unretried++
			}
			if strings.Contains(o.err.Error(), "retry quota exceeded") {
				noQuota++
			}
		}
	}
	during, err := check(t.Context(), d, base)
	if err != nil {
		t.Fatal(err)
	}

	// Without faults, what failed is made again, as a worker would retry it.
	p.SetSchedule(nil)
	recovered := 0
	for _, s := range failed {
		res, err := s.set.runner(t, sink).Release(t.Context(), s.req)
		if err != nil {
			t.Errorf("%s again without faults: %v", s.name, err)
			continue
		}
		if res.Status == release.StatusCommitted || res.Status == release.StatusAlreadyCommitted {
			recovered++
		}
	}
	if tasks == nil {
		if snap, tasks, err = r.PlanBulk(t.Context(), f.work.bulk); err != nil {
			t.Fatalf("bulk plan without faults: %v", err)
		}
	}
	for _, task := range tasks {
		if _, err := r.RunTask(t.Context(), f.work.bulk, snap, task, nil); err != nil {
			t.Errorf("bulk task %d again without faults: %v", task, err)
		}
	}
	after, err := check(t.Context(), d, base)
	if err != nil {
		t.Fatal(err)
	}

	p.WaitIdle(stallSlack)
	holds := p.Stalls()
	var longestHold, longestOp time.Duration
	for _, h := range holds {
		longestHold = max(longestHold, h.Held)
		if h.ByProxy || h.Held > sc.limits.timeout+stallSlack {
			t.Errorf("a %s held %s %s (attempt %d) for %s (ended by the proxy: %v): past the attempt timeout of %s", h.Kind, h.Op, h.Key, h.Attempt, h.Held, h.ByProxy, sc.limits.timeout)
		}
	}
	for _, o := range p.Operations() {
		longestOp = max(longestOp, o.Span())
		if o.Span() > sc.limits.operation()+stallSlack {
			t.Errorf("%s %s took %s over %d attempts (%v): past its limit of %s", o.Op, o.Key, o.Span(), o.Attempts, o.Faults, sc.limits.operation())
		}
	}

	t.Logf("%s: %d requests; faults injected: %s", label, requests, FormatCounts(faults))
	t.Logf("%s: under faults %d of %d releases committed (%d reported by their run), %d runs failed (%d a commit stored but not learnt by its writer, %d a download stalled mid-body, %d not retried for lack of retry quota); re-run without faults: %d of %d failed singles committed, every bulk task run again",
		label, during.committed, len(base), committed, len(failures), ambiguous, unretried, noQuota, recovered, len(failed))
	for _, fl := range failures {
		t.Logf("  failed: %s", fl)
	}
	t.Logf("%s: longest stall hold %s (limit %s + %s), longest operation %s (limit %s)", label, longestHold.Round(time.Millisecond), sc.limits.timeout, stallSlack, longestOp.Round(time.Millisecond), sc.limits.operation())
	t.Logf("%s: after the faults: %d committed, %d partial, %d corrupted or different, %d duplicates (%d extra records), %d records lost of committed releases, %d orphan objects, %d open uploads",
		label, during.committed, len(during.partial), len(during.different), len(during.unexpected), during.dup, during.lost-lostOfMissing(during, base), during.orphans, during.uploads)
	t.Logf("%s: after the re-runs: %d of %d releases committed, %d partial, %d corrupted or different, %d duplicates, records lost %d, duplicated %d, %d orphan objects (invisible), %d open uploads",
		label, after.committed, len(base), len(after.partial), len(after.different), len(after.unexpected), after.lost, after.dup, after.orphans, after.uploads)

	for _, a := range []struct {
		when string
		a    audit
	}{{"under faults", during}, {"after the re-runs", after}} {
		if len(a.a.partial) > 0 {
			t.Errorf("%s: partial or corrupted releases visible: %v", a.when, a.a.partial)
		}
		if len(a.a.different) > 0 {
			t.Errorf("%s: committed releases differ from the baseline: %v", a.when, a.a.different)
		}
		if len(a.a.unexpected) > 0 || a.a.dup > 0 {
			t.Errorf("%s: duplicate releases %v, %d duplicated records", a.when, a.a.unexpected, a.a.dup)
		}
	}
	if during.lost != lostOfMissing(during, base) {
		t.Errorf("under faults: committed releases lost %d records", during.lost-lostOfMissing(during, base))
	}
	if len(after.missing) > 0 || after.lost > 0 {
		t.Errorf("after the re-runs without faults: releases %v not committed, %d records lost", after.missing, after.lost)
	}
	if a := p.Anomalies(); len(a) > 0 {
		t.Errorf("the server accepted damaged uploads: %v", a)
	}
	if unretried > 0 {
		t.Logf("%s: FINDING: %d runs failed because a download stalled mid-body (the SDK hands the body over after the headers, and midata's reads of a manifest or plan do not retry): bounded by the attempt timeout, nothing partial visible, the re-run recovers", label, unretried)
	}
	if strict && (len(failures) > unretried || during.committed+unretriedReleases(failures) < len(base)) {
		t.Errorf("with a fault on one attempt of each request, %d runs failed (%d by a stalled download, %d not retried for lack of the SDK's retry quota) and %d of %d releases committed; want every one committed",
			len(failures), unretried, noQuota, during.committed, len(base))
	}
	f.total.add(len(base), faults, during, after, len(failures), ambiguous, unretried, noQuota)
}

// unretriedReleases is how many releases the failures stalled mid-body
// left uncommitted at most: one each.
func unretriedReleases(failures []string) int {
	n := 0
	for _, f := range failures {
		if strings.Contains(f, "while reading body") {
			n++
		}
	}
	return n
}

// lostOfMissing is how many records the releases not committed hold.
func lostOfMissing(a audit, base map[string]*stored) int {
	n := 0
	for _, id := range a.missing {
		n += len(base[id].txIDs)
	}
	return n
}

// isCommit matches the commit of a release: its manifest's PutObject.
func isCommit(r Request) bool {
	return r.Op == "PutObject" && strings.HasPrefix(r.Key, "releases/") && strings.HasSuffix(r.Key, "/"+release.ManifestFile)
}

// stalledCommit: every attempt of a release's commit stalls. The release
// fails with a timeout once the commit's attempts are spent, within the
// limits its sink promises (not by the caller's deadline), and no release
// is visible; without the stall it is made again, as the baseline.
func (f *fixture) stalledCommit(t *testing.T) {
	srv := f.srv
	bucket := testbench.Bucket(t, srv)
	d := direct{testbench.S3Client(srv), bucket}
	l := limits{2, time.Second}
	p := newProxy(t, srv, onAttempt(isCommit, Fault{Kind: Stall}))
	sink := newSink(t, srv, p.URL(), bucket, l)
	s := f.work.singles[0]
	id := f.singles[s.name]
	bound := l.operation() + f.took + slack
	ctx, cancel := context.WithTimeout(t.Context(), 2*bound)
	defer cancel()
	start := time.Now()
	res, err := s.set.runner(t, sink).Release(ctx, s.req)
	took := time.Since(start)
	t.Logf("%s with every commit attempt stalled: %s after %s", s.name, errOrStatus(res, err), took.Round(time.Millisecond))
	if err == nil {
		t.Fatalf("a release whose commit stalled on every attempt returned %s", res.Status)
	}
	if ctx.Err() != nil {
		t.Fatalf("the test's deadline ended the release (%v), not the sink's time limits", ctx.Err())
	}
	if msg := err.Error(); !strings.Contains(msg, "commit manifest of "+id) || !strings.Contains(msg, "Timeout") {
		t.Errorf("error %q does not say the commit of %s timed out", msg, id)
	}
	if took > bound {
		t.Errorf("the release took %s: past its limit of %s (the commit's %d attempts of %s with backoff, the baseline's %s, %s slack)",
			took, bound, l.attempts, l.timeout, f.took.Round(time.Millisecond), slack)
	}
	p.WaitIdle(stallSlack)
	holds := p.Stalls()
	for _, h := range holds {
		if h.ByProxy || h.Held > l.timeout+stallSlack {
			t.Errorf("a stall held the commit's attempt %d for %s: past the attempt timeout of %s", h.Attempt, h.Held, l.timeout)
		}
	}
	if len(holds) != l.attempts {
		t.Errorf("%d commit attempts stalled, want %d", len(holds), l.attempts)
	}
	if got, err := readRelease(t.Context(), d, id); err != nil || got != nil {
		t.Fatalf("after the stalled commit release %s is visible (%v)", id, err)
	}
	p.SetSchedule(nil)
	res, err = s.set.runner(t, sink).Release(t.Context(), s.req)
	if err != nil || res.Status != release.StatusCommitted {
		t.Fatalf("%s again without the stall: %s", s.name, errOrStatus(res, err))
	}
	a, err := check(t.Context(), d, map[string]*stored{id: f.base[id]})
	if err != nil {
		t.Fatal(err)
	}
	if a.committed != 1 || len(a.partial)+len(a.different)+len(a.unexpected)+len(a.missing)+a.lost+a.dup > 0 {
		t.Errorf("after the stalled commit and a re-run: %+v", a)
	}
	t.Logf("stalls %d, each held at most %s; re-run committed as the baseline; %d orphan objects of the stalled attempt (no manifest names them)", len(holds), maxHold(holds), a.orphans)
}

// lostCommit: the commit is stored but every answer to it is lost (the
// retries find it committed, and their answers are lost too). The writer
// cannot know the outcome: the release fails with an error that says the
// commit's outcome is unknown, and what is visible is the whole release,
// byte for byte the baseline's; run again it is found committed.
func (f *fixture) lostCommit(t *testing.T) {
	srv := f.srv
	bucket := testbench.Bucket(t, srv)
	d := direct{testbench.S3Client(srv), bucket}
	l := limits{3, 2 * time.Second}
	p := newProxy(t, srv, onAttempt(isCommit, Fault{Kind: LostAnswer}))
	sink := newSink(t, srv, p.URL(), bucket, l)
	s := f.work.singles[1]
	id := f.singles[s.name]
	res, err := s.set.runner(t, sink).Release(t.Context(), s.req)
	t.Logf("%s with every commit answer lost: %s", s.name, errOrStatus(res, err))
	if err == nil {
		t.Fatalf("a release that never learnt its commit's outcome returned %s", res.Status)
	}
	if !strings.Contains(err.Error(), "commit manifest of "+id) {
		t.Errorf("error %q does not say the commit of %s failed", err, id)
	}
	a, err := check(t.Context(), d, map[string]*stored{id: f.base[id]})
	if err != nil {
		t.Fatal(err)
	}
	if a.committed != 1 || len(a.partial)+len(a.different)+len(a.unexpected)+len(a.missing)+a.lost+a.dup > 0 {
		t.Errorf("after commits whose answers were lost, the bucket holds %+v; want the whole release %s", a, id)
	}
	p.SetSchedule(nil)
	res, err = s.set.runner(t, sink).Release(t.Context(), s.req)
	if err != nil || res.Status != release.StatusAlreadyCommitted || res.ReleaseID != id {
		t.Fatalf("%s again: %s, want %s already committed", s.name, errOrStatus(res, err), id)
	}
	t.Logf("lost answers %d; the release visible is whole and equals the baseline; run again it is already committed", p.Counts()[LostAnswer])
}

// stalledPart: the first attempt of the first part of the large release's
// file stalls; the retry goes through and the release is the baseline's,
// and the stall held its request no longer than one attempt's timeout.
func (f *fixture) stalledPart(t *testing.T) {
	srv := f.srv
	bucket := testbench.Bucket(t, srv)
	d := direct{testbench.S3Client(srv), bucket}
	l := limits{3, 2 * time.Second}
	p := newProxy(t, srv, onAttempt(func(r Request) bool { return r.Op == "UploadPart" && r.Part == 1 }, Fault{Kind: Stall}, 1))
	sink := newSink(t, srv, p.URL(), bucket, l)
	s := f.work.singles[len(f.work.singles)-1] // the large release
	id := f.singles[s.name]
	start := time.Now()
	res, err := s.set.runner(t, sink).Release(t.Context(), s.req)
	took := time.Since(start)
	if err != nil || res.Status != release.StatusCommitted {
		t.Fatalf("%s with a stalled part: %s", s.name, errOrStatus(res, err))
	}
	p.WaitIdle(stallSlack)
	holds := p.Stalls()
	if len(holds) == 0 {
		t.Fatal("no part upload stalled")
	}
	for _, h := range holds {
		if h.ByProxy || h.Held > l.timeout+stallSlack {
			t.Errorf("a stall held %s %s for %s: past the attempt timeout of %s", h.Op, h.Key, h.Held, l.timeout)
		}
	}
	a, err := check(t.Context(), d, map[string]*stored{id: f.base[id]})
	if err != nil {
		t.Fatal(err)
	}
	if a.committed != 1 || len(a.partial)+len(a.different)+len(a.unexpected)+len(a.missing)+a.lost+a.dup > 0 || a.uploads != 0 {
		t.Errorf("after a stalled part: %+v", a)
	}
	t.Logf("%s: %d stalled part uploads, held at most %s; committed after %s, as the baseline (%d records)", s.name, len(holds), maxHold(holds), took.Round(time.Millisecond), len(f.base[id].txIDs))
}

// stalledDownload: the commit's first answer is lost, so its retry finds
// the manifest committed and the writer reads it back to see whose it is;
// that download (and every first attempt of a GetObject) stalls after the
// headers and half the body. The SDK cannot retry a body it has handed
// over: the read ends by the attempt's timeout. Whatever the release
// reports, it ends by its limits, what is visible is the whole release, and
// a re-run finds it.
func (f *fixture) stalledDownload(t *testing.T) {
	srv := f.srv
	bucket := testbench.Bucket(t, srv)
	d := direct{testbench.S3Client(srv), bucket}
	l := limits{3, time.Second}
	p := newProxy(t, srv, func(r Request) Fault {
		switch {
		case r.Attempt == 1 && isCommit(r):
			return Fault{Kind: LostAnswer}
		case r.Attempt == 1 && r.Op == "GetObject":
			return Fault{Kind: StallBody}
		}
		return Fault{}
	})
	sink := newSink(t, srv, p.URL(), bucket, l)
	s := f.work.singles[0]
	id := f.singles[s.name]
	// Each S3 operation of the release at its limit, at most: the
	// manifest looked for, three files and the readme staged, the commit,
	// the manifest read back.
	bound := 7*l.operation() + f.took + slack
	ctx, cancel := context.WithTimeout(t.Context(), 2*bound)
	defer cancel()
	start := time.Now()
	res, err := s.set.runner(t, sink).Release(ctx, s.req)
	took := time.Since(start)
	t.Logf("%s with the commit's answer lost and downloads stalled mid-body: %s after %s", s.name, errOrStatus(res, err), took.Round(time.Millisecond))
	if ctx.Err() != nil || took > bound {
		t.Fatalf("the release took %s (the test's deadline passed: %v): past its limit of %s", took, ctx.Err(), bound)
	}
	p.WaitIdle(stallSlack)
	for _, h := range p.Stalls() {
		if h.ByProxy || h.Held > l.timeout+stallSlack {
			t.Errorf("a %s held %s %s for %s: past the attempt timeout of %s", h.Kind, h.Op, h.Key, h.Held, l.timeout)
		}
	}
	if err != nil {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not name release %s", err, id)
		}
		t.Logf("FINDING: a manifest download cut mid-body is not retried: release %s failed (%v) although its own commit is stored; a re-run finds it", id, err)
	} else if res.Status != release.StatusCommitted {
		t.Errorf("%s: %s, want committed", s.name, errOrStatus(res, err))
	}
	a, err := check(t.Context(), d, map[string]*stored{id: f.base[id]})
	if err != nil {
		t.Fatal(err)
	}
	if a.committed != 1 || len(a.partial)+len(a.different)+len(a.unexpected)+len(a.missing)+a.lost+a.dup > 0 {
		t.Errorf("after the stalled download: %+v; want the whole release %s", a, id)
	}
	p.SetSchedule(nil)
	if res, err := s.set.runner(t, sink).Release(t.Context(), s.req); err != nil || res.Status != release.StatusAlreadyCommitted {
		t.Errorf("%s again without faults: %s, want already committed", s.name, errOrStatus(res, err))
	}
	t.Logf("stalls %d (held at most %s); the release visible is whole and equals the baseline", len(p.Stalls()), maxHold(p.Stalls()))
}

func maxHold(holds []Hold) time.Duration {
	var m time.Duration
	for _, h := range holds {
		m = max(m, h.Held)
	}
	return m.Round(time.Millisecond)
}

func errOrStatus(res *pipeline.Result, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if res == nil {
		return "no result"
	}
	return string(res.Status) + " " + res.ReleaseID
}
