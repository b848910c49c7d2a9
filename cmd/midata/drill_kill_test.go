package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/bundle"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/schemas/synth"
)

// The kills of the drill: a few in make test, the twenty with
// MIDATA_DRILLS_LONG=1 (make drills). MIDATA_DRILL_SEED repeats the kill
// moments of a logged seed.
const (
	drillKills     = 3
	drillKillsLong = 20
)

// The drill's data set and requests: 200 customers of 50 transactions on
// 6 partitions; a bulk release to partner:pds-one (delivered as signed
// bundles and webhooks) and a bulk self release, for April 2026. In April
// the pds-one grants of two consent patterns (windowed to later months)
// release nothing: their releases are empty, committed but not delivered.
const (
	drillCustomers    = 200
	drillTransactions = 200 * 50
	drillPartitions   = 6
	drillPartner      = `{"recipient":"partner:pds-one","all":true,"from":"2026-04-01","to":"2026-05-01","formats":["ndjson"],"idempotency_key":"drill-partner"}`
	drillSelf         = `{"recipient":"self","all":true,"from":"2026-04-01","to":"2026-05-01","formats":["ndjson","midata-csv"],"idempotency_key":"drill-self"}`
	drillOps          = "ops-token-0123456789"
)

// TestKill9AtRandomPointsLosesDuplicatesAndLeaksNothing is the crash
// drill: a bulk partner release and a bulk self release, made once
// undisturbed (the baseline, in its own topics and buckets) and once by a
// `midata serve` that is SIGKILLed at random moments and restarted with the
// same flags, group and state dir each time. The disturbed run must end
// with the baseline's releases (same ids, same file bytes), none missing,
// none more, no manifest naming a missing or different object, the
// baseline's deliveries as the receiver saw them (a webhook again only
// under its webhook-id, with the same message), and nothing delivered
// that the baseline did not deliver.
//
// The kill moments come from a seeded RNG (logged; MIDATA_DRILL_SEED
// repeats it): kill k at a random point of the kth of N equal spans of the
// baseline's working time, as a delay after the restarted process resumed
// work (its first run attempt: before it, the process starts, joins the
// group and waits out the dead process's leases); about one kill in five
// is early instead, a delay after the start. The killed process's member
// is removed from the consumer group at once (LeaveGroup on its behalf),
// so a restart need not wait out the 30 s session timeout; with
// MIDATA_DRILLS_LONG=1 one kill in four is left to the session timeout.
//
// The drill fails while an empty partner release that a later life finds
// committed (already_committed) is delivered, where the undisturbed run
// does not deliver it (status empty).
func TestKill9AtRandomPointsLosesDuplicatesAndLeaksNothing(t *testing.T) {
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("serve writes to S3: set MIDATA_TEST_S3 (make test does)")
	}
	brokers := testbench.Kafka(t)
	long := os.Getenv("MIDATA_DRILLS_LONG") == "1"
	kills := drillKills
	if long {
		kills = drillKillsLong
	}
	seedVal := drillSeed(t)
	t.Logf("kill drill: %d kills, seed %d (MIDATA_DRILL_SEED=%d repeats the moments)", kills, seedVal, seedVal)
	rng := mrand.New(mrand.NewPCG(seedVal, 0x6d69646174612121))
	began := time.Now()

	setS3Env(t, srv)
	bin, built := buildServe(t) // while both worlds are seeded
	keyDir, keys := drillKeys(t)

	// 1. The baseline: one serve, undisturbed.
	b0 := newDrillWorld(t, srv, brokers, keyDir, "b0")
	b1 := newDrillWorld(t, srv, brokers, keyDir, "b1")
	built()
	setup := time.Since(began)
	want, work := b0.undisturbed(t, bin, srv, keys)
	baselineDone := time.Now()

	// 2. The disturbed run: the same data and requests, killed and
	// restarted. Kill k falls at a random point of the kth of N equal
	// spans of the baseline's work, a delay after the previous one.
	points := make([]float64, kills)
	for i := range points {
		points[i] = (float64(i) + rng.Float64()) / float64(kills)
	}
	type kill struct {
		early                  bool
		aimed                  string // the log line the kill followed
		delay                  time.Duration
		phase                  string
		commits, deliveries    int
		evicted, sessionWaited bool
	}
	var done []kill
	prev := 0.0
	for k := range kills {
		life := b1.start(t, bin)
		if k == 0 {
			life.ready(t)
			b1.submit(t)
		}
		var kl kill
		var from time.Time
		if k > 0 && rng.IntN(5) == 0 {
			// Early: while it starts, joins the group, waits out a lease.
			kl.early, kl.delay, from = true, time.Duration(rng.Int64N(int64(6*time.Second))), life.started
		} else {
			life.ready(t)
			kl.delay = time.Duration((points[k] - prev) * float64(work))
			var ok bool
			if from, ok = life.waitResumed(t, b1, 90*time.Second); !ok {
				t.Logf("kill %d: the runs ended before life %d resumed any: no more kills", k+1, k)
				life.stop(t)
				break
			}
		}
		prev = points[k]
		if target := killTargets[k%len(killTargets)]; long && !kl.early && target.msg != "" {
			// Aimed: right after the life's next line target.msg, which
			// random moments seldom hit; the timed moment when none comes.
			if at, ok := life.next(t, b1, target.msg, 20*time.Second); ok {
				kl.aimed, from, kl.delay = target.msg, at, time.Duration(rng.Int64N(int64(target.within)))
			}
		}
		time.Sleep(time.Until(from.Add(kl.delay))) // the kill moment
		if !kl.early && b1.finished(t) {
			t.Logf("kill %d: the runs ended before its moment: no more kills", k+1)
			life.stop(t)
			break
		}
		kl.phase, kl.commits, kl.deliveries = life.phase()
		age := time.Since(life.started)
		life.kill9(t)
		kl.evicted = !long || rng.IntN(4) != 0
		if kl.evicted {
			kl.evicted = b1.evict(t, life.pid())
		} else {
			kl.sessionWaited = true
		}
		member := "removed from the group"
		switch {
		case kl.sessionWaited:
			member = "left to the session timeout"
		case !kl.evicted:
			member = "not in the group"
		}
		after := map[bool]string{true: "its start", false: "it resumed"}[kl.early]
		if kl.aimed != "" {
			after = "its next " + kl.aimed
		}
		t.Logf("kill %d: life %d (%s after its start), %s after %s: %s, %d commits and %d deliveries in this life; its member %s", k+1, k,
			age.Round(100*time.Millisecond), kl.delay.Round(time.Millisecond), after,
			kl.phase, kl.commits, kl.deliveries, member)
		done = append(done, kl)
	}
	last := b1.start(t, bin)
	last.ready(t)
	b1.await(t, last, 300*time.Second)
	ended := time.Now()
	got := b1.collect(t, srv, keys)
	last.stop(t)
	t.Logf("the last life ended the runs %s after its start; collecting took %s", ended.Sub(last.started).Round(100*time.Millisecond), time.Since(ended).Round(100*time.Millisecond))

	// 3. The comparison.
	tally := compareWithBaseline(t, want, got, b0.runIDs[:1], seedVal)

	// 4. The sweeps: serve's own and midata sweep's, of what the kills left.
	sw := b1.sweepAfterKills(t, srv, bin, got)
	if sw.ran {
		t.Logf("sweeps: %d staged objects left by the kills; serve's sweep removed %d (with 2 a dead writer staged), midata sweep %d (2 staged for it); %d multipart uploads aborted; committed objects changed %d",
			sw.leftovers, sw.servedSwept, sw.cliSwept, sw.uploadsAborted, sw.touched)
	}

	phases := map[string]int{}
	for _, k := range done {
		phases[k.phase]++
	}
	t.Logf("kills by the last step logged before them: %v", phases)
	t.Logf("timing: setup (seeding both worlds, building serve) %s, baseline %s, disturbed %s, total %s", setup.Round(time.Second), baselineDone.Sub(began.Add(setup)).Round(time.Second), time.Since(baselineDone).Round(time.Second), time.Since(began).Round(time.Second))
	t.Logf("summary: kills %d, releases %d (baseline %d), lost %d, duplicated %d, different %d, partial %d, staged leftovers %d objects under %d attempts, deliveries %d (baseline %d), missing %d, extra %d, webhooks duplicated (same id) %d, seed %d",
		len(done), len(got.releases), len(want.releases), tally.lost, tally.duplicated, tally.different, tally.partial,
		got.leftovers, got.leftoverAttempts, tally.deliveries, tally.baselineDeliveries, tally.missingDeliveries, tally.extraDeliveries, tally.hookDuplicates, seedVal)
}

