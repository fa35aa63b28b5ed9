package server_test

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gallerist/gallerist/server"
)

func TestConfigDefaults(t *testing.T) {
	c := server.DefaultConfig()
	if c.Listen != "127.0.0.1:8080" || c.DataDir != "./data" {
		t.Fatalf("defaults: listen %q data %q", c.Listen, c.DataDir)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestConfigEnvThenFlags(t *testing.T) {
	env := map[string]string{
		"GALLERIST_LISTEN":           "0.0.0.0:9000",
		"GALLERIST_DATA_DIR":         "/srv/gallerist",
		"GALLERIST_TRUSTED_PROXIES":  "10.0.0.0/8, 127.0.0.1",
		"GALLERIST_SHUTDOWN_TIMEOUT": "5s",
		"GALLERIST_MAX_BATCH_MB":     "50",
	}
	c := server.DefaultConfig()
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9000" || c.DataDir != "/srv/gallerist" || c.ShutdownTimeout != 5*time.Second || c.MaxBatchMB != 50 {
		t.Fatalf("env not applied: %+v", c)
	}
	if strings.Join(c.TrustedProxies, "|") != "10.0.0.0/8|127.0.0.1" {
		t.Fatalf("trusted proxies = %q", c.TrustedProxies)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:7000", "--data-dir", "/tmp/x"}); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7000" || c.DataDir != "/tmp/x" {
		t.Fatalf("flags did not override env: %q %q", c.Listen, c.DataDir)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := map[string]string{
		"GALLERIST_SHUTDOWN_TIMEOUT": "soon",
		"GALLERIST_MAX_BATCH_MB":     "lots",
	}
	for name, val := range cases {
		c := server.DefaultConfig()
		err := c.LoadEnv(func(k string) string {
			if k == name {
				return val
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v does not name the variable", name, val, err)
		}
	}
	bad := []struct {
		name string
		edit func(*server.Config)
	}{
		{"GALLERIST_LISTEN", func(c *server.Config) { c.Listen = "nowhere" }},
		{"GALLERIST_LOG_LEVEL", func(c *server.Config) { c.LogLevel = "loud" }},
		{"GALLERIST_LOG_FORMAT", func(c *server.Config) { c.LogFormat = "xml" }},
		{"GALLERIST_BASE_URL", func(c *server.Config) { c.BaseURL = "photos.example.com" }},
		{"GALLERIST_TRUSTED_PROXIES", func(c *server.Config) { c.TrustedProxies = []string{"proxy.local"} }},
		{"GALLERIST_MEDIA_WORKERS", func(c *server.Config) { c.MediaWorkers = 0 }},
		{"GALLERIST_MAX_BATCH_MB", func(c *server.Config) { c.MaxBatchMB = 0 }},
		{"GALLERIST_DATA_DIR", func(c *server.Config) { c.DataDir = " " }},
	}
	for _, b := range bad {
		c := server.DefaultConfig()
		b.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), b.name) {
			t.Errorf("%s: Validate() = %v, want an error naming it", b.name, err)
		}
	}
}
