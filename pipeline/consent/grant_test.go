package consent

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

var (
	now   = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	day   = 24 * time.Hour
	grant = schemas.ConsentEvent{
		ConsentID: "K-1", CustomerID: "C1", Recipient: "partner:pds-one",
		Status: schemas.ConsentGranted, Categories: schemas.Transactions | schemas.Merchant,
		EventTime: now.Add(-30 * day),
	}
)

func with(f func(*schemas.ConsentEvent)) schemas.ConsentEvent {
	ev := grant
	f(&ev)
	return ev
}

func TestGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		events  []schemas.ConsentEvent
		tomb    []bool
		wantErr string // substring; "" = granted
	}{
		{name: "no event means no consent", wantErr: "no consent record"},
		{name: "a grant allows the release", events: []schemas.ConsentEvent{grant}},
		{name: "the latest event wins: revoke after grant refuses",
			events:  []schemas.ConsentEvent{grant, with(func(e *schemas.ConsentEvent) { e.Status = schemas.ConsentRevoked; e.ConsentID = "K-2" })},
			wantErr: "is revoked"},
		{name: "the latest event wins: grant after revoke allows",
			events: []schemas.ConsentEvent{with(func(e *schemas.ConsentEvent) { e.Status = schemas.ConsentRevoked }), grant}},
		{name: "a tombstone erases the grant",
			events: []schemas.ConsentEvent{grant, grant}, tomb: []bool{false, true}, wantErr: "no consent record"},
		{name: "an expired grant refuses",
			events:  []schemas.ConsentEvent{with(func(e *schemas.ConsentEvent) { e.ExpiresAt = now.Add(-day) })},
			wantErr: "expired at 2026-09-30T12:00:00Z"},
		{name: "a grant expiring exactly now refuses",
			events:  []schemas.ConsentEvent{with(func(e *schemas.ConsentEvent) { e.ExpiresAt = now })},
			wantErr: "expired"},
		{name: "a grant expiring later allows",
			events: []schemas.ConsentEvent{with(func(e *schemas.ConsentEvent) { e.ExpiresAt = now.Add(time.Second) })}},
		{name: "a grant without the transactions category refuses",
			events:  []schemas.ConsentEvent{with(func(e *schemas.ConsentEvent) { e.Categories = schemas.Merchant | schemas.Balances })},
			wantErr: "does not grant the transactions category"},
		{name: "a grant to another recipient does not count",
			events:  []schemas.ConsentEvent{with(func(e *schemas.ConsentEvent) { e.Recipient = "partner:pds-two" })},
			wantErr: "no consent record"},
		{name: "a grant of another customer does not count",
			events:  []schemas.ConsentEvent{with(func(e *schemas.ConsentEvent) { e.CustomerID = "C2" })},
			wantErr: "no consent record"},
	}
	for _, tt := range tests {
		for _, m := range models {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				table := m.new()
				for i, ev := range tt.events {
					table.Apply(ev, i < len(tt.tomb) && tt.tomb[i])
				}
				g, err := table.Grant("C1", "partner:pds-one", now)
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("Grant: %v, want granted", err)
					}
					if g.Event.ConsentID == "" {
						t.Fatal("grant carries no consent id")
					}
					return
				}
				if !errors.Is(err, ErrNoConsent) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Grant error = %v, want ErrNoConsent containing %q", err, tt.wantErr)
				}
			})
		}
	}
}

func TestGrantHashChangesWithWhatIsReleased(t *testing.T) {
	t.Parallel()
	base := Grant{Event: grant}.Hash()
	if again := (Grant{Event: grant}).Hash(); again != base {
		t.Fatalf("hash is not deterministic: %s vs %s", base, again)
	}
	moved := grant
	moved.Offset = 99
	if h := (Grant{Event: moved}).Hash(); h != base {
		t.Fatal("hash depends on the offset, which does not change what is released")
	}
	for name, ev := range map[string]schemas.ConsentEvent{
		"categories": with(func(e *schemas.ConsentEvent) { e.Categories = schemas.AllCategories }),
		"window":     with(func(e *schemas.ConsentEvent) { e.WindowFrom = now.Add(-day) }),
		"expiry":     with(func(e *schemas.ConsentEvent) { e.ExpiresAt = now.Add(day) }),
		"consent id": with(func(e *schemas.ConsentEvent) { e.ConsentID = "K-9" }),
	} {
		if (Grant{Event: ev}).Hash() == base {
			t.Errorf("hash does not change with the %s", name)
		}
	}
}