// undisturbed makes the world's runs with one serve, left alone: the
// baseline of a drill. It returns what the world ended with and the time
// from serve's first run attempt to the end of both runs.
func (w *drillWorld) undisturbed(t *testing.T, bin string, srv testbench.S3Server, keys *signing.Keys) (*drillState, time.Duration) {
	t.Helper()
	p := w.start(t, bin)
	p.ready(t)
	readyIn := time.Since(p.started)
	w.submit(t)
	resumed := p.waitFor(t, "run attempt", 60*time.Second)
	w.await(t, p, 240*time.Second)
	work := time.Since(resumed)
	want := w.collect(t, srv, keys)
	p.stop(t)
	t.Logf("baseline: %d releases (%d self, %d partner, %d empty), %d delivered, in %s of work (serve ready in %s)",
		len(want.releases), want.count("self"), want.count("partner:pds-one"), want.empty(), len(want.delivered()), work.Round(time.Millisecond), readyIn.Round(time.Millisecond))
	return want, work
}

// drillSeed is a drill's random seed: MIDATA_DRILL_SEED when set (to
// repeat a logged run), else the clock.
func drillSeed(t *testing.T) uint64 {
	t.Helper()
	s := os.Getenv("MIDATA_DRILL_SEED")
	if s == "" {
		return uint64(time.Now().UnixNano())
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("MIDATA_DRILL_SEED %q: %v", s, err)
	}
	return v
}

