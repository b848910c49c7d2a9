package api

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/api/custody"
	"github.com/midata/midata/pipeline/api/wire"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/quarantine"
	"github.com/midata/midata/schemas"
)

// openapiDocument is the part of an OpenAPI document the tests read.
type openapiDocument struct {
	OpenAPI    string                                `json:"openapi"`
	Info       struct{ Title, Version string }       `json:"info"`
	Security   []map[string][]string                 `json:"security"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]struct{ Type, Scheme string } `json:"securitySchemes"`
		Schemas         map[string]struct {
			Properties           map[string]json.RawMessage `json:"properties"`
			Required             []string                   `json:"required"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
		} `json:"schemas"`
	} `json:"components"`
}

type openapiOperation struct {
	OperationID string                 `json:"operationId"`
	Roles       []Role                 `json:"x-roles"`
	Security    *[]map[string][]string `json:"security"`
	Parameters  []struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	Responses map[string]json.RawMessage `json:"responses"`
}

func readDocument(t *testing.T) (openapiDocument, []byte) {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(raw) {
		t.Fatal("openapi.json is not valid JSON")
	}
	var doc openapiDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decode openapi.json: %v", err)
	}
	return doc, raw
}

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

func TestTheOpenAPIDocumentIsWellFormed(t *testing.T) {
	doc, raw := readDocument(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	if doc.Info.Title == "" || doc.Info.Version == "" {
		t.Errorf("info %+v: want a title and a version", doc.Info)
	}
	if len(doc.Paths) == 0 {
		t.Fatal("no paths")
	}
	if s := doc.Components.SecuritySchemes["bearer"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("security scheme bearer %+v, want http bearer", s)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("security %v, want bearer by default", doc.Security)
	}
	// Every $ref points at something in the document.
	var all any
	_ = json.Unmarshal(raw, &all)
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		node := all
		for _, part := range strings.Split(strings.TrimPrefix(ref[1], "#/"), "/") {
			m, ok := node.(map[string]any)
			if !ok {
				node = nil
				break
			}
			node = m[part]
		}
		if node == nil {
			t.Errorf("$ref %s points at nothing", ref[1])
		}
	}
}

func TestEveryRouteIsInTheOpenAPIDocument(t *testing.T) {
	doc, _ := readDocument(t)
	routes := newHarness(t).api.Routes()
	inRoutes := map[string]bool{}
	for _, rt := range routes {
		key := strings.ToLower(rt.Method) + " " + rt.Pattern
		inRoutes[key] = true
		item, ok := doc.Paths[rt.Pattern]
		if !ok {
			t.Errorf("route %s %s: path not in openapi.json", rt.Method, rt.Pattern)
			continue
		}
		rawOp, ok := item[strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("route %s %s: method not in openapi.json", rt.Method, rt.Pattern)
			continue
		}
		var op openapiOperation
		if err := json.Unmarshal(rawOp, &op); err != nil {
			t.Fatalf("%s %s: %v", rt.Method, rt.Pattern, err)
		}
		if op.OperationID == "" {
			t.Errorf("%s %s has no operationId", rt.Method, rt.Pattern)
		}
		if !slices.Equal(op.Roles, rt.Roles) {
			t.Errorf("%s %s: x-roles %q, Routes says %q", rt.Method, rt.Pattern, op.Roles, rt.Roles)
		}
		public := len(rt.Roles) == 0
		if public != (op.Security != nil && len(*op.Security) == 0) {
			t.Errorf("%s %s: public %t but security %v", rt.Method, rt.Pattern, public, op.Security)
		}
		if !public {
			for _, code := range []string{"401", "403"} {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s %s does not document %s", rt.Method, rt.Pattern, code)
				}
			}
		}
		var pathParams []string
		var item0 struct {
			Parameters []struct {
				Ref string `json:"$ref"`
			} `json:"parameters"`
		}
		if raw, ok := item["parameters"]; ok {
			_ = json.Unmarshal(raw, &item0.Parameters)
		}
		for _, p := range item0.Parameters {
			if p.Ref == "#/components/parameters/ID" {
				pathParams = append(pathParams, "id")
			}
		}
		for _, p := range op.Parameters {
			if p.In == "path" {
				pathParams = append(pathParams, p.Name)
			}
		}
		for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(rt.Pattern, -1) {
			if !slices.Contains(pathParams, m[1]) {
				t.Errorf("%s %s: path parameter %s is not declared", rt.Method, rt.Pattern, m[1])
			}
		}
	}
	for path, item := range doc.Paths {
		for key := range item {
			if !slices.Contains(methods, key) {
				continue
			}
			if !inRoutes[key+" "+path] {
				t.Errorf("openapi.json has %s %s, which is not in Routes", strings.ToUpper(key), path)
			}
		}
	}
}

