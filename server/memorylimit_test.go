package server_test

import (
	"strings"
	"testing"

	"github.com/gallerist/gallerist/server"
)

func TestMemoryLimitFromConfig(t *testing.T) {
	c := server.DefaultConfig()
	// The default: 64 MiB for the server and half the 512 MB decode budget.
	if got, want := c.MemoryLimit(), int64(320)<<20; got != want {
		t.Errorf("default MemoryLimit = %d MiB, want %d MiB", got>>20, want>>20)
	}
	env := map[string]string{"GALLERIST_MEDIA_MEMORY_MB": "1024"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if got, want := c.MemoryLimit(), int64(576)<<20; got != want {
		t.Errorf("MemoryLimit with a 1024 MB budget = %d MiB, want %d MiB", got>>20, want>>20)
	}
	env["GALLERIST_MEMORY_LIMIT_MB"] = "900"
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if got, want := c.MemoryLimit(), int64(900)<<20; got != want {
		t.Errorf("MemoryLimit with GALLERIST_MEMORY_LIMIT_MB=900 = %d MiB, want %d MiB", got>>20, want>>20)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.MemoryLimitMB = 10
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "GALLERIST_MEMORY_LIMIT_MB") {
		t.Errorf("Validate with a 10 MB limit = %v, want an error naming GALLERIST_MEMORY_LIMIT_MB", err)
	}
}