// buildServe starts building the midata binary a drill runs as serve,
// and returns its path and a function that waits for the build, failing
// t when it failed.
func buildServe(t *testing.T) (string, func()) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "midata")
	var out bytes.Buffer
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = &out, &out
	if err := build.Start(); err != nil {
		t.Fatal(err)
	}
	return bin, func() {
		t.Helper()
		if err := build.Wait(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out.String())
		}
	}
}

// drillKeys makes a signing key pair for a drill's serve: its folder, and
// the keys loaded, to verify what serve signed.
func drillKeys(t *testing.T) (string, *signing.Keys) {
	t.Helper()
	dir := t.TempDir()
	if _, err := signing.Generate(dir); err != nil {
		t.Fatal(err)
	}
	keys, err := signing.Load(filepath.Join(dir, "signing.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir, keys
}

// drillTally counts what a disturbed world ended with against its
// undisturbed baseline.
type drillTally struct {
	lost, duplicated, different, partial int
	deliveries, baselineDeliveries       int
	missingDeliveries, extraDeliveries   int
	hookDuplicates, linkFresh            int
}

// compareWithBaseline fails t for every way got differs from want, the
// undisturbed run of the same requests: releases lost, not in the baseline,
// duplicated, different or partial; ledger outcomes; deliveries, webhooks
// and bundles. partnerRuns are the baseline's partner runs, whose
// run.finished webhooks must say the baseline's counts.
func compareWithBaseline(t *testing.T, want, got *drillState, partnerRuns []string, seed uint64) drillTally {
	t.Helper()
	var lost, extra, different, partial, dupReleases []string
	for id := range want.releases {
		if got.releases[id] == nil {
			lost = append(lost, id)
		}
	}
	for id, r := range got.releases {
		w := want.releases[id]
		if w == nil {
			extra = append(extra, id)
			continue
		}
		if !reflect.DeepEqual(w.normal, r.normal) {
			wb, _ := json.Marshal(w.normal)
			gb, _ := json.Marshal(r.normal)
			different = append(different, fmt.Sprintf("%s: manifest %s, baseline's %s", id, gb, wb))
		}
		for path, sum := range w.files {
			if r.files[path] != sum {
				different = append(different, fmt.Sprintf("%s: %s has sha256 %s, baseline's %s", id, path, r.files[path], sum))
			}
		}
	}
	partial = append(partial, got.partial...)
	if len(want.partial) > 0 {
		t.Errorf("the baseline has partial releases: %v", want.partial)
	}
	dupReleases = append(dupReleases, got.duplicates...)
	// The ledger says the same of every customer of both runs; a release
	// made in an earlier life is found committed in a later one
	// (already_committed): those are counted, not failed.
	statusShifts := map[string]int{}
	for run, wc := range want.ledger {
		gc := got.ledger[run]
		for c, wr := range wc {
			gr, ok := gc[c]
			switch {
			case !ok:
				t.Errorf("ledger: run %s has no outcome of %s (baseline: %s %s)", run, c, wr.Status, wr.ReleaseID)
			case gr.ReleaseID != wr.ReleaseID || gr.Rows != wr.Rows || committedStatus(gr.Status) != committedStatus(wr.Status):
				t.Errorf("ledger: run %s, %s: %s %s rows %d; baseline %s %s rows %d", run, c, gr.Status, gr.ReleaseID, gr.Rows, wr.Status, wr.ReleaseID, wr.Rows)
			case gr.Status != wr.Status:
				statusShifts[fmt.Sprintf("%s %s→%s", run, wr.Status, gr.Status)]++
			}
		}
		for c, gr := range gc {
			if _, ok := wc[c]; !ok {
				t.Errorf("ledger: run %s has an outcome of %s (%s %s) the baseline has not", run, c, gr.Status, gr.ReleaseID)
			}
		}
	}
	for _, problem := range got.invisible {
		t.Errorf("ledger: %s", problem)
	}

	// Deliveries: the baseline's, once each as the receiver saw them.
	wantDel, gotDel := want.delivered(), got.delivered()
	var missingDel, extraDel []string
	for id := range wantDel {
		if _, ok := gotDel[id]; !ok {
			missingDel = append(missingDel, id)
		}
	}
	for id, msgs := range gotDel {
		if _, ok := wantDel[id]; !ok {
			rel := got.releases[id]
			what := "not a release"
			if rel != nil {
				what = fmt.Sprintf("a release of %s with %d rows", rel.manifest.Midata.CustomerID, rel.manifest.Midata.Counts.Released)
			}
			extraDel = append(extraDel, fmt.Sprintf("%s (%s, %d webhook(s))", id, what, len(msgs)))
		}
	}
	hookDup, hookProblems, linkFresh := got.webhookDuplicates()
	_, baseProblems, _ := want.webhookDuplicates()
	if len(baseProblems) > 0 {
		t.Errorf("baseline webhooks: %v", baseProblems)
	}
	for _, problem := range hookProblems {
		t.Errorf("webhooks: %s", problem)
	}
	if len(got.badHooks) > 0 {
		t.Errorf("webhooks with a bad signature or timestamp: %v", got.badHooks)
	}
	var missingBundles, extraBundles []string
	for id := range wantDel {
		if _, ok := got.bundles[id]; !ok {
			missingBundles = append(missingBundles, id)
		}
	}
	for id := range got.bundles {
		if _, ok := wantDel[id]; !ok {
			extraBundles = append(extraBundles, id)
		}
	}
	// The end of each run as the partner was told: the baseline's counts.
	for _, run := range partnerRuns { // the partner's run
		wf, gf := want.finishedHooks(run), got.finishedHooks(run)
		switch {
		case len(wf) != 1:
			t.Errorf("baseline: %d run.finished webhook(s) of %s, want 1", len(wf), run)
		case len(gf) == 0:
			t.Errorf("webhooks: no run.finished of %s", run)
		default:
			for _, m := range gf {
				if fmt.Sprint(m.Body["delivered"], m.Body["failed"], m.Body["succeeded"]) != fmt.Sprint(wf[0].Body["delivered"], wf[0].Body["failed"], wf[0].Body["succeeded"]) {
					t.Errorf("webhooks: run.finished of %s (%s) says delivered %v failed %v succeeded %v; the baseline's delivered %v failed %v succeeded %v, seed %d",
						run, m.ID, m.Body["delivered"], m.Body["failed"], m.Body["succeeded"], wf[0].Body["delivered"], wf[0].Body["failed"], wf[0].Body["succeeded"], seed)
				}
			}
		}
	}

	report := func(what string, list []string) {
		if len(list) > 0 {
			slices.Sort(list)
			t.Errorf("%s: %d, seed %d:\n  %s", what, len(list), seed, strings.Join(list[:min(len(list), 20)], "\n  "))
		}
	}
	report("releases lost", lost)
	report("releases not in the baseline", extra)
	report("releases duplicated (two ids for one customer, recipient and period)", dupReleases)
	report("releases different from the baseline", different)
	report("partial releases visible (a manifest naming a missing or different object)", partial)
	report("deliveries missing", missingDel)
	report("deliveries the baseline did not make", extraDel)
	report("bundles missing", missingBundles)
	report("bundles the baseline did not deliver", extraBundles)
	report("bundles that do not verify", got.bundleProblems)
	if len(statusShifts) > 0 {
		t.Logf("ledger outcomes that differ from the baseline's in status only: %v", statusShifts)
	}

	if linkFresh > 0 {
		t.Logf("%d webhook(s) sent again under their webhook-id carried a fresh presigned link (and its expires_at); the rest of each message was the same", linkFresh)
	}
	return drillTally{lost: len(lost), duplicated: len(dupReleases) + len(extra), different: len(different), partial: len(partial),
		deliveries: len(gotDel), baselineDeliveries: len(wantDel), missingDeliveries: len(missingDel), extraDeliveries: len(extraDel),
		hookDuplicates: hookDup, linkFresh: linkFresh}
}

// killTargets are the log lines the kills of the long drill follow in
// turn, each within a random delay up to within: none (a timed moment);
// a manifest committed (between the manifest and the ledger's outcome,
// or as its delivery starts); a delivery done (during the next one's
// bundle upload or webhook).
var killTargets = []struct {
	msg    string
	within time.Duration
}{{"", 0}, {"release committed", 30 * time.Millisecond}, {"", 0}, {"release delivered", 200 * time.Millisecond}}

// next waits for the life's next log line msg (one more than it has
// logged now) and returns its time, or false when the world's runs end
// or limit passes first.
func (l *drillLife) next(t *testing.T, w *drillWorld, msg string, limit time.Duration) (time.Time, bool) {
	t.Helper()
	count := func() (int, time.Time) {
		n, last := 0, time.Time{}
		for _, ln := range l.lines() {
			if ln.Msg == msg {
				n, last = n+1, ln.Time
			}
		}
		return n, last
	}
	n0, _ := count()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if n, at := count(); n > n0 {
			return at, true
		}
		select {
		case <-l.done:
			return time.Time{}, false
		default:
		}
		time.Sleep(5 * time.Millisecond) // polling a process's log, with a deadline
	}
	return time.Time{}, false
}

// committedStatus says whether a release outcome is a committed release
// (made now, found made, or empty).
func committedStatus(s release.Status) bool {
	return s == release.StatusCommitted || s == release.StatusAlreadyCommitted || s == release.StatusEmpty
}

// drillWorld is one copy of the drill's setting: its topics with the
// seeded data, its buckets, its partner's webhook receiver, and the flags
// of every life of its serve.
type drillWorld struct {
	name          string
	brokers       []string
	args          []string
	base          string
	bucket        string
	partnerBucket string
	group         string
	hooks         *receiver
	runIDs        []string
}

func newDrillWorld(t *testing.T, srv testbench.S3Server, brokers []string, keyDir, name string) *drillWorld {
	t.Helper()
	cfg := synth.DefaultConfig()
	cfg.Customers, cfg.Transactions = drillCustomers, drillTransactions
	cfg.TransactionsTopic = testbench.UniqueName(t, name+"-tx")
	cfg.ConsentTopic = testbench.UniqueName(t, name+"-consent")
	testbench.CreateTopic(t, brokers, cfg.TransactionsTopic, drillPartitions)
	testbench.CreateTopic(t, brokers, cfg.ConsentTopic, 1)
	if _, err := seed.Produce(t.Context(), topics.Connection{Brokers: brokers}, cfg, nil); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	secretFile := filepath.Join(t.TempDir(), "whsec")
	if err := os.WriteFile(secretFile, []byte("whsec_"+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &drillWorld{name: name, brokers: brokers, hooks: &receiver{key: key}, bucket: testbench.Bucket(t, srv), partnerBucket: testbench.Bucket(t, srv),
		group: testbench.UniqueName(t, name+"-group")}
	hookSrv := httptest.NewServer(w.hooks)
	t.Cleanup(hookSrv.Close) // after every life's own cleanup: they were registered later
	partners := fmt.Sprintf(`[{id: pds-one, name: PDS One, bucket: %q, prefix: partners/pds-one/, webhook_url: %q, webhook_secret_file: %q, webhook_attempts: 3, formats: [ndjson], categories: [transactions]}]`,
		w.partnerBucket, hookSrv.URL, secretFile)
	addr := freePort(t)
	w.base = "http://" + addr
	w.args = []string{"serve",
		"--kafka-brokers", strings.Join(brokers, ","),
		"--transactions-topic", cfg.TransactionsTopic, "--consent-topic", cfg.ConsentTopic,
		"--quarantine-topic", testbench.UniqueName(t, name+"-quarantine"), "--requests-topic", testbench.UniqueName(t, name+"-requests"),
		"--runs-topic", testbench.UniqueName(t, name+"-runs"), "--schedules-topic", testbench.UniqueName(t, name+"-schedules"),
		"--notifications-topic", testbench.UniqueName(t, name+"-notifications"), "--workers-group", w.group,
		"--s3-endpoint", srv.Endpoint, "--s3-bucket", w.bucket, "--s3-region", srv.Region,
		"--http-addr", addr, "--temp-dir", t.TempDir(), "--state-dir", t.TempDir(),
		"--log-level", "info", "--log-format", "json", "--scheduler-enabled=false",
		// A kill is an attempt of every run in flight: twenty of them
		// must not exhaust the attempts of the bulk runs.
		"--workers-max-attempts", "64",
		"--signing-key-file", filepath.Join(keyDir, "signing.key"), "--partners", partners, "--organisation", "Test Bank plc",
		"--auth-tokens-file", tokensFile(t, drillOps+"=ops"),
	}
	return w
}

// drillLife is one process of a world's serve.
type drillLife struct {
	cmd     *exec.Cmd
	done    chan struct{}
	log     *lockedBuffer
	started time.Time
	base    string
}

// start starts a life of the world's serve.
func (w *drillWorld) start(t *testing.T, bin string) *drillLife {
	t.Helper()
	l := &drillLife{log: &lockedBuffer{}, done: make(chan struct{}), base: w.base}
	l.cmd = exec.Command(bin, w.args...)
	l.cmd.Stdout, l.cmd.Stderr = io.Discard, l.log
	l.started = time.Now()
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { l.cmd.Wait(); close(l.done) }()
	t.Cleanup(func() { l.cmd.Process.Kill(); <-l.done })
	return l
}

// ready waits until the life answers /readyz.
func (l *drillLife) ready(t *testing.T) {
	t.Helper()
	l.poll(t, "a ready server", 90*time.Second, func() bool { code, _ := call(t, "GET", l.base+"/readyz", "", ""); return code == 200 })
}

func (l *drillLife) pid() int { return l.cmd.Process.Pid }

// poll waits until ok holds, failing when limit passes first or the
// process exits.
func (l *drillLife) poll(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		select {
		case <-l.done:
			t.Fatalf("serve (pid %d) exited %d while waiting for %s: %s", l.pid(), l.cmd.ProcessState.ExitCode(), what, tail(l.log.String()))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s: %s", what, limit, tail(l.log.String()))
		}
		time.Sleep(20 * time.Millisecond) // polling a process, with a deadline
	}
}

// tail is the end of a log, for a failure message.
func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// logLine is one line of serve's JSON log.
type logLine struct {
	Time time.Time `json:"time"`
	Msg  string    `json:"msg"`
	Kind string    `json:"kind"`
}

func (l *drillLife) lines() []logLine {
	var out []logLine
	for _, s := range strings.Split(l.log.String(), "\n") {
		var ln logLine
		if json.Unmarshal([]byte(s), &ln) == nil && ln.Msg != "" {
			out = append(out, ln)
		}
	}
	return out
}

// waitFor returns when the life first logged msg.
func (l *drillLife) waitFor(t *testing.T, msg string, limit time.Duration) time.Time {
	t.Helper()
	var at time.Time
	l.poll(t, "log line "+msg, limit, func() bool {
		for _, ln := range l.lines() {
			if ln.Msg == msg {
				at = ln.Time
				return true
			}
		}
		return false
	})
	return at
}

// waitResumed returns when the life resumed work (its first run
// attempt), or false when the world's runs ended first.
func (l *drillLife) waitResumed(t *testing.T, w *drillWorld, limit time.Duration) (time.Time, bool) {
	t.Helper()
	var at time.Time
	ended := false
	l.poll(t, "a run attempt", limit, func() bool {
		for _, ln := range l.lines() {
			if ln.Msg == "run attempt" {
				at = ln.Time
				return true
			}
		}
		ended = w.finished(t)
		return ended
	})
	return at, !ended
}

// phase names the last step the life logged, and counts its commits and
// deliveries.
func (l *drillLife) phase() (string, int, int) {
	phase, commits, deliveries, tasks := "starting, joining or waiting out a lease", 0, 0, 0
	for _, ln := range l.lines() {
		switch ln.Msg {
		case "run attempt":
			if ln.Kind == string(jobs.KindTask) {
				tasks++
				phase = "reading (a task started)"
			} else if tasks == 0 {
				phase = "planning (a bulk run started)"
			}
		case "release committed", "release committed by another writer first":
			commits++
			phase = "staging and committing"
		case "release delivered", "release already delivered":
			deliveries++
			phase = "delivering"
		case "run ended":
			phase = "between runs (one ended)"
		}
	}
	return phase, commits, deliveries
}

// kill9 SIGKILLs the life and waits until it is gone.
func (l *drillLife) kill9(t *testing.T) {
	t.Helper()
	if err := l.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", l.pid(), err)
	}
	<-l.done
}

// stop ends the life with SIGTERM, as an orchestrator would.
func (l *drillLife) stop(t *testing.T) {
	t.Helper()
	l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.done:
		if code := l.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("serve exited %d after SIGTERM: %s", code, tail(l.log.String()))
		}
	case <-time.After(90 * time.Second):
		t.Errorf("serve did not stop within 90s of SIGTERM")
	}
}

