package consent

import (
	"time"

	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
)

// model is a consent state fed decoded events: the View's store, and the
// Table it replaces, which every semantic test runs against too.
type model interface {
	Apply(ev schemas.ConsentEvent, tombstone bool)
	Grant(customerID string, recipient schemas.Recipient, now time.Time) (Grant, error)
	Granted(recipient schemas.Recipient, now time.Time) map[string]Grant
}

var models = []struct {
	name string
	new  func() model
}{
	{"view", func() model { return storeModel{newStore()} }},
	{"table", func() model { return NewTable() }},
}

// storeModel applies events to a store as the View does.
type storeModel struct{ s *store }

func (m storeModel) Apply(ev schemas.ConsentEvent, tombstone bool) {
	msg := topics.Message{Partition: ev.Partition, Offset: ev.Offset, Key: []byte(schemas.ConsentKey(ev.CustomerID, ev.Recipient)), Value: []byte("{}")}
	if tombstone {
		msg.Value = nil
		m.s.Delete(msg)
		return
	}
	m.s.Put(msg, state{Event: ev})
}

func (m storeModel) Grant(customerID string, recipient schemas.Recipient, now time.Time) (Grant, error) {
	return m.s.grant(customerID, recipient, now)
}

func (m storeModel) Granted(recipient schemas.Recipient, now time.Time) map[string]Grant {
	return m.s.granted(recipient, now, nil)
}
