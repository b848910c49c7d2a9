package schemas_test

import (
	"testing"

	"github.com/midata/midata/schemas"
)

// BenchmarkDecodeTransaction decodes the contract's example event, the
// typical size of a record, and reports records/s and bytes/s.
func BenchmarkDecodeTransaction(b *testing.B) {
	key := []byte("C000123")
	value := []byte(`{"transaction_id":"T000123-00042","customer_id":"C000123","account_id":"A000123-1","booked_at":"2026-03-04T10:15:00Z","amount":"-12.34","currency":"GBP","status":"booked","type":"POS","description":"TESCO STORES 1234","merchant":{"name":"Tesco","category_code":"5411"},"balance_after":"1234.56"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := schemas.DecodeTransaction(key, value); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeConsentEvent decodes the contract's example consent event.
func BenchmarkDecodeConsentEvent(b *testing.B) {
	key := []byte("C000123|partner:pds-one")
	value := []byte(`{"consent_id":"K-88","customer_id":"C000123","recipient":"partner:pds-one","status":"granted","categories":["transactions","merchant"],"window_from":"2026-01-01T00:00:00Z","window_to":null,"expires_at":"2027-01-01T00:00:00Z","event_time":"2026-10-01T12:00:00Z"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := schemas.DecodeConsentEvent(key, value); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