// evict removes the killed process pid from the world's consumer group,
// as its session timeout would after 30 s, and reports whether it did.
func (w *drillWorld) evict(t *testing.T, pid int) bool {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(w.brokers...), Transport: tr, Timeout: 5 * time.Second}
	suffix := "-" + strconv.Itoa(pid)
	for range 50 {
		res, err := c.DescribeGroups(t.Context(), &kafka.DescribeGroupsRequest{GroupIDs: []string{w.group}})
		if err == nil && len(res.Groups) == 1 {
			for _, m := range res.Groups[0].Members {
				if !strings.HasSuffix(m.ClientID, suffix) {
					continue
				}
				lr, err := c.LeaveGroup(t.Context(), &kafka.LeaveGroupRequest{GroupID: w.group, Members: []kafka.LeaveGroupRequestMember{{ID: m.MemberID}}})
				if err == nil && lr.Error == nil {
					return true
				}
			}
			if len(res.Groups[0].Members) == 0 || !slices.ContainsFunc(res.Groups[0].Members, func(m kafka.DescribeGroupsResponseMember) bool {
				return strings.HasSuffix(m.ClientID, suffix)
			}) {
				return false // it had not joined, or left already
			}
		}
		time.Sleep(100 * time.Millisecond) // a rebalance under way, with a bound
	}
	t.Logf("the killed member %d could not be removed from group %s: its session timeout will", pid, w.group)
	return false
}

