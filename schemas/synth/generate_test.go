package synth_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/synth"
)

// collect returns every message of cfg.
func collect(t testing.TB, cfg synth.Config) []synth.Message {
	t.Helper()
	var out []synth.Message
	if err := synth.Generate(cfg, func(m synth.Message) error {
		out = append(out, m)
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return out
}

// streamHash hashes everything Generate emits for cfg.
func streamHash(t *testing.T, cfg synth.Config) [32]byte {
	t.Helper()
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	if err := synth.Generate(cfg, func(m synth.Message) error {
		field([]byte(m.Topic))
		field(m.Key)
		if m.Value == nil {
			h.Write([]byte{0xff})
		} else {
			field(m.Value)
		}
		binary.BigEndian.PutUint64(n[:], uint64(m.Time.UnixNano()))
		h.Write(n[:])
		field([]byte(m.InvalidField))
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return [32]byte(h.Sum(nil))
}

func TestGenerateGivesTheSameBytesForTheSameSeed(t *testing.T) {
	t.Parallel()
	cfg := synth.DefaultConfig()
	first, second := streamHash(t, cfg), streamHash(t, cfg)
	if first != second {
		t.Fatalf("two runs of the default config differ: %x vs %x", first, second)
	}
	cfg.Seed = 2
	if other := streamHash(t, cfg); other == first {
		t.Errorf("seed 2 gives the same stream as seed 1 (%x)", other)
	}
}

// tally is what a data set contains, as decoded.
type tally struct {
	valid, malformed, consent int
	customers                 map[string]bool
}

func count(t *testing.T, cfg synth.Config, msgs []synth.Message) tally {
	t.Helper()
	tl := tally{customers: map[string]bool{}}
	txTopic, consentTopic := cfg.TransactionsTopic, cfg.ConsentTopic
	if txTopic == "" {
		txTopic = synth.DefaultTransactionsTopic
	}
	if consentTopic == "" {
		consentTopic = synth.DefaultConsentTopic
	}
	var prev time.Time
	for i, m := range msgs {
		if m.Time.Before(prev) {
			t.Fatalf("message %d at %v comes after one at %v: not in timestamp order", i, m.Time, prev)
		}
		prev = m.Time
		switch m.Topic {
		case txTopic:
			if m.InvalidField != "" {
				tl.malformed++
				continue
			}
			tx, err := schemas.DecodeTransaction(m.Key, m.Value)
			if err != nil {
				t.Fatalf("valid message %d does not decode: %v\n%s", i, err, m.Value)
			}
			tl.valid++
			tl.customers[tx.CustomerID] = true
			if tx.BookedAt.Before(cfg.Start) || !tx.BookedAt.Before(cfg.End) {
				t.Errorf("%s booked at %v, outside [%v, %v)", tx.TransactionID, tx.BookedAt, cfg.Start, cfg.End)
			}
			if m.Time.Before(tx.BookedAt) {
				t.Errorf("%s published at %v before its booking at %v", tx.TransactionID, m.Time, tx.BookedAt)
			}
		case consentTopic:
			ev, _, err := schemas.DecodeConsentEvent(m.Key, m.Value)
			if err != nil {
				t.Fatalf("consent message %d does not decode: %v\n%s", i, err, m.Value)
			}
			if !m.Time.Equal(ev.EventTime) && m.Value != nil {
				t.Errorf("consent %s timestamp %v is not its event_time %v", m.Key, m.Time, ev.EventTime)
			}
			tl.consent++
		default:
			t.Fatalf("message %d on unexpected topic %q", i, m.Topic)
		}
	}
	return tl
}

func TestGenerateMeetsTheConfiguredSizes(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change func(c *synth.Config)
	}{
		{"the default data set", func(c *synth.Config) {}},
		{"three customers with fifty transactions and every malformed kind", func(c *synth.Config) {
			c.Customers, c.Transactions, c.Malformed = 3, 50, 7
		}},
		{"more customers than transactions", func(c *synth.Config) {
			c.Customers, c.Transactions, c.Malformed = 40, 25, 2
		}},
		{"one customer with more malformed than valid records", func(c *synth.Config) {
			c.Customers, c.Transactions, c.Malformed = 1, 3, 9
		}},
		{"no transactions at all", func(c *synth.Config) { c.Transactions, c.Malformed = 0, 0 }},
		{"a single day with custom topics", func(c *synth.Config) {
			c.Start, c.End = day, day.Add(24*time.Hour)
			c.Customers, c.Transactions = 5, 500
			c.TransactionsTopic, c.ConsentTopic = "tx-test", "consent-test"
		}},
		{"empty topic names fall back to the defaults", func(c *synth.Config) {
			c.Customers, c.Transactions = 11, 110
			c.TransactionsTopic, c.ConsentTopic = "", ""
		}},
		{"a period of one night hour", func(c *synth.Config) {
			c.Start, c.End = day.Add(time.Hour), day.Add(2*time.Hour)
			c.Customers, c.Transactions = 2, 30
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := synth.DefaultConfig()
			tt.change(&cfg)
			got := count(t, cfg, collect(t, cfg))
			if got.valid != cfg.Transactions {
				t.Errorf("valid transactions = %d, want %d", got.valid, cfg.Transactions)
			}
			if got.malformed != cfg.Malformed {
				t.Errorf("malformed records = %d, want %d", got.malformed, cfg.Malformed)
			}
			if want := min(cfg.Customers, cfg.Transactions); len(got.customers) != want {
				t.Errorf("customers with transactions = %d, want %d", len(got.customers), want)
			}
			if got.consent == 0 {
				t.Error("no consent events")
			}
		})
	}
}

func TestEveryMalformedRecordFailsDecodingOnItsField(t *testing.T) {
	t.Parallel()
	cfg := synth.DefaultConfig()
	cfg.Malformed = 14
	fields := map[string]int{}
	reasons := map[string]bool{}
	for _, m := range collect(t, cfg) {
		if m.InvalidField == "" {
			continue
		}
		_, err := schemas.DecodeTransaction(m.Key, m.Value)
		var inv *schemas.InvalidError
		if !errors.As(err, &inv) {
			t.Fatalf("malformed record (%s) decodes: err = %v\n%s", m.InvalidField, err, m.Value)
		}
		if inv.Field != m.InvalidField {
			t.Errorf("malformed record fails on %q (%v), want %q", inv.Field, err, m.InvalidField)
		}
		fields[inv.Field]++
		reasons[inv.Reason] = true
	}
	for _, f := range []string{"value", "amount", "currency", "customer_id", "description", "booked_at"} {
		if fields[f] == 0 {
			t.Errorf("no malformed record fails on %s (got %v)", f, fields)
		}
	}
	for _, want := range []string{`more than 2 decimal places for GBP ("-12.345")`, `not a decimal string ("1e3")`, `not an active ISO 4217 code ("GBX")`} {
		if !reasons[want] {
			t.Errorf("no malformed record fails with %q", want)
		}
	}
}

func TestTheDefaultDataSetLooksLikeRealBanking(t *testing.T) {
	t.Parallel()
	cfg := synth.DefaultConfig()
	msgs := collect(t, cfg)

	type rec struct {
		tx        schemas.Transaction
		published time.Time
	}
	var recs []rec
	for _, m := range msgs {
		if m.Topic != cfg.TransactionsTopic || m.InvalidField != "" {
			continue
		}
		tx, err := schemas.DecodeTransaction(m.Key, m.Value)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		recs = append(recs, rec{tx, m.Time})
	}

	customers := map[string]bool{}
	currencies := map[string]int{}
	types := map[string]int{}
	mcc := map[string]string{}
	var unicode, pending, pendingWithBalance, late, prompt, offsetWritten int
	injections := map[byte]int{}
	for _, r := range recs {
		tx := r.tx
		customers[tx.CustomerID] = true
		currencies[tx.Currency]++
		types[tx.Type]++
		if tx.MerchantName != "" {
			mcc[tx.MerchantName] = tx.MerchantCode
		}
		if !isASCII(tx.Description) {
			unicode++
		}
		if strings.ContainsRune("=+-@", rune(tx.Description[0])) {
			injections[tx.Description[0]]++
		}
		if tx.Status == schemas.StatusPending {
			pending++
			if tx.HasBalance {
				pendingWithBalance++
			}
		}
		switch delay := r.published.Sub(tx.BookedAt); {
		case delay >= 24*time.Hour:
			late++
		case delay < time.Hour:
			prompt++
		}
		if !strings.HasPrefix(tx.AccountID, "A"+tx.CustomerID[1:]+"-") {
			t.Errorf("account %s does not belong to customer %s", tx.AccountID, tx.CustomerID)
		}
		checkSign(t, tx)
	}

	for i := 1; i <= cfg.Customers; i++ {
		if id := fmt.Sprintf("C%06d", i); !customers[id] {
			t.Errorf("customer %s has no transactions", id)
		}
	}
	if currencies["GBP"] < len(recs)*8/10 || currencies["EUR"] == 0 || currencies["USD"] == 0 {
		t.Errorf("currencies = %v, want mostly GBP and a few EUR and USD", currencies)
	}
	for _, typ := range []string{"POS", "DD", "SO", "BGC", "FPI", "FPO", "ATM", "CHG", "INT", "TFR"} {
		if types[typ] == 0 {
			t.Errorf("no %s transactions (types %v)", typ, types)
		}
	}
	if types["POS"] < len(recs)/2 {
		t.Errorf("card payments = %d of %d, want most", types["POS"], len(recs))
	}
	for name, code := range map[string]string{"Tesco": "5411", "Shell": "5541", "Netflix": "4899", "Trainline": "4112"} {
		if mcc[name] != code {
			t.Errorf("merchant %s has MCC %q, want %s", name, mcc[name], code)
		}
	}
	if unicode == 0 {
		t.Error("no description with non-ASCII text")
	}
	for _, c := range []byte("=+-@") {
		if injections[c] == 0 {
			t.Errorf("no description begins with %q (got %v)", c, injections)
		}
	}
	if pending == 0 || pending > len(recs)/50 {
		t.Errorf("pending = %d of %d, want a few", pending, len(recs))
	}
	if pendingWithBalance != 0 {
		t.Errorf("%d pending transactions carry a balance", pendingWithBalance)
	}
	if late == 0 || late > len(recs)/100 {
		t.Errorf("published a day or more late = %d of %d, want a few", late, len(recs))
	}
	if prompt < len(recs)*95/100 {
		t.Errorf("published within an hour = %d of %d, want nearly all", prompt, len(recs))
	}
	for _, r := range recs {
		if r.tx.BookedAt.Location() != time.UTC {
			t.Fatal("decoded booking time not in UTC")
		}
	}
	for _, m := range msgs {
		if strings.Contains(string(m.Value), `+01:00"`) {
			offsetWritten++
		}
	}
	if offsetWritten == 0 {
		t.Error("no booking time is written with an offset")
	}

	checkBalancesRun(t, recsTx(recs, func(r rec) schemas.Transaction { return r.tx }))
	checkMonthly(t, recsTx(recs, func(r rec) schemas.Transaction { return r.tx }), cfg)
}

func recsTx[R any](rs []R, f func(R) schemas.Transaction) []schemas.Transaction {
	out := make([]schemas.Transaction, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// checkSign checks that the amount's direction fits the type.
func checkSign(t *testing.T, tx schemas.Transaction) {
	t.Helper()
	want := map[string]int{"DD": -1, "SO": -1, "ATM": -1, "FPO": -1, "CHG": -1, "BGC": 1, "FPI": 1, "INT": 1}[tx.Type]
	if want != 0 && tx.Amount.Sign() != want {
		t.Errorf("%s %s amount %s has the wrong sign", tx.TransactionID, tx.Type, tx.Amount)
	}
	if tx.Type == "POS" && tx.Amount.Sign() > 0 && !strings.HasPrefix(tx.Description, "REFUND ") {
		t.Errorf("%s card payment %s is money in but not a refund", tx.TransactionID, tx.Amount)
	}
	if tx.Type == "ATM" && tx.Amount.Units%1000 != 0 {
		t.Errorf("%s cash withdrawal %s is not a multiple of 10", tx.TransactionID, tx.Amount)
	}
}

// checkBalancesRun checks that each account's balance_after moves by the
// amount of each booked transaction, in the order the bank booked them
// (transaction ids number a customer's transactions in that order).
func checkBalancesRun(t *testing.T, txs []schemas.Transaction) {
	t.Helper()
	byAccount := map[string][]schemas.Transaction{}
	for _, tx := range txs {
		if tx.Status == schemas.StatusBooked {
			byAccount[tx.AccountID] = append(byAccount[tx.AccountID], tx)
		}
	}
	checked := 0
	for acct, list := range byAccount {
		slices.SortFunc(list, func(a, b schemas.Transaction) int { return strings.Compare(a.TransactionID, b.TransactionID) })
		for i := 1; i < len(list); i++ {
			prev, cur := list[i-1], list[i]
			if !prev.HasBalance || !cur.HasBalance {
				t.Fatalf("%s: booked transaction without a balance", acct)
			}
			if cur.BookedAt.Before(prev.BookedAt) {
				t.Errorf("%s: %s booked before %s", acct, cur.TransactionID, prev.TransactionID)
			}
			if prev.BalanceAfter.Units+cur.Amount.Units != cur.BalanceAfter.Units {
				t.Fatalf("%s: %s balance %s + %s != %s (%s)", acct, prev.TransactionID, prev.BalanceAfter, cur.Amount, cur.BalanceAfter, cur.TransactionID)
			}
			checked++
		}
	}
	if checked < len(txs)/2 {
		t.Errorf("checked %d balance steps of %d transactions", checked, len(txs))
	}
}

// checkMonthly checks that salaries come once a month and that direct
// debits repeat monthly.
func checkMonthly(t *testing.T, txs []schemas.Transaction, cfg synth.Config) {
	t.Helper()
	months := map[string]map[time.Month]int{} // customer → month → salaries
	dds := map[string]map[time.Month]bool{}   // customer+description → months
	for _, tx := range txs {
		switch tx.Type {
		case "BGC":
			if months[tx.CustomerID] == nil {
				months[tx.CustomerID] = map[time.Month]int{}
			}
			months[tx.CustomerID][tx.BookedAt.Month()]++
		case "DD":
			k := tx.CustomerID + "|" + tx.Description
			if dds[k] == nil {
				dds[k] = map[time.Month]bool{}
			}
			dds[k][tx.BookedAt.Month()] = true
		}
	}
	if len(months) < cfg.Customers*9/10 {
		t.Errorf("%d of %d customers have an income", len(months), cfg.Customers)
	}
	for c, ms := range months {
		for m, n := range ms {
			if n != 1 {
				t.Errorf("customer %s has %d salaries in %s", c, n, m)
			}
		}
		if len(ms) != 6 {
			t.Errorf("customer %s is paid in %d of 6 months", c, len(ms))
		}
	}
	monthly := 0
	for _, ms := range dds {
		if len(ms) >= 4 { // council tax skips two months
			monthly++
		}
	}
	if monthly < len(dds)*9/10 {
		t.Errorf("%d of %d direct debits repeat monthly", monthly, len(dds))
	}
}

func TestEveryConsentCaseAppears(t *testing.T) {
	t.Parallel()
	cfg := synth.DefaultConfig()
	type event struct {
		ev        schemas.ConsentEvent
		tombstone bool
	}
	byKey := map[string][]event{}
	ids := map[string]string{}
	for _, m := range collect(t, cfg) {
		if m.Topic != cfg.ConsentTopic {
			continue
		}
		ev, tomb, err := schemas.DecodeConsentEvent(m.Key, m.Value)
		if err != nil {
			t.Fatalf("decode consent %s: %v", m.Key, err)
		}
		if !tomb && !ev.EventTime.Before(cfg.End) {
			t.Errorf("consent %s event_time %v is not before the end %v", m.Key, ev.EventTime, cfg.End)
		}
		if !tomb && ev.Status == schemas.ConsentGranted {
			if other, dup := ids[ev.ConsentID]; dup {
				t.Errorf("consent id %s granted twice (%s and %s)", ev.ConsentID, other, m.Key)
			}
			ids[ev.ConsentID] = string(m.Key)
			if !strings.HasPrefix(ev.ConsentID, "K-") {
				t.Errorf("consent id %q is not K-<n>", ev.ConsentID)
			}
		}
		byKey[string(m.Key)] = append(byKey[string(m.Key)], event{ev, tomb})
	}

	var selfGrants, revoked, expired, windowed, openWindow, tombstones, regranted, noTransactions int
	partners := map[schemas.Recipient]int{}
	limits := map[schemas.Category]int{}
	for key, evs := range byKey {
		last := evs[len(evs)-1]
		first := evs[0]
		switch {
		case strings.HasSuffix(key, "|self"):
			if first.ev.Status == schemas.ConsentGranted && first.ev.Categories == schemas.AllCategories {
				selfGrants++
			}
		default:
			partners[first.ev.Recipient]++
		}
		if last.tombstone {
			tombstones++
			if len(evs) < 2 || evs[len(evs)-2].ev.Status != schemas.ConsentGranted {
				t.Errorf("tombstone on %s does not follow a grant", key)
			}
			continue
		}
		st := last.ev
		if len(evs) > 1 && first.ev.Status == schemas.ConsentGranted && st.Status == schemas.ConsentRevoked && st.EventTime.After(first.ev.EventTime) {
			revoked++
		}
		if len(evs) > 1 && st.Status == schemas.ConsentGranted && first.ev.Categories != st.Categories {
			regranted++
		}
		if st.Status != schemas.ConsentGranted || strings.HasSuffix(key, "|self") {
			continue
		}
		if !st.ExpiresAt.IsZero() && st.ExpiresAt.Before(cfg.End) {
			expired++
		}
		inPeriod := func(tm time.Time) bool { return !tm.Before(cfg.Start) && tm.Before(cfg.End) }
		if inPeriod(st.WindowFrom) && inPeriod(st.WindowTo) {
			windowed++
		}
		if inPeriod(st.WindowFrom) && st.WindowTo.IsZero() {
			openWindow++
		}
		if !st.Categories.Has(schemas.Transactions) {
			noTransactions++
		}
		limits[st.Categories]++
	}

	if selfGrants < cfg.Customers*8/10 {
		t.Errorf("self grants = %d of %d customers, want most", selfGrants, cfg.Customers)
	}
	if partners["partner:pds-one"] == 0 || partners["partner:pds-two"] == 0 {
		t.Errorf("partner keys = %v, want both pds-one and pds-two", partners)
	}
	for name, n := range map[string]int{"revoked": revoked, "expired": expired, "windowed": windowed,
		"open-ended window": openWindow, "re-granted": regranted, "without transactions": noTransactions} {
		if n == 0 {
			t.Errorf("no %s partner consent", name)
		}
	}
	if tombstones != 1 {
		t.Errorf("tombstones = %d, want exactly one", tombstones)
	}
	for _, c := range []schemas.Category{schemas.Transactions, schemas.Transactions | schemas.Merchant, schemas.AllCategories} {
		if limits[c] == 0 {
			t.Errorf("no partner grant limited to %s (got %v)", c, limits)
		}
	}
}

func TestGenerateStopsAtTheFirstEmitError(t *testing.T) {
	t.Parallel()
	stop := errors.New("disk full")
	n := 0
	err := synth.Generate(synth.DefaultConfig(), func(synth.Message) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Generate error = %v, want one wrapping %v", err, stop)
	}
	if n != 10 {
		t.Errorf("emit called %d times, want 10", n)
	}
}

func TestConfigValidateRejectsUnusableSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(c *synth.Config)
		want   string
	}{
		{"zero customers", func(c *synth.Config) { c.Customers = 0 }, "customers"},
		{"a million customers", func(c *synth.Config) { c.Customers = 1_000_000 }, "customers"},
		{"negative transactions", func(c *synth.Config) { c.Transactions = -1 }, "transactions"},
		{"negative malformed", func(c *synth.Config) { c.Malformed = -1 }, "malformed"},
		{"malformed records without transactions", func(c *synth.Config) { c.Transactions = 0 }, "malformed"},
		{"no start", func(c *synth.Config) { c.Start = time.Time{} }, "start and end"},
		{"end before start", func(c *synth.Config) { c.Start, c.End = c.End, c.Start }, "not before end"},
		{"a period under an hour", func(c *synth.Config) { c.End = c.Start.Add(59 * time.Minute) }, "shorter than one hour"},
	}
	if err := synth.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := synth.DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error about %q", err, tt.want)
			}
			if genErr := synth.Generate(cfg, func(synth.Message) error { return nil }); genErr == nil {
				t.Error("Generate accepted the invalid config")
			}
		})
	}
}

