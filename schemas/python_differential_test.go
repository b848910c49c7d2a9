package schemas

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// pythonReader is an independent reader of the same bytes: Python's json
// module, which matches names exactly and keeps the last of two. For each
// input (base64, one per line) it prints what it sees: whether the value
// is a JSON object, whether an object of the contract repeats a name or
// has one that case-folds (str.casefold) onto a field without being it,
// and the fields' string values.
const pythonReader = `
import base64, json, sys
FIELDS = %s
NESTED = "%s"
def hook(ps):
    # every object, innermost first: its pairs, none folded or dropped
    names = [k for k, _ in ps]
    bad = len(set(names)) != len(names)
    for k in names:
        for f in FIELDS:
            if k != f and k.casefold() == f.casefold():
                bad = True
    return {"__pairs": ps, "__bad": bad}
def walk(obj, top):
    # only the contract's objects count: the top one, and NESTED in it
    bad, out = obj["__bad"], {}
    for k, v in obj["__pairs"]:
        if top and k == NESTED and isinstance(v, dict):
            b, inner = walk(v, False)
            bad = bad or b
            out[k] = inner
        elif isinstance(v, str) or v is None:
            out[k] = v
        else:
            out[k] = "<other>"
    return bad, out
for line in sys.stdin:
    res = {"object": False}
    try:
        top = json.loads(base64.b64decode(line.strip()).decode("utf-8"), object_pairs_hook=hook)
    except Exception:
        top = None
    if isinstance(top, dict):
        res["object"] = True
        res["bad"], res["fields"] = walk(top, True)
    print(json.dumps(res))
`

// pyView is what pythonReader prints for one input.
type pyView struct {
	Object bool           `json:"object"`
	Bad    bool           `json:"bad"`
	Fields map[string]any `json:"fields"`
}

// TestStrictDecodersAgreeWithPython: for thousands of variants of the
// contract's examples (names in other cases, Unicode folds, escapes,
// repeats, unknown names), wherever midata accepts a transaction, Python
// reads the same value for every contract field and sees no repeated or
// folded name; wherever Python sees one, midata refuses the record.
func TestStrictDecodersAgreeWithPython(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	var inputs [][]byte
	for range 4000 {
		inputs = append(inputs, mutateTransaction(rng))
	}
	// A name of the top object is never a merchant field and the other way
	// round, so checking each object against both lists is as strict.
	views := pythonViews(t, inputs, append(append([]string{}, transactionNames.fields...), merchantNames.fields...), "merchant")
	accepted, refused := 0, 0
	for i, py := range views {
		in := inputs[i]
		tr, err := DecodeTransaction([]byte("C000123"), in)
		if err != nil {
			refused++
			continue
		}
		accepted++
		if !py.Object || py.Bad {
			t.Errorf("midata accepted %s; Python sees object=%v, a repeated or folded name=%v", in, py.Object, py.Bad)
			continue
		}
		want := map[string]string{"transaction_id": tr.TransactionID, "customer_id": tr.CustomerID,
			"account_id": tr.AccountID, "amount": tr.Amount.String(), "currency": tr.Currency,
			"description": tr.Description, "type": tr.Type}
		for name, got := range want {
			v, _ := py.Fields[name].(string)
			if v != got {
				t.Errorf("%s: midata reads %s = %q, Python %q", in, name, got, v)
			}
		}
		if s, _ := py.Fields["status"].(string); s != "" && s != string(tr.Status) {
			t.Errorf("%s: midata reads status %q, Python %q", in, tr.Status, s)
		}
		if m, ok := py.Fields["merchant"].(map[string]any); ok {
			if name, _ := m["name"].(string); name != tr.MerchantName {
				t.Errorf("%s: midata reads merchant.name %q, Python %q", in, tr.MerchantName, name)
			}
		}
	}
	t.Logf("accepted %d, refused %d", accepted, refused)
	// Both kinds occur, or the mutations test nothing.
	if accepted < 100 || refused < 100 {
		t.Fatalf("accepted %d, refused %d of %d: the variants are too one-sided", accepted, refused, len(inputs))
	}
}

