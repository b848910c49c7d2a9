package metrics_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/metrics"
	"github.com/midata/midata/schemas/release"
)

// scrape returns what GET /metrics answers for reg.
func scrape(t *testing.T, reg prometheus.Gatherer) string {
	t.Helper()
	rec := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", rec.Code, rec.Body)
	}
	body, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// newMetrics returns metrics on a fresh registry with the runtime collectors.
func newMetrics(t *testing.T) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg, err := metrics.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestEveryMetricShowsUpUnderItsNameWithItsValue(t *testing.T) {
	t.Parallel()
	m, reg := newMetrics(t)
	m.AddCounts(release.Counts{Scanned: 2185, Released: 104, Quarantined: 3,
		Excluded: map[string]int64{"other_customer": 2077, "pending": 1}})
	m.AddCounts(release.Counts{Scanned: 15, Released: 5, Excluded: map[string]int64{"other_customer": 10}})
	m.Release("committed")
	m.Release("committed")
	m.Release("no_consent")
	m.Run("bulk", "succeeded", 90*time.Second)
	m.Lag(3, 42)

	text := scrape(t, reg)
	for _, want := range []string{
		"midata_records_scanned_total 2200",
		"midata_records_released_total 109",
		`midata_records_excluded_total{reason="other_customer"} 2087`,
		`midata_records_excluded_total{reason="pending"} 1`,
		`midata_records_excluded_total{reason="outside_consent_window"} 0`,
		"midata_records_quarantined_total 3",
		`midata_releases_total{status="committed"} 2`,
		`midata_releases_total{status="no_consent"} 1`,
		`midata_releases_total{status="failed"} 0`,
		`midata_run_duration_seconds_bucket{kind="bulk",status="succeeded",le="60"} 0`,
		`midata_run_duration_seconds_bucket{kind="bulk",status="succeeded",le="120"} 1`,
		`midata_run_duration_seconds_sum{kind="bulk",status="succeeded"} 90`,
		`midata_run_duration_seconds_count{kind="bulk",status="succeeded"} 1`,
		`midata_consumer_lag_records{partition="3"} 42`,
		"midata_s3_written_bytes_total 0",
		`midata_s3_errors_total{op="commit"} 0`,
		"# TYPE midata_run_duration_seconds histogram",
		"# TYPE midata_consumer_lag_records gauge",
		"# TYPE midata_records_scanned_total counter",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks the line %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^go_goroutines \d+$`).MatchString(text) {
		t.Errorf("/metrics lacks the Go runtime's metrics of NewRegistry")
	}
	// Every midata metric has help text.
	for _, name := range regexp.MustCompile(`(?m)^# TYPE (midata_\S+)`).FindAllStringSubmatch(text, -1) {
		if !strings.Contains(text, "# HELP "+name[1]+" ") {
			t.Errorf("%s has no help", name[1])
		}
	}
}

func TestNewRefusesARegistryThatHasTheMetricsAlready(t *testing.T) {
	t.Parallel()
	_, reg := newMetrics(t)
	if _, err := metrics.New(reg); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("New on a registry that has them = %v, want an error (not a panic)", err)
	}
}

func TestNilMetricsCountNothingAndDoNotPanic(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.AddCounts(release.Counts{Scanned: 1})
	m.Release("committed")
	m.Run("release", "succeeded", time.Second)
	m.Lag(0, 1)
	s := &fakeSink{}
	if got := m.Sink(s); got != s {
		t.Errorf("a nil Metrics wrapped the sink: %T", got)
	}
}

func TestPrefilledLabelsAreThePipelines(t *testing.T) {
	t.Parallel()
	_, reg := newMetrics(t)
	text := scrape(t, reg)
	// pipeline is read as source: this package does not depend on it, and
	// its tests should not stop compiling while it is being changed.
	consts := stringConsts(t, "..")
	reasons := []string{string(consent.OtherCustomer), string(consent.Pending), string(consent.OutsidePeriod),
		string(consent.OutsideConsentWindow), consts["NotRepresentable"]}
	for _, r := range reasons {
		if want := `midata_records_excluded_total{reason="` + r + `"} 0`; !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s before any release", want)
		}
	}
	// The release statuses are those of schemas/release, read alike.
	var statuses []string
	for name, value := range stringConsts(t, "../../schemas/release") {
		if strings.HasPrefix(name, "Status") {
			statuses = append(statuses, value)
		}
	}
	if len(statuses) < 5 {
		t.Fatalf("found the statuses %q in schemas/release's source, want its five or more", statuses)
	}
	for _, s := range append(statuses, "failed") {
		if want := `midata_releases_total{status="` + s + `"} 0`; !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s before any release", want)
		}
	}
	if n := strings.Count(text, "midata_records_excluded_total{"); n != len(reasons) {
		t.Errorf("%d excluded reasons prefilled, want the pipeline's %d", n, len(reasons))
	}
	if n := strings.Count(text, "midata_releases_total{"); n != len(statuses)+1 {
		t.Errorf("%d release statuses prefilled, want the pipeline's %d and failed", n, len(statuses))
	}
}

// stringConsts returns the string constants declared in the Go files of
// dir, tests left out.
func stringConsts(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	out := make(map[string]string)
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
		if err != nil {
			continue // a file being edited: the test says which constant is missing
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							out[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return out
}