// submit asks for the two bulk releases.
func (w *drillWorld) submit(t *testing.T) {
	t.Helper()
	for _, body := range []string{drillPartner, drillSelf} {
		code, b := call(t, "POST", w.base+"/v1/releases", drillOps, body)
		var run struct {
			ID string `json:"id"`
		}
		if code != http.StatusAccepted || json.Unmarshal(b, &run) != nil || run.ID == "" {
			t.Fatalf("POST bulk release %s = %d %s", body, code, b)
		}
		w.runIDs = append(w.runIDs, run.ID)
	}
}

// status returns the status of run id, "" when the server does not answer.
func (w *drillWorld) status(t *testing.T, id string) (jobs.Status, string) {
	code, b := call(t, "GET", w.base+"/v1/runs/"+id, drillOps, "")
	var run struct {
		Status jobs.Status `json:"status"`
		Error  string      `json:"error"`
	}
	if code != 200 || json.Unmarshal(b, &run) != nil {
		return "", ""
	}
	return run.Status, run.Error
}

// finished reports whether both runs have ended, as the live process says.
func (w *drillWorld) finished(t *testing.T) bool {
	for _, id := range w.runIDs {
		if st, _ := w.status(t, id); !st.Final() {
			return false
		}
	}
	return true
}

// await waits until both runs ended, and fails unless both succeeded.
func (w *drillWorld) await(t *testing.T, l *drillLife, limit time.Duration) {
	t.Helper()
	l.poll(t, "the end of both runs", limit, func() bool { return w.finished(t) })
	for _, id := range w.runIDs {
		if st, why := w.status(t, id); st != jobs.StatusSucceeded {
			t.Fatalf("%s: run %s ended %s: %s", w.name, id, st, why)
		}
	}
}

