package topics

import "time"

// The default names of the topics.
const (
	DefaultTransactions = "transactions"      // the input: upstream producers write it
	DefaultConsent      = "midata.consent"    // consent events, compacted
	DefaultQuarantine   = "midata.quarantine" // invalid input records with their reason
	DefaultRequests     = "midata.requests"   // the work queue
	DefaultRuns         = "midata.runs"       // the run ledger, compacted
	DefaultSchedules    = "midata.schedules"  // the schedules made through the API, compacted
	// DefaultNotifications is the stream of events for the organisation's
	// messaging systems (package notify).
	DefaultNotifications = "midata.notifications"
)

// Partition counts of the topics midata creates.
const (
	ConsentPartitions    = 3
	QuarantinePartitions = 1
	RequestsPartitions   = 6 // the most workers that share the requests at once
	RunsPartitions       = 3
	SchedulesPartitions  = 1
)

// Forever is the Retention of a topic whose records are never deleted for
// their age.
const Forever time.Duration = -1

// Spec says how a topic is created: Ensure applies it to a topic that
// does not exist yet and leaves an existing one as it is.
type Spec struct {
	Name       string
	Partitions int // default 1
	// Compacted sets cleanup.policy=compact: the latest record of each key
	// is kept, whatever its age; tombstones delete.
	Compacted bool
	// Retention sets retention.ms: Forever (-1) keeps records whatever
	// their age; 0 leaves the brokers' default (log.retention.hours, 7
	// days unless changed). It applies to topics that are not Compacted.
	Retention time.Duration
	// ReplicationFactor is the number of replicas; 0 means the brokers'
	// default.replication.factor.
	ReplicationFactor int
}

// or returns name, or def when name is empty.
func or(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// TransactionsSpec is the input topic as `midata dev` and `midata seed`
// create it (in production upstream owns it): keyed by customer id, kept
// forever, because the synthetic data set has historic timestamps that
// time-based retention would delete within minutes.
func TransactionsSpec(name string, partitions int) Spec {
	return Spec{Name: or(name, DefaultTransactions), Partitions: max(partitions, 1), Retention: Forever}
}

// ConsentSpec is the consent topic: compacted, keyed by
// "<customer>|<recipient>".
func ConsentSpec(name string) Spec {
	return Spec{Name: or(name, DefaultConsent), Partitions: ConsentPartitions, Compacted: true}
}

// QuarantineSpec is the quarantine topic. Its records are copies of input
// that no release could use: they are kept until an operator deals with
// them, never deleted for their age, so quarantined input never silently
// disappears.
func QuarantineSpec(name string) Spec {
	return Spec{Name: or(name, DefaultQuarantine), Partitions: QuarantinePartitions, Retention: Forever}
}

// RequestsSpec is the work queue: RequestsPartitions partitions, the
// brokers' default retention.
func RequestsSpec(name string) Spec {
	return Spec{Name: or(name, DefaultRequests), Partitions: RequestsPartitions}
}

// RunsSpec is the run ledger: compacted, keyed by run id.
func RunsSpec(name string) Spec {
	return Spec{Name: or(name, DefaultRuns), Partitions: RunsPartitions, Compacted: true}
}

// SchedulesSpec is the schedules topic: compacted, keyed by schedule id.
func SchedulesSpec(name string) Spec {
	return Spec{Name: or(name, DefaultSchedules), Partitions: SchedulesPartitions, Compacted: true}
}

// Names are the topics of one deployment, as the configuration names them
// (the YAML tags are the keys under topics: of the config file). Empty
// names mean the defaults.
type Names struct {
	Transactions string `yaml:"transactions"` // the input
	Consent      string `yaml:"consent"`      // compacted consent events
	Quarantine   string `yaml:"quarantine"`   // invalid records with their reason
	Requests     string `yaml:"requests"`     // the work queue
	Runs         string `yaml:"runs"`         // the run ledger
	Schedules    string `yaml:"schedules"`    // compacted schedules
	// Notifications are events for the organisation's messaging systems.
	Notifications string `yaml:"notifications"`
}

// WithDefaults returns n with every empty name set to its default.
func (n Names) WithDefaults() Names {
	return Names{
		Transactions:  or(n.Transactions, DefaultTransactions),
		Consent:       or(n.Consent, DefaultConsent),
		Quarantine:    or(n.Quarantine, DefaultQuarantine),
		Requests:      or(n.Requests, DefaultRequests),
		Runs:          or(n.Runs, DefaultRuns),
		Schedules:     or(n.Schedules, DefaultSchedules),
		Notifications: or(n.Notifications, DefaultNotifications),
	}
}

// Service returns the specs of the topics `midata serve` owns: consent,
// quarantine, requests, runs, schedules and notifications (not the input).
func (n Names) Service() []Spec {
	return []Spec{ConsentSpec(n.Consent), QuarantineSpec(n.Quarantine), RequestsSpec(n.Requests), RunsSpec(n.Runs),
		SchedulesSpec(n.Schedules), NotificationsSpec(n.Notifications)}
}

// NotificationsSpec is the notifications topic: a stream of events, not
// compacted, kept for a week.
func NotificationsSpec(name string) Spec {
	return Spec{Name: or(name, DefaultNotifications), Partitions: 3, Retention: 7 * 24 * time.Hour}
}