func TestDefaultConfigIsTheDocumentedOne(t *testing.T) {
	t.Parallel()
	cfg := synth.DefaultConfig()
	end := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	if cfg.Customers != 120 || cfg.Transactions != 24_000 || cfg.Malformed != 12 ||
		!cfg.End.Equal(end) || !cfg.Start.Equal(end.AddDate(0, -6, 0)) ||
		cfg.TransactionsTopic != "transactions" || cfg.ConsentTopic != "midata.consent" {
		t.Errorf("DefaultConfig() = %+v", cfg)
	}
}

func TestGenerateMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 150,000 transactions; skipped with -short")
	}
	cfg := synth.DefaultConfig()
	cfg.Transactions = 150_000
	var first, peak uint64
	var ms runtime.MemStats
	n, bytes := 0, 0
	if err := synth.Generate(cfg, func(m synth.Message) error {
		n++
		bytes += len(m.Value)
		if n%10_000 == 0 {
			// The live heap: what the generator holds on to.
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if first == 0 {
				first = ms.HeapAlloc
			}
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The stream is ~40 MB; holding any share of it would show as growth.
	if growth := int64(peak) - int64(first); growth > 2<<20 {
		t.Errorf("live heap grew by %d KB (from %d KB to %d KB) while generating %d MB of records",
			growth>>10, first>>10, peak>>10, bytes>>20)
	}
	t.Logf("live heap %d KB after 10,000 messages, at most %d KB over %d messages (%d MB)", first>>10, peak>>10, n, bytes>>20)
}

// TestPlannedPaymentsAreInTheDataSet checks the oracle PlannedPayments
// against what Generate writes: each planned time is one booked
// transaction of the customer's account with the planned type,
// description, merchant and (unless it varies) amount; and the default
// data set has every kind of known recurring payment and one-off.
func TestPlannedPaymentsAreInTheDataSet(t *testing.T) {
	t.Parallel()
	for _, cfg := range []synth.Config{synth.DefaultConfig(), func() synth.Config {
		c := synth.DefaultConfig()
		c.Customers, c.Transactions = 8, 8*1200
		c.Start, c.End = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		return c
	}()} {
		planned, err := synth.PlannedPayments(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := synth.PlannedPayments(cfg)
		if fmt.Sprint(again) != fmt.Sprint(planned) {
			t.Fatal("PlannedPayments differs between two calls")
		}
		type slot struct {
			customer, account, typ, desc string
			at                           time.Time
		}
		got := map[slot][]schemas.Transaction{}
		for _, m := range collect(t, cfg) {
			if m.Topic != cfg.TransactionsTopic || m.InvalidField != "" {
				continue
			}
			tx, err := schemas.DecodeTransaction(m.Key, m.Value)
			if err != nil {
				t.Fatal(err)
			}
			k := slot{tx.CustomerID, tx.AccountID, tx.Type, tx.Description, tx.BookedAt}
			got[k] = append(got[k], tx)
		}
		kinds := map[string]int{}
		for _, p := range planned {
			if len(p.Times) == 0 {
				continue
			}
			kinds[string(p.Cadence)+" "+p.Type]++
			if !slices.IsSortedFunc(p.Times, func(a, b time.Time) int { return a.Compare(b) }) {
				t.Errorf("%s %s: times not ascending", p.CustomerID, p.Description)
			}
			for _, at := range p.Times {
				if at.Before(cfg.Start) || !at.Before(cfg.End) {
					t.Errorf("%s %s at %v: outside the period", p.CustomerID, p.Description, at)
				}
				txs := got[slot{p.CustomerID, p.AccountID, p.Type, p.Description, at}]
				if len(txs) != 1 {
					t.Errorf("%s %s %q at %v: %d transactions, want 1", p.CustomerID, p.Type, p.Description, at, len(txs))
					continue
				}
				tx := txs[0]
				if tx.Status != schemas.StatusBooked || tx.Currency != p.Currency || tx.MerchantName != p.MerchantName || tx.MerchantCode != p.MCC {
					t.Errorf("%s %s at %v: %+v does not match the plan %+v", p.CustomerID, p.Description, at, tx, p)
				}
				if !p.Varies && tx.Amount.Units != p.Amount {
					t.Errorf("%s %s at %v: amount %s, planned %d minor units", p.CustomerID, p.Description, at, tx.Amount, p.Amount)
				}
			}
			if p.Cadence == synth.Once && len(p.Times) != 1 {
				t.Errorf("one-off %s %s at %d times", p.CustomerID, p.Description, len(p.Times))
			}
		}
		for _, k := range []string{"weekly SO", "monthly DD", "monthly POS", "quarterly DD", "once POS"} {
			if kinds[k] == 0 {
				t.Errorf("no planned %s payment in the data set (got %v)", k, kinds)
			}
		}
		if cfg.End.Sub(cfg.Start) > 2*366*24*time.Hour && kinds["yearly DD"] == 0 {
			t.Errorf("no yearly direct debit in three years (got %v)", kinds)
		}
	}
	if _, err := synth.PlannedPayments(synth.Config{}); err == nil {
		t.Error("PlannedPayments accepted an invalid config")
	}
}
