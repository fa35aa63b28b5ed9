package main

// Scenario 3: serving thumbnails to a guest. wrk (closed loop, 64 connections) asks for
// the thumbnails of one event in turn:
//   - gallerist: /thumbnails/{slug}/{stem}.jpg straight from Gallerist, with the guest's
//     gallery cookie (every request authorised: cookie signature, event, photo lookup);
//   - nginx static: the same files from <data>/blobs/thumbs/{event}/ with no check;
//   - x-accel: nginx in front of Gallerist started with GALLERIST_ACCEL_REDIRECT:
//     Gallerist authorises, nginx sends the bytes from an internal location.
// Each round measures the three back to back; Gallerist is restarted between the
// direct and the hand-off configuration (the same data folder).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ServeResult is scenario 3.
type ServeResult struct {
	Thumbnails    int     `json:"distinct_thumbnails"`
	MeanThumbKB   float64 `json:"mean_thumbnail_kb"`
	Conns         int     `json:"connections"`
	Threads       int     `json:"wrk_threads"`
	DurationS     float64 `json:"seconds_per_run"`
	NginxWorkers  string  `json:"nginx_workers"`
	Gallerist     Stat    `json:"gallerist_rps"`
	Nginx         Stat    `json:"nginx_static_rps"`
	Accel         Stat    `json:"x_accel_rps"`
	GalleristP99  Stat    `json:"gallerist_p99_ms"`
	NginxP99      Stat    `json:"nginx_static_p99_ms"`
	AccelP99      Stat    `json:"x_accel_p99_ms"`
	RatioDirect   Stat    `json:"gallerist_ratio_vs_nginx"`
	RatioAccel    Stat    `json:"x_accel_ratio_vs_nginx"`
	GalleristCPU  Stat    `json:"gallerist_cpu_us_per_request"`
	AccelCPU      Stat    `json:"accel_gallerist_cpu_us_per_request"`
	NginxVersion  string  `json:"nginx_version"`
	WrkVersion    string  `json:"wrk_version"`
	ServeFailures string  `json:"failures,omitempty"`
}

type wrkResult struct {
	Timeouts int
	RPS      float64
	P50      float64 // ms
	P99      float64
	Non2xx   int
	Errors   string
}

var (
	reRPS    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reLat    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	reNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reSockE  = regexp.MustCompile(`Socket errors: [^\n]+`)
	reTimeo  = regexp.MustCompile(`timeout (\d+)`)
)