// drillRelease is one committed release as the bucket holds it.
type drillRelease struct {
	manifest *release.Manifest
	normal   map[string]any    // the manifest without what differs between runs
	files    map[string]string // path → sha256 of the object the manifest names
}

// drillState is what a world ended with.
type drillState struct {
	releases         map[string]*drillRelease
	partial          []string // manifests naming a missing or different object
	duplicates       []string // two releases of one customer, recipient and period
	leftovers        int      // staged objects no manifest names
	leftoverAttempts int
	ledger           map[string]map[string]jobs.Release // run → customer → outcome
	invisible        []string                           // ledger outcomes without their release
	hooks            []hookMessage
	badHooks         []string
	bundles          map[string]string // release id → bundle sha256
	bundleProblems   []string
}

func (s *drillState) count(recipient string) int {
	n := 0
	for _, r := range s.releases {
		if string(r.manifest.Midata.Recipient) == recipient {
			n++
		}
	}
	return n
}

func (s *drillState) empty() int {
	n := 0
	for _, r := range s.releases {
		if r.manifest.Midata.Counts.Released == 0 {
			n++
		}
	}
	return n
}

// finishedHooks returns the run.finished webhooks of run.
func (s *drillState) finishedHooks(run string) []hookMessage {
	var out []hookMessage
	for _, m := range s.hooks {
		if m.Type == "run.finished" && m.Body["run_id"] == run {
			out = append(out, m)
		}
	}
	return out
}

