package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gallerist/gallerist"

// TestDependencyDirection keeps ARCHITECTURE.md's picture true: cmd → server/* →
// storage, media, web; storage/blob and media import nothing of the project; storage
// imports storage/blob at most; only cmd/gallerist imports server; server's subpackages
// never import server.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		pkg := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if !allowed(pkg, dep) {
				t.Errorf("%s must not import %s", pkg, dep)
			}
		}
	}
	if seen < 6 {
		t.Fatalf("go list saw only %d packages", seen)
	}
}

func allowed(pkg, dep string) bool {
	under := func(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }
	switch {
	case under(pkg, "media"):
		return under(dep, "media") && pkg != "media" // only media/mediatest may import media
	case pkg == "storage/blob":
		return false
	case pkg == "storage":
		return dep == "storage/blob"
	case under(pkg, "web"):
		return false
	case pkg == "server":
		return !under(dep, "cmd")
	case under(pkg, "server"):
		return dep != "server" && !under(dep, "cmd")
	case under(pkg, "cmd"), under(pkg, "bench"):
		return true
	}
	return false
}
