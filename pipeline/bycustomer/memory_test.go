package bycustomer

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
)

// payments returns n card payments of one customer, every field set.
func payments(customer string, n int) []schemas.Transaction {
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	out := make([]schemas.Transaction, n)
	for i := range out {
		out[i] = schemas.Transaction{
			TransactionID: "tx-" + customer + "-" + strconv.Itoa(i), CustomerID: customer, AccountID: "acc-" + customer,
			BookedAt: base.Add(time.Duration(i) * time.Minute), Currency: "GBP",
			Amount:       schemas.Decimal{Units: -int64(100 + i), Scale: 2, Text: "-" + strconv.Itoa(100+i)},
			BalanceAfter: schemas.Decimal{Units: 500_000 - int64(i), Scale: 2, Text: strconv.Itoa(500_000 - i)}, HasBalance: true,
			Status: schemas.StatusBooked, Type: "CARD", Description: "TESCO STORES 3412 LONDON", MerchantName: "Tesco",
			MerchantCode: "5411", Partition: 3, Offset: int64(1000 + i),
		}
	}
	return out
}

// slice is a Stream over records.
type slice struct {
	recs []schemas.Transaction
	i    int
}

func (s *slice) Next() bool                        { s.i++; return s.i <= len(s.recs) }
func (s *slice) Transaction() *schemas.Transaction { return &s.recs[s.i-1] }
func (s *slice) Err() error                        { return nil }

func TestARunInMemoryTakesLessThanItsRecordsAsStructs(t *testing.T) {
	t.Parallel()
	const n = 1000
	recs := append(payments("A", n), payments("B", 1)...)
	splitters := map[int]*Splitter{0: NewSplitter(&slice{recs: recs})}
	runs, whole := Take(splitters, "A", 2048)
	if !whole {
		t.Fatal("a run of 1,000 records did not fit a limit of 2,048")
	}
	// The buffer's whole capacity, whatever its element type.
	v := reflect.ValueOf(runs[0].buf)
	held := v.Cap() * int(v.Type().Elem().Size())
	structs := n * int(reflect.TypeFor[schemas.Transaction]().Size())
	if held > structs*2/3 {
		t.Errorf("the run of %d records holds a buffer of %d bytes, want at most two thirds of their structs alone (%d bytes)", n, held, structs)
	}
	for i := 0; runs[0].Next(); i++ {
		if got := *runs[0].Transaction(); got != recs[i] {
			t.Fatalf("record %d: got %+v, want %+v", i, got, recs[i])
		}
	}
	if err := runs[0].Err(); err != nil {
		t.Fatal(err)
	}
	if runs[0].buf != nil {
		t.Error("a run read to its end still holds its buffer")
	}
}
