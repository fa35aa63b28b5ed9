package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gallerist/gallerist/server"
)

// TestOpenAPIUpToDate fails when the committed openapi.json differs from what the route
// table and the Go types generate.
func TestOpenAPIUpToDate(t *testing.T) {
	want, err := server.Spec()
	if err != nil {
		t.Fatalf("build spec: %v", err)
	}
	got, err := os.ReadFile("../openapi.json")
	if err != nil {
		t.Fatalf("read committed openapi.json: %v (run make openapi)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("openapi.json is stale: run make openapi and commit the result")
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(want, &doc); err != nil {
		t.Fatalf("spec is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	for _, r := range server.RouteTable() {
		if r.Hidden {
			continue // HTML pages and the HTML reference are not API operations
		}
		p := param.ReplaceAllString(r.Path, "{$1}")
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is missing from the spec", r.Method, p)
		}
	}
}

// TestErrorCodesDocumented checks that every code of the catalog is in docs/errors.md and
// in openapi.json, and that every code a route declares is in the catalog.
func TestErrorCodesDocumented(t *testing.T) {
	docs, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatalf("read docs/errors.md: %v", err)
	}
	spec, err := os.ReadFile("../openapi.json")
	if err != nil {
		t.Fatalf("read openapi.json: %v", err)
	}
	for _, code := range server.CodeList() {
		if !bytes.Contains(docs, []byte("`"+code+"`")) {
			t.Errorf("docs/errors.md does not list `%s`", code)
		}
		if !bytes.Contains(spec, []byte(code)) {
			t.Errorf("openapi.json does not mention %s", code)
		}
	}
	for _, r := range server.RouteTable() {
		for _, c := range r.Errors {
			if _, ok := server.Codes[c]; !ok {
				t.Errorf("%s %s declares unknown code %q", r.Method, r.Path, c)
			}
		}
	}
}

// TestConfigDocumented checks that docs/configuration.md lists every variable.
func TestConfigDocumented(t *testing.T) {
	docs, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatalf("read docs/configuration.md: %v", err)
	}
	for _, v := range server.EnvVars() {
		if !bytes.Contains(docs, []byte("`"+v+"`")) {
			t.Errorf("docs/configuration.md does not list `%s`", v)
		}
	}
}