// delivered returns the release.delivered webhooks by release id.
func (s *drillState) delivered() map[string][]hookMessage {
	out := map[string][]hookMessage{}
	for _, m := range s.hooks {
		if m.Type == "release.delivered" {
			id, _ := m.Body["release_id"].(string)
			out[id] = append(out[id], m)
		}
	}
	return out
}

// webhookDuplicates counts the webhooks that came more than once and
// says what is wrong with them: a message again under its webhook-id must
// be the same message (a release.delivered may carry a fresh presigned
// link: linkFresh counts those), and a release is delivered under one id.
func (s *drillState) webhookDuplicates() (dups int, problems []string, linkFresh int) {
	byID := map[string][]hookMessage{}
	for _, m := range s.hooks {
		byID[m.ID] = append(byID[m.ID], m)
	}
	for id, msgs := range byID {
		dups += len(msgs) - 1
		first := msgs[0]
		for _, m := range msgs[1:] {
			if reflect.DeepEqual(first.Body, m.Body) {
				continue
			}
			a, b := withoutLink(first.Body), withoutLink(m.Body)
			if first.Type == "release.delivered" && reflect.DeepEqual(a, b) {
				linkFresh++
				continue
			}
			fb, _ := json.Marshal(first.Body)
			mb, _ := json.Marshal(m.Body)
			problems = append(problems, fmt.Sprintf("webhook-id %s came with two messages: %s and %s", id, fb, mb))
		}
	}
	for rel, msgs := range s.delivered() {
		for _, m := range msgs {
			if m.ID != "delivered-"+rel {
				problems = append(problems, fmt.Sprintf("release %s delivered under webhook-id %s", rel, m.ID))
			}
		}
	}
	return dups, problems, linkFresh
}

func withoutLink(body map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		if k != "link" && k != "expires_at" {
			out[k] = v
		}
	}
	return out
}

// collectBucket reads the releases of a bucket: every manifest and the
// objects it names (partial when one is missing or different), the
// releases of one scope made twice, and the staged objects no manifest
// names.
func collectBucket(t *testing.T, client *s3.Client, bucket string) *drillState {
	t.Helper()
	s := &drillState{releases: map[string]*drillRelease{}}
	objects := readBucket(t, client, bucket, "releases/")

	// Releases: every manifest, and the objects it names.
	named := map[string]bool{}
	byScope := map[string][]string{}
	for key, body := range objects {
		id, rest, _ := strings.Cut(strings.TrimPrefix(key, "releases/"), "/")
		if rest != release.ManifestFile {
			continue
		}
		m, err := release.ParseManifest(body)
		if err != nil {
			s.partial = append(s.partial, fmt.Sprintf("%s: manifest does not parse: %v", id, err))
			continue
		}
		var normal map[string]any
		if err := json.Unmarshal(body, &normal); err != nil {
			t.Fatal(err)
		}
		delete(normal, "created")
		if md, ok := normal["midata"].(map[string]any); ok {
			if snap, ok := md["snapshot"].(map[string]any); ok {
				delete(snap, "topic") // each world has its own topics
			}
		}
		if rs, ok := normal["resources"].([]any); ok {
			for _, r := range rs {
				if r, ok := r.(map[string]any); ok {
					delete(r, "midata:object") // the attempt's name is random
					delete(r, "object")
				}
			}
		}
		rel := &drillRelease{manifest: m, normal: normal, files: map[string]string{}}
		for _, rs := range m.Resources {
			okey := releasestore.Key(id, rs)
			named[okey] = true
			obj, ok := objects[okey]
			sum := sha256.Sum256(obj)
			switch {
			case !ok:
				s.partial = append(s.partial, fmt.Sprintf("%s: %s names %s, which is not in the bucket", id, rs.Path, okey))
			case int64(len(obj)) != rs.Bytes || "sha256:"+hex.EncodeToString(sum[:]) != rs.Hash:
				s.partial = append(s.partial, fmt.Sprintf("%s: %s is %d bytes sha256:%x, the manifest says %d bytes %s", id, okey, len(obj), sum, rs.Bytes, rs.Hash))
			}
			rel.files[rs.Path] = hex.EncodeToString(sum[:])
		}
		s.releases[id] = rel
		scope := fmt.Sprintf("%s|%s|%s|%s", m.Midata.CustomerID, m.Midata.Recipient, m.Midata.Period.From.Format(time.RFC3339), m.Midata.Period.To.Format(time.RFC3339))
		byScope[scope] = append(byScope[scope], id)
	}
	for scope, ids := range byScope {
		if len(ids) > 1 {
			s.duplicates = append(s.duplicates, fmt.Sprintf("%s: %v", scope, ids))
		}
	}
	attempts := map[string]bool{}
	for key := range objects {
		if named[key] || strings.HasSuffix(key, "/"+release.ManifestFile) {
			continue
		}
		s.leftovers++
		attempts[key[:strings.LastIndex(key, "/")]] = true
	}
	s.leftoverAttempts = len(attempts)
	return s
}

