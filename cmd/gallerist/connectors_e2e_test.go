package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server/connector/connectorfake"
)

// TestConnectorSurvivesSIGKILL kills the server while Procore holds an image create it
// has already applied (the write is done, the answer never comes). The restarted server
// resumes the sync from its write-ahead record, finds the image in the album instead of
// creating it again, and ends with exactly one Procore image per photo. No credential
// ever appears in the server's logs.
func TestConnectorSurvivesSIGKILL(t *testing.T) {
	const clientSecret, key = "pc-e2e-secret-4242", "7f1e0d2c3b4a59687f1e0d2c3b4a59687f1e0d2c3b4a59687f1e0d2c3b4a5968"
	fake := connectorfake.NewProcore(t, connectorfake.ProcoreOptions{ClientID: "pc-e2e", ClientSecret: clientSecret, SpikeLimit: -1})
	fake.AddFault(connectorfake.Fault{Method: http.MethodPost, Path: "/rest/v1.0/images", Nth: 2, Action: "commit_then_hang"})

	data := t.TempDir()
	token := cli(t, data, "", "token", "create", "--name", "connectors", "--scopes", "admin")
	env := []string{"GALLERIST_CONNECTOR_KEY=" + key, "GALLERIST_CONNECTOR_TIMEOUT=60s"}
	srv := startServer(t, data, env...)
	call := func(method, path, body string) []byte {
		t.Helper()
		resp, b := request(t, method, srv.URL+path, token, strings.NewReader(body), "")
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	var ev, conn struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal(call("POST", "/api/v1/events", `{"name":"Level 3 pour"}`), &ev)
	files := map[string][]byte{}
	for i := range 3 {
		files[fmt.Sprintf("pour-%d.jpg", i)] = mediatest.JPEG(320, 240, int64(100+i), nil)
	}
	body, ct := multipartBody(files)
	if resp, b := request(t, "POST", fmt.Sprintf("%s/api/v1/events/%d/photos", srv.URL, ev.ID), token, body, ct); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	json.Unmarshal(call("POST", "/api/v1/connectors", fmt.Sprintf(`{"platform":"procore","name":"Site Procore",
		"config":{"company_id":"1001","project_id":"2002","api_url":%q,"login_url":%q},
		"credentials":{"client_id":"pc-e2e","client_secret":%q}}`, fake.APIURL, fake.LoginURL, clientSecret)), &conn)
	call("POST", fmt.Sprintf("/api/v1/events/%d/connectors", ev.ID), fmt.Sprintf(`{"connector_id":%d}`, conn.ID))
	call("POST", fmt.Sprintf("/api/v1/events/%d/syncs", ev.ID), `{}`)

	// Wait until Procore has applied the second image and is holding its answer.
	deadline := time.Now().Add(30 * time.Second)
	for len(fake.Images()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Procore never got the second image; server log:\n%s", srv.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.cmd.Process.Signal(syscall.SIGKILL)
	<-srv.done
	logs := srv.stderr.String()
	fake.Release()

	srv = startServer(t, data, env...)
	var syncs struct {
		Items []struct {
			Status string `json:"status"`
			Counts struct {
				Added, Skipped, Failed int
			} `json:"counts"`
		} `json:"items"`
	}
	deadline = time.Now().Add(60 * time.Second) // the killed job's lease (15 s) must expire first
	for {
		json.Unmarshal(call("GET", fmt.Sprintf("/api/v1/events/%d/syncs", ev.ID), ""), &syncs)
		if len(syncs.Items) == 1 && syncs.Items[0].Status != "queued" && syncs.Items[0].Status != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync did not resume: %+v\n%s", syncs, srv.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := syncs.Items[0]; s.Status != "succeeded" || s.Counts.Failed != 0 {
		t.Fatalf("resumed sync: %+v\n%s", s, srv.stderr.String())
	}
	images := fake.Images()
	seen := map[string]int{}
	for _, img := range images {
		seen[img.SHA256]++
	}
	if len(images) != 3 || len(seen) != 3 {
		t.Fatalf("Procore holds %d images (%d distinct), want exactly 3", len(images), len(seen))
	}
	for _, want := range files {
		if seen[sha(want)] != 1 {
			t.Fatalf("photo %s is on Procore %d times", sha(want)[:12], seen[sha(want)])
		}
	}
	logs += srv.stderr.String()
	for _, secret := range []string{clientSecret, key} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret appears in the server log")
		}
	}
	// Nor in any answer of the API.
	if b := call("GET", "/api/v1/connectors", ""); strings.Contains(string(b), clientSecret) {
		t.Fatalf("the client secret came back from the API: %s", b)
	}
}