func TestFilterCheck(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	windowed := with(func(e *schemas.ConsentEvent) {
		e.WindowFrom = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		e.WindowTo = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	})
	tx := func(customer string, booked time.Time, status schemas.Status) *schemas.Transaction {
		return &schemas.Transaction{CustomerID: customer, BookedAt: booked, Status: status}
	}
	mar := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		grant schemas.ConsentEvent
		tx    *schemas.Transaction
		want  Reason
	}{
		{"a booked record of the customer in the period is released", grant, tx("C1", mar, schemas.StatusBooked), Released},
		{"another customer's record is out of scope", grant, tx("C2", mar, schemas.StatusBooked), OtherCustomer},
		{"a pending record is never released", grant, tx("C1", mar, schemas.StatusPending), Pending},
		{"a record at the period start is released", grant, tx("C1", from, schemas.StatusBooked), Released},
		{"a record at the period end is excluded", grant, tx("C1", to, schemas.StatusBooked), OutsidePeriod},
		{"a record before the period is excluded", grant, tx("C1", from.Add(-time.Nanosecond), schemas.StatusBooked), OutsidePeriod},
		{"a record inside the consent window is released", windowed, tx("C1", mar, schemas.StatusBooked), Released},
		{"a record at the window end is excluded", windowed, tx("C1", windowed.WindowTo, schemas.StatusBooked), OutsideConsentWindow},
		{"a record before the window is excluded", windowed, tx("C1", from, schemas.StatusBooked), OutsideConsentWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := Filter{CustomerID: "C1", From: from, To: to, Grant: Grant{Event: tt.grant}}
			if got := f.Check(tt.tx); got != tt.want {
				t.Fatalf("Check = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGranted(t *testing.T) {
	t.Parallel()
	for _, m := range models {
		table := m.new()
		table.Apply(grant, false) // C1 → partner:pds-one
		table.Apply(with(func(e *schemas.ConsentEvent) { e.CustomerID = "C2" }), false)
		table.Apply(with(func(e *schemas.ConsentEvent) { e.CustomerID = "C3"; e.Status = schemas.ConsentRevoked }), false)
		table.Apply(with(func(e *schemas.ConsentEvent) { e.CustomerID = "C4"; e.ExpiresAt = now }), false)
		table.Apply(with(func(e *schemas.ConsentEvent) { e.CustomerID = "C5"; e.Recipient = "self" }), false)
		table.Apply(with(func(e *schemas.ConsentEvent) { e.CustomerID = "C6" }), false)
		table.Apply(with(func(e *schemas.ConsentEvent) { e.CustomerID = "C6" }), true) // erased
		got := table.Granted("partner:pds-one", now)
		if len(got) != 2 || got["C1"].Event.ConsentID != "K-1" || got["C2"].Event.CustomerID != "C2" {
			t.Fatalf("%s: Granted = %v, want exactly C1 and C2", m.name, got)
		}
	}
}

func TestEventsOfOneKeyOnTwoPartitionsGrantNothing(t *testing.T) {
	t.Parallel()
	for _, m := range models {
		table := m.new()
		first := grant
		first.Partition = 0
		table.Apply(first, false)
		second := with(func(e *schemas.ConsentEvent) { e.ConsentID = "K-2"; e.Partition = 1 })
		table.Apply(second, false)
		if _, err := table.Grant("C1", "partner:pds-one", now); !errors.Is(err, ErrNoConsent) || !strings.Contains(err.Error(), "two partitions") {
			t.Fatalf("Grant = %v, want no consent: the order of the two events is unknown", err)
		}
		if got := table.Granted("partner:pds-one", now); len(got) != 0 {
			t.Fatalf("Granted = %v, want none", got)
		}
		// Whatever comes next, the key stays split.
		table.Apply(second, true)
		table.Apply(second, false)
		if _, err := table.Grant("C1", "partner:pds-one", now); !strings.Contains(fmt.Sprint(err), "two partitions") {
			t.Fatalf("%s: Grant after more events = %v, want the key still split", m.name, err)
		}
	}
}