// pair is one name and its raw JSON value.
type pair struct {
	name string
	raw  string
}

// mutateTransaction returns a variant of the contract example.
func mutateTransaction(rng *rand.Rand) []byte {
	top := []pair{{"transaction_id", `"T1"`}, {"customer_id", `"C000123"`}, {"account_id", `"A1"`},
		{"booked_at", `"2026-03-04T10:15:00Z"`}, {"amount", `"-12.34"`}, {"currency", `"GBP"`},
		{"status", `"booked"`}, {"type", `"POS"`}, {"description", `"TESCO"`}, {"balance_after", `"1.00"`}}
	merchant := []pair{{"name", `"Tesco"`}, {"category_code", `"5411"`}}
	for range 1 + rng.IntN(3) {
		list := &top
		if rng.IntN(4) == 0 {
			list = &merchant
		}
		l := *list
		i := rng.IntN(len(l))
		switch rng.IntN(6) {
		case 0: // another case for one letter of a name
			l[i].name = flipCase(rng, l[i].name)
		case 1: // the name again, with another value
			*list = append(l, pair{l[i].name, otherValue(rng, l[i].name)})
		case 2: // a case variant added, with another value
			*list = append(l, pair{flipCase(rng, l[i].name), otherValue(rng, l[i].name)})
		case 3: // a letter spelled as an escape (the same name)
			n := l[i].name
			j := rng.IntN(len(n))
			l[i].name = n[:j] + fmt.Sprintf(`\u%04x`, n[j]) + n[j+1:]
		case 4: // a Unicode fold: ſ for s, K (Kelvin) for k
			n := l[i].name
			n = strings.Replace(n, "s", "ſ", 1)
			n = strings.Replace(n, "k", "\u212a", 1)
			*list = append(l, pair{n, otherValue(rng, l[i].name)})
		case 5: // an unknown name
			*list = append(l, pair{fmt.Sprintf("x%d", rng.IntN(3)), `"u"`})
		}
	}
	rng.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	var b strings.Builder
	write := func(ps []pair) {
		for k, p := range ps {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + p.name + `":` + p.raw)
		}
	}
	b.WriteByte('{')
	write(top)
	b.WriteString(`,"merchant":{`)
	write(merchant)
	b.WriteString(`}}`)
	return []byte(b.String())
}

// flipCase changes the case of one letter of name.
func flipCase(rng *rand.Rand, name string) string {
	r := []rune(name)
	for range 8 {
		i := rng.IntN(len(r))
		if unicode.IsLetter(r[i]) {
			r[i] = unicode.ToUpper(r[i])
			return string(r)
		}
	}
	return strings.ToUpper(name)
}

// otherValue is a valid value for field that differs from the example's.
func otherValue(rng *rand.Rand, field string) string {
	switch field {
	case "status":
		return `"pending"`
	case "amount", "balance_after":
		return fmt.Sprintf(`"%d.00"`, 1+rng.IntN(99))
	case "currency":
		return `"EUR"`
	case "customer_id":
		return `"C000123"`
	case "category_code":
		return `"1234"`
	}
	return fmt.Sprintf(`"v%d"`, rng.IntN(100))
}

// pythonViews runs pythonReader over inputs (fields: the contract's names,
// nested: the name of the nested contract object, "" for none) and returns
// what Python sees of each.
func pythonViews(t *testing.T, inputs [][]byte, fields []string, nested string) []pyView {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the independent reader of this test")
	}
	names, _ := json.Marshal(fields)
	path := filepath.Join(t.TempDir(), "reader.py")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(pythonReader, names, nested)), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdin bytes.Buffer
	for _, in := range inputs {
		stdin.WriteString(base64.StdEncoding.EncodeToString(in) + "\n")
	}
	cmd := exec.Command(python, path)
	cmd.Stdin = &stdin
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var views []pyView
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var py pyView
		if err := json.Unmarshal(sc.Bytes(), &py); err != nil {
			t.Fatalf("python output %d: %v", len(views), err)
		}
		views = append(views, py)
	}
	if len(views) != len(inputs) {
		t.Fatalf("python answered %d of %d inputs", len(views), len(inputs))
	}
	return views
}