func TestTheOpenAPISchemasMatchTheGoTypes(t *testing.T) {
	doc, _ := readDocument(t)
	tests := []struct {
		schema string
		typ    any
	}{
		{"Error", ErrorBody{}},
		{"Run", RunView{}},
		{"Release", ReleaseView{}},
		{"Request", jobs.Request{}},
		{"Scope", schemas.Scope{}},
		{"Progress", jobs.Progress{}},
		{"Counts", jobs.Counts{}},
		{"ReleaseList", ReleaseList{}},
		{"Link", pipeline.Link{}},
		{"RunList", RunList{}},
		{"Schedule", Schedule{}},
		{"ScheduleList", ScheduleList{}},
		{"ScheduleRequest", ScheduleRequest{}},
		{"CustomerReleaseRequest", CustomerReleaseRequest{}},
		{"ReleaseRequest", ReleaseRequest{}},
		{"GrantChange", GrantChange{}},
		{"Grant", Grant{}},
		{"GrantList", GrantList{}},
		{"Bundle", wire.Bundle{}},
		{"BundleList", wire.BundleList{}},
		{"BundleLink", wire.BundleLink{}},
		{"LinkInfo", custody.LinkInfo{}},
		{"LinkList", custody.LinkList{}},
		{"Download", activity.Download{}},
		{"DownloadList", custody.DownloadList{}},
		{"Delivery", activity.Delivery{}},
		{"DeliveryList", custody.DeliveryList{}},
		{"Revocation", activity.Revocation{}},
		{"Deletion", activity.Deletion{}},
		{"QuarantineSummary", quarantine.Summary{}},
		{"QuarantineKind", quarantine.Kind{}},
		{"QuarantineRecord", quarantine.Record{}},
		{"Recall", activity.Recall{}},
		{"ConsentRef", jobs.ConsentRef{}},
		{"EventAt", jobs.EventAt{}},
		{"FileRef", jobs.FileRef{}},
		{"Audit", custody.Audit{}},
		{"AuditRelease", custody.AuditRelease{}},
		{"AuditConsent", custody.AuditConsent{}},
		{"AuditDownload", custody.AuditDownload{}},
	}
	for _, tt := range tests {
		t.Run(tt.schema+" has the fields of its Go type", func(t *testing.T) {
			s, ok := doc.Components.Schemas[tt.schema]
			if !ok {
				t.Fatalf("no schema %s", tt.schema)
			}
			got := slices.Sorted(maps.Keys(s.Properties))
			want := jsonNames(reflect.TypeOf(tt.typ))
			if !slices.Equal(got, want) {
				t.Errorf("properties %q, the Go type has %q", got, want)
			}
			for _, r := range s.Required {
				if !slices.Contains(want, r) {
					t.Errorf("required %q is not a field", r)
				}
			}
		})
	}
	for _, name := range []string{"ScheduleRequest", "CustomerReleaseRequest", "ReleaseRequest", "GrantChange"} {
		if ap := doc.Components.Schemas[name].AdditionalProperties; ap == nil || *ap {
			t.Errorf("%s: want additionalProperties false, as the API refuses unknown fields", name)
		}
	}
}

// jsonNames lists the JSON names encoding/json gives t's fields, embedded
// structs flattened, sorted.
func jsonNames(t reflect.Type) []string {
	names := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && tag == "" {
				walk(f.Type)
				continue
			}
			if !f.IsExported() || tag == "-" {
				continue
			}
			if tag == "" {
				tag = f.Name
			}
			names[tag] = true
		}
	}
	walk(t)
	return slices.Sorted(maps.Keys(names))
}

func TestTheServedDocumentIsTheFile(t *testing.T) {
	h := newHarness(t)
	_, raw := readDocument(t)
	rec := h.do(t, "GET", "/openapi.json", "", nil)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), raw) || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET /openapi.json: %d, %d bytes, %q; want 200 and the file's %d bytes", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Type"), len(raw))
	}
	if !bytes.Equal(OpenAPI(), raw) {
		t.Error("OpenAPI() is not the file")
	}
}
