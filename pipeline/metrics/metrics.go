// Package metrics owns the Prometheus metrics of `midata serve`: what is
// counted and measured (records, releases, runs, consumer lag, S3 traffic),
// under which names, and the /metrics handler. Metrics go on a
// registry the caller passes in; nothing is registered globally.
//
// It does not decide when to count: the workers, the runner and the sink
// wrapper (Sink) call the methods of Metrics. Every method is a no-op on a
// nil *Metrics, so a component can take metrics as an optional dependency.
package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/midata/midata/schemas/release"
)

// Namespace prefixes every metric name.
const Namespace = "midata"

// Label values set to zero at start, so that dashboards and alerts see
// every series before the first event. They are those of pipeline/consent,
// pipeline and the S3 sink (a test keeps them equal).
var (
	excludedReasons = []string{"other_customer", "pending", "outside_period", "outside_consent_window", "not_representable"}
	releaseStatuses = []string{"committed", "empty", "no_consent", "already_committed", "cancelled", "failed"}
	s3Ops           = []string{OpCreate, OpWrite, OpClose, OpAbort, OpCommit, OpOpen, OpDelete, OpLink, OpList}
)

// Metrics are the metrics of `midata serve`. The fields may be used
// directly; the methods say what each is for.
type Metrics struct {
	// RecordsScanned counts records read from the transactions topic.
	RecordsScanned prometheus.Counter // midata_records_scanned_total
	// RecordsReleased counts records written into releases.
	RecordsReleased prometheus.Counter // midata_records_released_total
	// RecordsExcluded counts records left out, by reason (other_customer,
	// pending, outside_period, outside_consent_window, not_representable).
	RecordsExcluded *prometheus.CounterVec // midata_records_excluded_total{reason}
	// RecordsQuarantined counts invalid records sent to quarantine.
	RecordsQuarantined prometheus.Counter // midata_records_quarantined_total
	// Releases counts releases by the pipeline's status (committed, empty,
	// no_consent, already_committed, cancelled) or failed.
	Releases *prometheus.CounterVec // midata_releases_total{status}
	// RunDuration measures runs from start to final status, by request kind
	// (release, bulk, task) and final status.
	RunDuration *prometheus.HistogramVec // midata_run_duration_seconds{kind,status}
	// ConsumerLag is, per partition of the requests topic, how many
	// requests the worker group has not yet taken.
	ConsumerLag *prometheus.GaugeVec // midata_consumer_lag_records{partition}
	// S3WrittenBytes counts bytes of objects the store has completed.
	S3WrittenBytes prometheus.Counter // midata_s3_written_bytes_total
	// S3Errors counts failed object-store calls by operation.
	S3Errors *prometheus.CounterVec // midata_s3_errors_total{op}
}

// runDurationBuckets are the upper bounds, in seconds, of the run duration
// histogram: from a one-customer release (well under a second) to a bulk
// release over a large topic (hours).
func runDurationBuckets() []float64 {
	return []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400}
}

// New creates the metrics and registers them on reg. It fails if any is
// already registered there.
func New(reg prometheus.Registerer) (*Metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		RecordsScanned:     counter("records_scanned_total", "Records read from the transactions topic."),
		RecordsReleased:    counter("records_released_total", "Records written into releases."),
		RecordsExcluded:    counterVec("records_excluded_total", "Records left out of releases, by reason.", "reason"),
		RecordsQuarantined: counter("records_quarantined_total", "Invalid records sent to the quarantine topic."),
		Releases:           counterVec("releases_total", "Releases by final status.", "status"),
		RunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "run_duration_seconds",
			Help:    "Duration of runs from start to final status, by request kind and final status.",
			Buckets: runDurationBuckets(),
		}, []string{"kind", "status"}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "consumer_lag_records",
			Help: "Requests on each partition of the requests topic not yet taken by the worker group.",
		}, []string{"partition"}),
		S3WrittenBytes: counter("s3_written_bytes_total", "Bytes of objects completed in the object store."),
		S3Errors:       counterVec("s3_errors_total", "Failed object-store calls, by operation.", "op"),
	}
	for _, c := range []prometheus.Collector{
		m.RecordsScanned, m.RecordsReleased, m.RecordsExcluded, m.RecordsQuarantined,
		m.Releases, m.RunDuration, m.ConsumerLag, m.S3WrittenBytes, m.S3Errors,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	for _, r := range excludedReasons {
		m.RecordsExcluded.WithLabelValues(r)
	}
	for _, s := range releaseStatuses {
		m.Releases.WithLabelValues(s)
	}
	for _, op := range s3Ops {
		m.S3Errors.WithLabelValues(op)
	}
	return m, nil
}

// NewRegistry returns a registry with the Go runtime and process
// collectors, for New and Handler.
func NewRegistry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register runtime metrics: %w", err)
		}
	}
	return reg, nil
}

// Handler serves the metrics of g in the Prometheus exposition formats, for
// /metrics.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// AddCounts adds the counts of one release (its manifest's stats).
func (m *Metrics) AddCounts(c release.Counts) {
	if m == nil {
		return
	}
	m.RecordsScanned.Add(float64(c.Scanned))
	m.RecordsReleased.Add(float64(c.Released))
	m.RecordsQuarantined.Add(float64(c.Quarantined))
	for reason, n := range c.Excluded {
		m.RecordsExcluded.WithLabelValues(reason).Add(float64(n))
	}
}

// Release counts one release that ended with status: the pipeline's
// status, or "failed".
func (m *Metrics) Release(status string) {
	if m == nil {
		return
	}
	m.Releases.WithLabelValues(status).Inc()
}

// Run records a run of the request kind that ended with status after d.
func (m *Metrics) Run(kind, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.RunDuration.WithLabelValues(kind, status).Observe(d.Seconds())
}

// Lag sets the consumer lag of the worker group on one partition of the
// requests topic: its high watermark minus the group's committed offset.
func (m *Metrics) Lag(partition int32, lag int64) {
	if m == nil {
		return
	}
	m.ConsumerLag.WithLabelValues(strconv.Itoa(int(partition))).Set(float64(lag))
}