// collect reads what the world ended with: every object of its releases
// bucket and its partner's bucket, the ledger's outcomes of both runs
// (from the live process) and the webhooks its receiver got.
func (w *drillWorld) collect(t *testing.T, srv testbench.S3Server, keys *signing.Keys) *drillState {
	t.Helper()
	client := testbench.S3Client(srv)
	s := collectBucket(t, client, w.bucket)
	s.ledger, s.bundles = map[string]map[string]jobs.Release{}, map[string]string{}

	// The ledger: every outcome of both runs, each committed one visible.
	for _, run := range w.runIDs {
		byCustomer := map[string]jobs.Release{}
		after := ""
		for {
			url := w.base + "/v1/runs/" + run + "/releases?limit=1000"
			if after != "" {
				url += "&after=" + after
			}
			code, b := call(t, "GET", url, drillOps, "")
			var page struct {
				Releases []jobs.Release `json:"releases"`
				Next     string         `json:"next"`
			}
			if code != 200 || json.Unmarshal(b, &page) != nil {
				t.Fatalf("GET %s = %d %s", url, code, b)
			}
			for _, r := range page.Releases {
				if prev, ok := byCustomer[r.CustomerID]; ok {
					t.Errorf("%s: run %s lists %s twice: %s and %s", w.name, run, r.CustomerID, prev.ReleaseID, r.ReleaseID)
				}
				byCustomer[r.CustomerID] = r
				if committedStatus(r.Status) && s.releases[r.ReleaseID] == nil {
					s.invisible = append(s.invisible, fmt.Sprintf("%s: run %s says %s of %s is %s, and the bucket has no manifest of it", w.name, run, r.ReleaseID, r.CustomerID, r.Status))
				}
			}
			if after = page.Next; after == "" {
				break
			}
		}
		s.ledger[strings.TrimPrefix(run, "ops-")] = byCustomer
	}

	// The partner's bundles: each verifies with the organisation's key.
	for key, body := range readBucket(t, client, w.partnerBucket, "partners/pds-one/") {
		id, ok := strings.CutSuffix(strings.TrimPrefix(key, "partners/pds-one/"), ".tar.gz")
		if !ok {
			s.bundleProblems = append(s.bundleProblems, fmt.Sprintf("%s: %s is not a bundle", w.name, key))
			continue
		}
		sum := sha256.Sum256(body)
		s.bundles[id] = hex.EncodeToString(sum[:])
		rep, err := bundle.Verify(bytes.NewReader(body), keys.Public())
		if err != nil || !rep.OK() || rep.ReleaseID != id {
			s.bundleProblems = append(s.bundleProblems, fmt.Sprintf("%s: bundle %s does not verify: %v %v", w.name, key, err, rep.Problems))
		}
	}

	w.hooks.mu.Lock()
	s.hooks = slices.Clone(w.hooks.got)
	s.badHooks = slices.Clone(w.hooks.bad)
	w.hooks.mu.Unlock()
	return s
}

// readBucket returns every object under prefix in bucket, by key.
func readBucket(t *testing.T, client *s3.Client, bucket, prefix string) map[string][]byte {
	t.Helper()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(t.Context())
		if err != nil {
			t.Fatalf("list %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	out := make(map[string][]byte, len(keys))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(t.Context())
	g.SetLimit(8)
	for _, key := range keys {
		g.Go(func() error {
			obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return fmt.Errorf("get %s/%s: %w", bucket, key, err)
			}
			defer obj.Body.Close()
			b, err := io.ReadAll(obj.Body)
			if err != nil {
				return fmt.Errorf("read %s/%s: %w", bucket, key, err)
			}
			mu.Lock()
			out[key] = b
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return out
}