// TestStrictConsentDecoderAgreesWithPython is the same for consent events:
// wherever midata accepts one, Python reads the same status, customer,
// recipient and consent id and sees no repeated or folded name.
func TestStrictConsentDecoderAgreesWithPython(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 11))
	var inputs [][]byte
	for range 3000 {
		inputs = append(inputs, mutateConsent(rng))
	}
	views := pythonViews(t, inputs, consentNames.fields, "")
	accepted, refused := 0, 0
	for i, py := range views {
		ev, _, err := DecodeConsentEvent([]byte("C1|self"), inputs[i])
		if err != nil {
			refused++
			continue
		}
		accepted++
		if !py.Object || py.Bad {
			t.Errorf("midata accepted %s; Python sees object=%v, a repeated or folded name=%v", inputs[i], py.Object, py.Bad)
			continue
		}
		for name, got := range map[string]string{"status": string(ev.Status), "customer_id": ev.CustomerID, "recipient": string(ev.Recipient), "consent_id": ev.ConsentID} {
			if v, _ := py.Fields[name].(string); v != got {
				t.Errorf("%s: midata reads %s = %q, Python %q", inputs[i], name, got, v)
			}
		}
	}
	t.Logf("accepted %d, refused %d", accepted, refused)
	if accepted < 100 || refused < 100 {
		t.Fatalf("accepted %d, refused %d of %d: the variants are too one-sided", accepted, refused, len(inputs))
	}
}

// mutateConsent returns a variant of a revoked consent event: a variant
// that midata reads as granted would be the finding itself.
func mutateConsent(rng *rand.Rand) []byte {
	top := []pair{{"consent_id", `"K-1"`}, {"customer_id", `"C1"`}, {"recipient", `"self"`}, {"status", `"revoked"`},
		{"categories", `["transactions"]`}, {"window_from", `null`}, {"expires_at", `"2099-01-01T00:00:00Z"`},
		{"event_time", `"2026-01-01T00:00:00Z"`}, {"actor", `"customer"`}}
	for range 1 + rng.IntN(3) {
		i := rng.IntN(len(top))
		switch rng.IntN(5) {
		case 0:
			top[i].name = flipCase(rng, top[i].name)
		case 1:
			top = append(top, pair{top[i].name, consentOther(top[i].name)})
		case 2:
			top = append(top, pair{flipCase(rng, top[i].name), consentOther(top[i].name)})
		case 3:
			n := top[i].name
			j := rng.IntN(len(n))
			top[i].name = n[:j] + fmt.Sprintf(`\u%04x`, n[j]) + n[j+1:]
		case 4:
			n := strings.Replace(strings.Replace(top[i].name, "s", "ſ", 1), "k", "\u212a", 1)
			top = append(top, pair{n, consentOther(top[i].name)})
		}
	}
	rng.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	var b strings.Builder
	b.WriteByte('{')
	for k, p := range top {
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + p.name + `":` + p.raw)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// consentOther is a valid value of field other than the base event's.
func consentOther(field string) string {
	switch field {
	case "status":
		return `"granted"`
	case "categories":
		return `["transactions","merchant"]`
	case "customer_id":
		return `"C1"`
	case "recipient":
		return `"self"`
	case "actor":
		return `"ops"`
	}
	if strings.HasSuffix(field, "_at") || strings.HasSuffix(field, "_time") || strings.HasPrefix(field, "window") {
		return `"2026-06-01T00:00:00Z"`
	}
	return `"K-2"`
}