// runWrk runs wrk for dur; requests slower than timeout count as timeouts (wrk's
// default is 2 s).
func runWrk(url, script, cookie string, conns, threads int, dur time.Duration, timeout ...time.Duration) (wrkResult, error) {
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(dur.Seconds())),
		"--latency", "-s", script}
	if len(timeout) > 0 {
		args = append(args, "--timeout", fmt.Sprintf("%ds", int(timeout[0].Seconds())))
	}
	if cookie != "" {
		args = append(args, "-H", "Cookie: "+cookie)
	}
	args = append(args, url)
	out, err := exec.Command("wrk", args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	var r wrkResult
	m := reRPS.FindStringSubmatch(s)
	if m == nil {
		return r, fmt.Errorf("wrk output without Requests/sec:\n%s", s)
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	for _, l := range reLat.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(l[2], 64)
		switch l[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if l[1] == "50" {
			r.P50 = v
		} else {
			r.P99 = v
		}
	}
	if m := reNon2xx.FindStringSubmatch(s); m != nil {
		r.Non2xx, _ = strconv.Atoi(m[1])
	}
	if m := reSockE.FindString(s); m != "" {
		r.Errors = m
		if t := reTimeo.FindStringSubmatch(m); t != nil {
			r.Timeouts, _ = strconv.Atoi(t[1])
		}
	}
	return r, nil
}

// wrkScript writes a Lua script that asks for paths in turn.
func wrkScript(path string, paths []string) error {
	var b strings.Builder
	b.WriteString("local paths = {\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "  %q,\n", p)
	}
	b.WriteString("}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  if i > #paths then i = 1 end\n  return wrk.format(\"GET\", paths[i])\nend\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// nginxProc is nginx run in the foreground from a temporary prefix (infra.md §4).
type nginxProc struct {
	cmd  *exec.Cmd
	done chan error
}

func startNginx(prefix, conf string) (*nginxProc, error) {
	for _, d := range []string{"conf", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(prefix, "conf", "nginx.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	bin := "nginx"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "/usr/sbin/nginx"
	}
	if out, err := exec.Command(bin, "-t", "-q", "-p", prefix, "-c", "conf/nginx.conf", "-e", "logs/error.log").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", "conf/nginx.conf", "-e", "logs/error.log")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &nginxProc{cmd: cmd, done: make(chan error, 1)}
	go func() { n.done <- cmd.Wait() }()
	select {
	case err := <-n.done:
		return nil, fmt.Errorf("nginx exited: %v\n%s", err, stderr.String())
	case <-time.After(300 * time.Millisecond):
	}
	return n, nil
}

func (n *nginxProc) Stop() {
	if n == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

func nginxConf(staticPort, accelPort, upstreamPort int, thumbsDir, blobsDir string) string {
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;  # workers must read the data folder (0750, owned by root)\n"
	}
	return fmt.Sprintf(`daemon off;
worker_processes auto;
pid logs/nginx.pid;
error_log logs/error.log warn;
%sevents { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log logs/access.log;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    upstream gallerist { server 127.0.0.1:%d; keepalive 64; }
    # The reference: the same thumbnail files, served with no authorisation.
    server {
        listen 127.0.0.1:%d;
        location /static/ {
            alias %s/;
            add_header Cache-Control "private, max-age=604800";
        }
    }
    # Gallerist behind nginx with GALLERIST_ACCEL_REDIRECT=/_gallerist_files.
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://gallerist;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
        location /_gallerist_files/ {
            internal;
            alias %s/;
        }
    }
}
`, user, upstreamPort, staticPort, thumbsDir, accelPort, blobsDir)
}

// guestCookie signs in to a passwordless gallery with its share key.
func guestCookie(ctx context.Context, a *api, ev eventAnswer) (string, error) {
	var link struct {
		Key string `json:"key"`
	}
	if err := a.do(ctx, "GET", fmt.Sprintf("/api/v1/events/%d/share-link", ev.ID), nil, "", &link); err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]string{"key": link.Key})
	resp, err := http.Post(a.base+"/api/gallery/"+ev.Slug+"/auth", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("guest auth: HTTP %d: %s", resp.StatusCode, b)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "gallerist_gallery_"+ev.Slug {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("guest auth set no gallery cookie")
}

// probe checks one URL answers 200 with the expected bytes.
func probe(url, cookie string, want []byte) error {
	req, _ := http.NewRequest("GET", url, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(b, want) {
		return fmt.Errorf("GET %s: HTTP %d, %d bytes (want 200, %d bytes): %.200s", url, resp.StatusCode, len(b), len(want), b)
	}
	return nil
}

type serveSetup struct {
	bin, dataDir, tmp string
	env               []string
	ev                eventAnswer
	cookie            string
	stems             []string
	thumbs            [][]byte
}

// benchServe runs scenario 3. The ingest server must be stopped; this starts its own.
func benchServe(ctx context.Context, st serveSetup, conns, rounds int, dur time.Duration, logf func(string, ...any)) (*ServeResult, error) {
	res := &ServeResult{Thumbnails: len(st.stems), Conns: conns, Threads: 2, DurationS: dur.Seconds(), NginxWorkers: "auto (2)",
		Gallerist: Stat{Unit: "req/s"}, Nginx: Stat{Unit: "req/s"}, Accel: Stat{Unit: "req/s"},
		GalleristP99: Stat{Unit: "ms"}, NginxP99: Stat{Unit: "ms"}, AccelP99: Stat{Unit: "ms"}, GalleristCPU: Stat{Unit: "µs"}, AccelCPU: Stat{Unit: "µs"}}
	var kb float64
	for _, t := range st.thumbs {
		kb += float64(len(t)) / 1024 / float64(len(st.thumbs))
	}
	res.MeanThumbKB = kb
	if out, err := exec.Command("/usr/sbin/nginx", "-v").CombinedOutput(); err == nil {
		res.NginxVersion = strings.TrimSpace(string(out))
	}
	if out, _ := exec.Command("wrk", "-v").CombinedOutput(); len(out) > 0 {
		res.WrkVersion = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	var gPaths, sPaths []string
	for _, s := range st.stems {
		gPaths = append(gPaths, "/thumbnails/"+st.ev.Slug+"/"+s+".jpg")
		sPaths = append(sPaths, "/static/"+s+".jpg")
	}
	gScript, sScript := filepath.Join(st.tmp, "thumbs-gallerist.lua"), filepath.Join(st.tmp, "thumbs-static.lua")
	if err := wrkScript(gScript, gPaths); err != nil {
		return nil, err
	}
	if err := wrkScript(sScript, sPaths); err != nil {
		return nil, err
	}
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	staticPort, accelPort, upPort := ports[0], ports[1], ports[2]
	thumbsDir := filepath.Join(st.dataDir, "blobs", "thumbs", strconv.FormatInt(st.ev.ID, 10))
	ng, err := startNginx(filepath.Join(st.tmp, "nginx"), nginxConf(staticPort, accelPort, upPort, thumbsDir, filepath.Join(st.dataDir, "blobs")))
	if err != nil {
		return nil, err
	}
	defer ng.Stop()
	staticURL := fmt.Sprintf("http://127.0.0.1:%d", staticPort)
	accelURL := fmt.Sprintf("http://127.0.0.1:%d", accelPort)
	if err := probe(staticURL+sPaths[0], "", st.thumbs[0]); err != nil {
		return nil, err
	}
	var failures []string
	note := func(name string, r wrkResult) {
		if r.Non2xx > 0 || r.Errors != "" {
			failures = append(failures, fmt.Sprintf("%s: %d non-2xx, %s", name, r.Non2xx, r.Errors))
		}
	}
	warm := 2 * time.Second
	for r := range rounds {
		// Gallerist answering itself.
		inst, err := startServer(st.bin, st.dataDir, "127.0.0.1:0", filepath.Join(st.tmp, "serve-direct.log"), st.env...)
		if err != nil {
			return nil, err
		}
		if err := probe(inst.URL+gPaths[0], st.cookie, st.thumbs[0]); err != nil {
			inst.Stop()
			return nil, err
		}
		if _, err := runWrk(inst.URL, gScript, st.cookie, conns, 2, warm); err != nil {
			inst.Stop()
			return nil, err
		}
		cpu0 := procCPU(inst.PID())
		g, err := runWrk(inst.URL, gScript, st.cookie, conns, 2, dur)
		cpu := procCPU(inst.PID()) - cpu0
		inst.Stop()
		if err != nil {
			return nil, err
		}
		note("gallerist", g)
		res.Gallerist.add(g.RPS)
		res.GalleristP99.add(g.P99)
		res.GalleristCPU.add(float64(cpu.Microseconds()) / (g.RPS * dur.Seconds()))

		// nginx static.
		if _, err := runWrk(staticURL, sScript, st.cookie, conns, 2, warm); err != nil {
			return nil, err
		}
		n, err := runWrk(staticURL, sScript, st.cookie, conns, 2, dur)
		if err != nil {
			return nil, err
		}
		note("nginx", n)
		res.Nginx.add(n.RPS)
		res.NginxP99.add(n.P99)

		// Gallerist authorising, nginx sending.
		env := append(append([]string(nil), st.env...), "GALLERIST_ACCEL_REDIRECT=/_gallerist_files", "GALLERIST_TRUSTED_PROXIES=127.0.0.1")
		ainst, err := startServer(st.bin, st.dataDir, fmt.Sprintf("127.0.0.1:%d", upPort), filepath.Join(st.tmp, "serve-accel.log"), env...)
		if err != nil {
			return nil, err
		}
		if err := probe(accelURL+gPaths[0], st.cookie, st.thumbs[0]); err != nil {
			ainst.Stop()
			return nil, fmt.Errorf("x-accel: %w", err)
		}
		if _, err := runWrk(accelURL, gScript, st.cookie, conns, 2, warm); err != nil {
			ainst.Stop()
			return nil, err
		}
		acpu0 := procCPU(ainst.PID())
		x, err := runWrk(accelURL, gScript, st.cookie, conns, 2, dur)
		acpu := procCPU(ainst.PID()) - acpu0
		ainst.Stop()
		if err != nil {
			return nil, err
		}
		note("x-accel", x)
		res.Accel.add(x.RPS)
		res.AccelP99.add(x.P99)
		res.AccelCPU.add(float64(acpu.Microseconds()) / (x.RPS * dur.Seconds()))
		logf("serve round %d: gallerist %.0f req/s (p99 %.1f ms), nginx static %.0f (p99 %.1f), x-accel %.0f (p99 %.1f); Gallerist CPU per request %.0f µs direct, %.0f µs x-accel (load %s)",
			r+1, g.RPS, g.P99, n.RPS, n.P99, x.RPS, x.P99, float64(cpu.Microseconds())/(g.RPS*dur.Seconds()), float64(acpu.Microseconds())/(x.RPS*dur.Seconds()), loadAvg())
	}
	res.RatioDirect = ratioStat(res.Gallerist, res.Nginx)
	res.RatioAccel = ratioStat(res.Accel, res.Nginx)
	res.ServeFailures = strings.Join(failures, "; ")
	return res, nil
}
