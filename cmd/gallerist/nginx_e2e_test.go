package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
)

// The nginx tests run the configuration of docs/reverse-proxy.md, read from the doc
// itself, in a real nginx (Debian's package) with TLS, in front of the built binary.

const (
	// nginxHost is the public name of the doc's configuration; the test client dials
	// it on nginx's ports.
	nginxHost = "photos.example.com"
	// nginxAccelPrefix is the doc's internal location for X-Accel-Redirect.
	nginxAccelPrefix = "/_gallerist_files"
)

// nginxBinary finds nginx, or fails with the install step (never skips).
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	t.Fatal("nginx not found: apt-get install nginx (as root: .ci/install-deps installs it)")
	return ""
}

// nginxDocSection returns the "## nginx" section of docs/reverse-proxy.md.
func nginxDocSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "reverse-proxy.md"))
	if err != nil {
		t.Fatalf("read the reverse proxy doc: %v", err)
	}
	doc := string(b)
	start := strings.Index(doc, "\n## nginx\n")
	if start < 0 {
		t.Fatal(`docs/reverse-proxy.md has no "## nginx" section`)
	}
	section := doc[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	return section
}

// ngxFencedBlock returns the first ```lang block of text that follows the line after.
func ngxFencedBlock(t *testing.T, text, after, lang string) string {
	t.Helper()
	i := strings.Index(text, after)
	if i < 0 {
		t.Fatalf("docs/reverse-proxy.md, ## nginx: no %q", after)
	}
	text = text[i:]
	open := "```" + lang + "\n"
	j := strings.Index(text, open)
	if j < 0 {
		t.Fatalf("docs/reverse-proxy.md, ## nginx: no ```%s block after %q", lang, after)
	}
	body := text[j+len(open):]
	k := strings.Index(body, "\n```")
	if k < 0 {
		t.Fatalf("docs/reverse-proxy.md, ## nginx: the ```%s block is not closed", lang)
	}
	return body[:k+1]
}

// nginxDocEnv returns the GALLERIST_* settings the doc says to start Gallerist with.
func nginxDocEnv(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(ngxFencedBlock(t, nginxDocSection(t), "Start Gallerist with", "sh"), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	if env["GALLERIST_TRUSTED_PROXIES"] != "127.0.0.1" || env["GALLERIST_ACCEL_REDIRECT"] != nginxAccelPrefix {
		t.Fatalf("the doc's settings for Gallerist behind nginx changed: %v", env)
	}
	return env
}

// nginxSetup is what the doc's configuration is run with.
type nginxSetup struct {
	backend   string // host:port of Gallerist
	blobsDir  string // <data dir>/blobs
	user      string // the main-context user directive ("" for none)
	prefix    string // nginx's prefix; a temporary folder when empty
	httpPort  int
	httpsPort int
	certFile  string
	keyFile   string
}

// nginxConfig is the doc's server blocks with the test's ports, certificate and folders,
// inside a main context that keeps every file of nginx in its prefix. Every placeholder
// must be found, so the doc cannot drift from what is tested.
func nginxConfig(t *testing.T, s nginxSetup) string {
	t.Helper()
	conf := ngxFencedBlock(t, nginxDocSection(t), "## nginx", "nginx")
	replace := func(old, new string, want int) {
		t.Helper()
		if n := strings.Count(conf, old); n != want {
			t.Fatalf("the doc's nginx block has %q %d times, the test expects %d:\n%s", old, n, want, conf)
		}
		conf = strings.ReplaceAll(conf, old, new)
	}
	// IPv6 may be missing on a test machine; the IPv4 listeners are tested.
	v6 := regexp.MustCompile(`(?m)^\s*listen \[::\]:\d+[^;]*;\n`)
	if n := len(v6.FindAllString(conf, -1)); n != 2 {
		t.Fatalf("the doc's nginx block has %d IPv6 listen lines, the test expects 2", n)
	}
	conf = v6.ReplaceAllString(conf, "")
	replace("listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", s.httpPort), 1)
	replace("listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", s.httpsPort), 1)
	replace("/etc/letsencrypt/live/photos.example.com/fullchain.pem", s.certFile, 1)
	replace("/etc/letsencrypt/live/photos.example.com/privkey.pem", s.keyFile, 1)
	replace("http://127.0.0.1:8080;", "http://"+s.backend+";", 3)
	replace("alias /var/lib/gallerist/blobs/;", "alias "+s.blobsDir+"/;", 1)
	user := ""
	if s.user != "" {
		user = "user " + s.user + ";"
	}
	// The main and http contexts stand for Debian's /etc/nginx/nginx.conf, which includes
	// the doc's file from sites-enabled; paths are relative to the prefix.
	return `daemon off;
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
` + user + `
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log logs/access.log;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

` + conf + `}
`
}

// nginxProxy is a running nginx.
type nginxProxy struct {
	setup  nginxSetup
	cmd    *exec.Cmd
	done   chan error
	output *syncBuffer
	roots  *x509.CertPool
}

// errorLog is nginx's error log so far.
func (n *nginxProxy) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.setup.prefix, "logs", "error.log"))
	return string(b)
}

// client talks to nginx as photos.example.com from localIP (a loopback address), over
// HTTP/2 with TLS (https://) or HTTP/1.1 (http://), trusting the test's certificate and
// never following redirects. jar may be nil.
func (n *nginxProxy) client(localIP string, jar http.CookieJar) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			switch addr {
			case nginxHost + ":443":
				addr = fmt.Sprintf("127.0.0.1:%d", n.setup.httpsPort)
			case nginxHost + ":80":
				addr = fmt.Sprintf("127.0.0.1:%d", n.setup.httpPort)
			default:
				return nil, fmt.Errorf("the nginx test client only dials %s, not %s", nginxHost, addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: n.roots},
		ForceAttemptHTTP2: true,
	}
	return &http.Client{Transport: tr, Jar: jar, Timeout: 5 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// ngxSelfSignedCert writes a certificate and key for photos.example.com into dir.
func ngxSelfSignedCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: nginxHost},
		DNSNames:              []string{nginxHost},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

func ngxFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNginx runs nginx with the doc's configuration in front of the Gallerist at
// backendURL, waits until it answers over TLS, and stops it at the end of the test.
func startNginx(t *testing.T, backendURL, blobsDir string, s nginxSetup) *nginxProxy {
	t.Helper()
	bin := nginxBinary(t)
	s.backend = strings.TrimPrefix(backendURL, "http://")
	s.blobsDir = blobsDir
	if s.prefix == "" {
		s.prefix = t.TempDir()
	}
	for _, d := range []string{"conf", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(s.prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var roots *x509.CertPool
	s.certFile, s.keyFile, roots = ngxSelfSignedCert(t, filepath.Join(s.prefix, "conf"))
	confPath := filepath.Join(s.prefix, "conf", "nginx.conf")
	for attempt := 1; ; attempt++ {
		s.httpPort, s.httpsPort = ngxFreePort(t), ngxFreePort(t)
		if err := os.WriteFile(confPath, []byte(nginxConfig(t, s)), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(s.prefix, "logs", "error.log"))
		// -e: without it nginx opens /var/log/nginx/error.log before it reads the config.
		cmd := exec.Command(bin, "-p", s.prefix+"/", "-c", "conf/nginx.conf", "-e", "logs/error.log")
		n := &nginxProxy{setup: s, cmd: cmd, done: make(chan error, 1), output: &syncBuffer{}, roots: roots}
		cmd.Stdout, cmd.Stderr = n.output, n.output
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nginx: %v", err)
		}
		go func() { n.done <- cmd.Wait() }()
		err := n.waitReady()
		if err == nil {
			t.Cleanup(func() {
				// SIGTERM stops at once; SIGQUIT would wait for idle keep-alive connections.
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-n.done:
				case <-time.After(10 * time.Second):
					cmd.Process.Kill()
					<-n.done
				}
				if t.Failed() {
					t.Logf("nginx error log:\n%s", ngxTail(n.errorLog(), 4000))
				}
			})
			return n
		}
		cmd.Process.Kill()
		<-n.done
		log := n.output.String() + n.errorLog()
		if attempt < 3 && strings.Contains(log, "Address already in use") {
			continue // a port picked above was taken in between
		}
		t.Fatalf("nginx did not start: %v\n%s\nconfiguration:\n%s", err, log, nginxConfig(t, s))
	}
}

// waitReady polls Gallerist's health check through nginx.
func (n *nginxProxy) waitReady() error {
	c := n.client("127.0.0.1", nil)
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-n.done:
			n.done <- err
			return fmt.Errorf("nginx exited: %v", err)
		default:
		}
		resp, err := c.Get("https://" + nginxHost + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer through nginx in 15s: %v", last)
}

func ngxTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// ngxDo sends one request with the given headers and returns the answer with its body.
func ngxDo(t *testing.T, c *http.Client, method, url string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if br, ok := body.(*bytes.Reader); ok {
		req.ContentLength = int64(br.Len())
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the body: %v", method, url, err)
	}
	return resp, b
}

func ngxDecode[T any](t *testing.T, what string, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v in %s", what, err, ngxTail(string(b), 500))
	}
	return v
}

// ngxBigJPEG is a real JPEG padded with zero bytes after its EOI marker to n bytes: still a
// JPEG to every reader.
func ngxBigJPEG(seed int64, n int) []byte {
	b := mediatest.JPEG(320, 240, seed, nil)
	return append(b, make([]byte, n-len(b))...)
}

// ngxCookie returns the Set-Cookie of the answer with that name.
func ngxCookie(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	t.Fatalf("no cookie %s in %q", name, resp.Header.Values("Set-Cookie"))
	return nil
}

type nginxPhoto struct {
	ID           int64  `json:"id"`
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url"`
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	Filename     string `json:"filename"`
}

// TestNginxReverseProxy runs the doc's nginx configuration with TLS in front of the
// built binary, started with the doc's settings, and proves through it: large multipart
// and chunked uploads, a guest session with a Secure cookie, the real client address,
// X-Accel-Redirect for files (with Range), streamed ZIPs and nginx's own 413.
func TestNginxReverseProxy(t *testing.T) {
	data := t.TempDir()
	token := cli(t, data, "", "token", "create", "--name", "nginx", "--scopes", "admin")
	var env []string
	for k, v := range nginxDocEnv(t) {
		// Without a base URL the share link must come from nginx's X-Forwarded-Proto and
		// -Host, which proves that they arrive and are believed.
		if k != "GALLERIST_BASE_URL" {
			env = append(env, k+"="+v)
		}
	}
	srv := startServer(t, data, env...)
	user := ""
	if os.Geteuid() == 0 {
		// As root, nginx's workers would run as nobody, who cannot enter the test's 0700
		// temporary folders or read Gallerist's blobs.
		user = "root"
	}
	px := startNginx(t, srv.URL, filepath.Join(data, "blobs"), nginxSetup{user: user})
	base := "https://" + nginxHost
	// The client is 127.0.0.2: another address than nginx's own 127.0.0.1.
	c := px.client("127.0.0.2", nil)
	auth := []string{"Authorization", "Bearer " + token}

	// An event through nginx, over HTTP/2 and TLS.
	resp, b := ngxDo(t, c, "POST", base+"/api/v1/events", strings.NewReader(`{"name":"Proxy walk","password":"confetti"}`),
		append(auth, "Content-Type", "application/json")...)
	if resp.StatusCode != 201 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("create event through nginx: %s %s %s", resp.Proto, resp.Status, b)
	}
	ev := ngxDecode[struct {
		ID       int64  `json:"id"`
		Slug     string `json:"slug"`
		ShareURL string `json:"share_url"`
	}](t, "event", b)
	if want := base + "/g/" + ev.Slug; ev.ShareURL != want {
		t.Errorf("share_url through nginx = %q, want %q (X-Forwarded-Proto/-Host from the trusted proxy)", ev.ShareURL, want)
	}
	// nginx's $request_id reaches Gallerist, which answers and logs it with the client's
	// address that nginx set.
	reqID := resp.Header.Get("X-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(reqID) {
		t.Errorf("X-Request-Id through nginx = %q, want nginx's 32 hex digits", reqID)
	}
	ngxWaitFor(t, 5*time.Second, "Gallerist logs nginx's request id with the client's address", func() bool {
		return regexp.MustCompile(`request_id=` + reqID + ` .*remote_ip=127\.0\.0\.2\b`).MatchString(srv.stderr.String())
	})

	// Plain HTTP is redirected to HTTPS.
	resp, _ = ngxDo(t, c, "GET", "http://"+nginxHost+"/g/"+ev.Slug+"?x=1", nil)
	if resp.StatusCode != 301 || resp.Header.Get("Location") != base+"/g/"+ev.Slug+"?x=1" {
		t.Errorf("plain HTTP: %s Location %q, want 301 to %s", resp.Status, resp.Header.Get("Location"), base+"/g/"+ev.Slug+"?x=1")
	}

	// (a) A multipart upload of 60 MiB: three 20 MiB JPEGs, streamed through nginx.
	files := map[string][]byte{}
	for i := int64(1); i <= 3; i++ {
		files[fmt.Sprintf("big-%d.jpg", i)] = ngxBigJPEG(i, 20<<20)
	}
	body, ct := multipartBody(files)
	start := time.Now()
	resp, b = ngxDo(t, c, "POST", fmt.Sprintf("%s/api/v1/events/%d/photos", base, ev.ID), bytes.NewReader(body.Bytes()),
		append(auth, "Content-Type", ct)...)
	if resp.StatusCode != 201 {
		t.Fatalf("60 MiB multipart upload through nginx: %s %s", resp.Status, ngxTail(string(b), 500))
	}
	t.Logf("60 MiB multipart upload through nginx: %s", time.Since(start).Round(time.Millisecond))
	up := ngxDecode[struct {
		Uploaded []nginxPhoto `json:"uploaded"`
	}](t, "upload answer", b)
	if len(up.Uploaded) != 3 {
		t.Fatalf("uploaded %d of 3: %s", len(up.Uploaded), b)
	}
	photos := map[int64][]byte{}
	for _, p := range up.Uploaded {
		resp, b := ngxDo(t, c, "GET", fmt.Sprintf("%s/api/v1/photos/%d", base, p.ID), nil, auth...)
		got := ngxDecode[nginxPhoto](t, "photo", b)
		if resp.StatusCode != 200 || got.SHA256 != sha(files[p.Filename]) || got.Size != 20<<20 {
			t.Fatalf("photo %d (%s): %s sha256 %s size %d, want %s and %d", p.ID, p.Filename, resp.Status, got.SHA256, got.Size, sha(files[p.Filename]), 20<<20)
		}
		photos[p.ID] = files[p.Filename]
	}

	// A chunked upload of 20 MiB: 8 MiB chunks (GALLERIST_CHUNK_SIZE_MB), well under
	// client_max_body_size.
	big := ngxBigJPEG(4, 20<<20+12345)
	resp, b = ngxDo(t, c, "POST", fmt.Sprintf("%s/api/v1/events/%d/uploads", base, ev.ID),
		strings.NewReader(fmt.Sprintf(`{"filename":"chunked.jpg","size":%d,"sha256":%q}`, len(big), sha(big))),
		append(auth, "Content-Type", "application/json")...)
	if resp.StatusCode != 201 {
		t.Fatalf("open a chunked upload through nginx: %s %s", resp.Status, b)
	}
	sess := ngxDecode[struct {
		UploadID   string `json:"upload_id"`
		ChunkSize  int    `json:"chunk_size"`
		ChunkCount int    `json:"chunk_count"`
	}](t, "upload session", b)
	if sess.ChunkCount != 3 || sess.ChunkSize != 8<<20 {
		t.Fatalf("session of %d bytes: %d chunks of %d", len(big), sess.ChunkCount, sess.ChunkSize)
	}
	for i := 0; i < sess.ChunkCount; i++ {
		chunk := big[i*sess.ChunkSize : min((i+1)*sess.ChunkSize, len(big))]
		resp, b := ngxDo(t, c, "PUT", fmt.Sprintf("%s/api/v1/uploads/%s/chunks/%d", base, sess.UploadID, i), bytes.NewReader(chunk),
			append(auth, "Content-Type", "application/octet-stream")...)
		if resp.StatusCode != 200 {
			t.Fatalf("chunk %d through nginx: %s %s", i, resp.Status, b)
		}
	}
	resp, b = ngxDo(t, c, "POST", fmt.Sprintf("%s/api/v1/uploads/%s/complete", base, sess.UploadID), nil, auth...)
	chunked := ngxDecode[nginxPhoto](t, "completed upload", b)
	if resp.StatusCode != 201 || chunked.SHA256 != sha(big) {
		t.Fatalf("complete through nginx: %s, sha256 %s, want %s: %s", resp.Status, chunked.SHA256, sha(big), ngxTail(string(b), 300))
	}
	photos[chunked.ID] = big
	// proxy_request_buffering off: nginx never wrote an upload to its own disk.
	if log := px.errorLog(); strings.Contains(log, "request body is buffered to a temporary file") {
		t.Errorf("nginx buffered an upload to disk (proxy_request_buffering):\n%s", ngxTail(log, 2000))
	}

	// (c) Files through X-Accel-Redirect: Gallerist authorises, nginx sends the bytes.
	p := up.Uploaded[0]
	want := files[p.Filename]
	resp, b = ngxDo(t, c, "GET", base+p.URL, nil, auth...)
	if resp.StatusCode != 200 || sha(b) != sha(want) {
		t.Fatalf("GET %s through nginx: %s, %d bytes, sha256 %s, want %d bytes %s", p.URL, resp.Status, len(b), sha(b), len(want), sha(want))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" {
		t.Errorf("Content-Type through nginx = %q, want image/jpeg", ct)
	}
	if resp.Header.Get("X-Accel-Redirect") != "" {
		t.Errorf("nginx passed X-Accel-Redirect on to the client: %q", resp.Header.Get("X-Accel-Redirect"))
	}
	viaNginx := resp.Header
	// The same request to Gallerist directly: an empty 200 that names the blob.
	direct, db := request(t, "GET", srv.URL+p.URL, token, nil, "")
	accel := direct.Header.Get("X-Accel-Redirect")
	if direct.StatusCode != 200 || len(db) != 0 || !strings.HasPrefix(accel, nginxAccelPrefix+"/originals/") {
		t.Fatalf("GET %s from Gallerist directly: %s, %d bytes, X-Accel-Redirect %q; want an empty 200 naming %s/originals/...",
			p.URL, direct.Status, len(db), accel, nginxAccelPrefix)
	}
	if onDisk, err := os.ReadFile(filepath.Join(data, "blobs", strings.TrimPrefix(accel, nginxAccelPrefix+"/"))); err != nil || sha(onDisk) != sha(want) {
		t.Fatalf("X-Accel-Redirect %q does not name the blob in <data>/blobs: %v", accel, err)
	}
	// nginx answers with Gallerist's headers, not its own.
	for _, h := range []string{"Content-Type", "Cache-Control", "ETag", "Last-Modified", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if viaNginx.Get(h) != direct.Header.Get(h) || viaNginx.Get(h) == "" {
			t.Errorf("%s through nginx = %q, Gallerist's = %q", h, viaNginx.Get(h), direct.Header.Get(h))
		}
	}
	if id := viaNginx.Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("X-Request-Id of a file through nginx = %q, want nginx's request id", id)
	}
	// A download keeps its file name.
	dl := fmt.Sprintf("/api/v1/photos/%d/download", p.ID)
	resp, b = ngxDo(t, c, "GET", base+dl, nil, auth...)
	directDL, _ := request(t, "GET", srv.URL+dl, token, nil, "")
	if cd := resp.Header.Get("Content-Disposition"); resp.StatusCode != 200 || sha(b) != sha(want) || cd == "" || cd != directDL.Header.Get("Content-Disposition") {
		t.Errorf("download through nginx: %s, sha256 %s, Content-Disposition %q, Gallerist's %q", resp.Status, sha(b), cd, directDL.Header.Get("Content-Disposition"))
	}
	etag := direct.Header.Get("ETag")
	// Range: nginx answers it from the file.
	resp, b = ngxDo(t, c, "GET", base+p.URL, nil, append(auth, "Range", "bytes=100-1099")...)
	if resp.StatusCode != 206 || !bytes.Equal(b, want[100:1100]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-1099/%d", len(want)) {
		t.Errorf("Range through nginx: %s, %d bytes, Content-Range %q", resp.Status, len(b), resp.Header.Get("Content-Range"))
	}
	// A suffix range at the end of the file.
	resp, b = ngxDo(t, c, "GET", base+p.URL, nil, append(auth, "Range", "bytes=-10")...)
	if resp.StatusCode != 206 || !bytes.Equal(b, want[len(want)-10:]) {
		t.Errorf("suffix Range through nginx: %s, %d bytes", resp.Status, len(b))
	}
	// Gallerist's ETag still answers If-None-Match.
	resp, b = ngxDo(t, c, "GET", base+p.URL, nil, append(auth, "If-None-Match", etag)...)
	if resp.StatusCode != 304 || len(b) != 0 {
		t.Errorf("If-None-Match %s through nginx: %s, %d bytes, want 304", etag, resp.Status, len(b))
	}
	// If-Range with Gallerist's ETag: nginx checks it against the ETag it passes on.
	resp, b = ngxDo(t, c, "GET", base+p.URL, nil, append(auth, "Range", "bytes=0-9", "If-Range", etag)...)
	if resp.StatusCode != 206 || !bytes.Equal(b, want[:10]) {
		t.Errorf("Range with a matching If-Range through nginx: %s, %d bytes, want 206", resp.Status, len(b))
	}
	resp, b = ngxDo(t, c, "GET", base+p.URL, nil, append(auth, "Range", "bytes=0-9", "If-Range", `"stale"`)...)
	if resp.StatusCode != 200 || sha(b) != sha(want) {
		t.Errorf("Range with a stale If-Range through nginx: %s, %d bytes, want the whole file", resp.Status, len(b))
	}
	// Without a token nothing is handed over.
	resp, b = ngxDo(t, c, "GET", base+p.URL, nil)
	if resp.StatusCode != 401 || bytes.Contains(b, want[:64]) {
		t.Errorf("GET %s through nginx without a token: %s, want 401", p.URL, resp.Status)
	}
	// The internal location cannot be asked for from outside, with or without a token.
	for _, h := range [][]string{nil, auth} {
		resp, b = ngxDo(t, c, "GET", base+accel, nil, h...)
		if resp.StatusCode != 404 || bytes.Contains(b, want[:64]) {
			t.Errorf("GET %s from outside: %s, want 404", accel, resp.Status)
		}
	}
	// Thumbnails come from the same folder.
	resp, b = ngxDo(t, c, "GET", base+p.ThumbnailURL, nil, auth...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
		t.Errorf("thumbnail through nginx: %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(b))
	}

	// A ZIP of all four originals (80 MiB), streamed through nginx without a temp file.
	resp, b = ngxDo(t, c, "GET", fmt.Sprintf("%s/api/v1/events/%d/photos/download", base, ev.ID), nil, auth...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("ZIP through nginx: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("ZIP through nginx: %v", err)
	}
	seen := map[string]bool{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		entry, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("ZIP entry %s: %v", f.Name, err)
		}
		seen[sha(entry)] = true
	}
	for id, orig := range photos {
		if !seen[sha(orig)] {
			t.Errorf("the ZIP lacks photo %d", id)
		}
	}
	if log := px.errorLog(); strings.Contains(log, "buffered to a temporary file") {
		t.Errorf("nginx spooled a request or answer to disk (proxy_buffering / proxy_request_buffering):\n%s", ngxTail(log, 2000))
	}

	// (b) A guest over TLS through nginx: the cookie comes back Secure and works.
	jar, _ := cookiejar.New(nil)
	guest := px.client("127.0.0.2", jar)
	resp, b = ngxDo(t, guest, "POST", base+"/api/gallery/"+ev.Slug+"/auth", strings.NewReader(`{"password":"confetti"}`), "Content-Type", "application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("guest sign-in through nginx: %s %s", resp.Status, b)
	}
	ck := ngxCookie(t, resp, "gallerist_gallery_"+ev.Slug)
	if !ck.Secure || !ck.HttpOnly {
		t.Errorf("guest cookie through nginx over TLS: Secure=%v HttpOnly=%v, want both", ck.Secure, ck.HttpOnly)
	}
	resp, b = ngxDo(t, guest, "GET", base+"/api/gallery/"+ev.Slug+"/photos", nil)
	list := ngxDecode[struct {
		Items []struct {
			ID  int64  `json:"id"`
			URL string `json:"url"`
		} `json:"items"`
		Total int `json:"total"`
	}](t, "gallery photos", b)
	if resp.StatusCode != 200 || list.Total != 4 || len(list.Items) != 4 {
		t.Fatalf("gallery photos with the cookie through nginx: %s total %d", resp.Status, list.Total)
	}
	resp, b = ngxDo(t, guest, "GET", base+list.Items[0].URL, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
		t.Errorf("guest image %s through nginx: %s %q, %d bytes", list.Items[0].URL, resp.Status, resp.Header.Get("Content-Type"), len(b))
	}

	// The client's address is what nginx saw, whatever X-Forwarded-For the client sends:
	// five wrong passwords from 127.0.0.2 lock it out, under any forged address.
	wrong := strings.NewReader(`{"password":"wrong"}`)
	for i := 1; i <= 5; i++ {
		wrong.Seek(0, io.SeekStart)
		resp, b = ngxDo(t, c, "POST", base+"/api/gallery/"+ev.Slug+"/auth", wrong, "Content-Type", "application/json", "X-Forwarded-For", "198.51.100.1")
		if resp.StatusCode != 401 {
			t.Fatalf("wrong password %d through nginx: %s %s", i, resp.Status, b)
		}
	}
	wrong.Seek(0, io.SeekStart)
	resp, b = ngxDo(t, c, "POST", base+"/api/gallery/"+ev.Slug+"/auth", wrong, "Content-Type", "application/json", "X-Forwarded-For", "198.51.100.2")
	if resp.StatusCode != 429 {
		t.Errorf("6th wrong password from 127.0.0.2 with a forged X-Forwarded-For: %s %s, want 429", resp.Status, b)
	}
	// Another client (127.0.0.3) is not locked out: Gallerist counts the client nginx
	// names, not nginx's own address.
	other := px.client("127.0.0.3", nil)
	wrong.Seek(0, io.SeekStart)
	resp, b = ngxDo(t, other, "POST", base+"/api/gallery/"+ev.Slug+"/auth", wrong, "Content-Type", "application/json")
	if resp.StatusCode != 401 {
		t.Errorf("wrong password from another client through nginx: %s %s, want 401", resp.Status, b)
	}
	resp, b = ngxDo(t, other, "POST", base+"/api/gallery/"+ev.Slug+"/auth", strings.NewReader(`{"password":"confetti"}`), "Content-Type", "application/json")
	if resp.StatusCode != 200 {
		t.Errorf("right password from another client through nginx: %s %s, want 200", resp.Status, b)
	}

	// Even a client on nginx's own (trusted) address cannot pose as others: nginx sends
	// X-Forwarded-For: $remote_addr, not the client's list with its address appended.
	local := px.client("127.0.0.1", nil)
	for i := 1; i <= 6; i++ {
		wrong.Seek(0, io.SeekStart)
		resp, b = ngxDo(t, local, "POST", base+"/api/gallery/"+ev.Slug+"/auth", wrong, "Content-Type", "application/json",
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", 10+i))
		if want := map[bool]int{true: 429, false: 401}[i == 6]; resp.StatusCode != want {
			t.Errorf("wrong password %d from 127.0.0.1 with a new forged X-Forwarded-For each time: %s %s, want %d", i, resp.Status, b, want)
		}
	}

	// (d) Over client_max_body_size (100m), nginx answers 413 itself, from
	// Content-Length, before a byte reaches Gallerist: its HTML page, not Gallerist's JSON.
	for _, proto := range []string{"HTTP/2.0", "HTTP/1.1"} {
		cl := px.client("127.0.0.2", nil)
		if proto == "HTTP/1.1" {
			tr := cl.Transport.(*http.Transport)
			tr.ForceAttemptHTTP2 = false
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		size := int64(100<<20) + 1
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/events/%d/photos", base, ev.ID), io.LimitReader(ngxZeros{}, size))
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("a body over client_max_body_size: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != proto || resp.StatusCode != 413 || !strings.Contains(string(b), "413 Request Entity Too Large") {
			t.Errorf("a body of 100 MiB + 1 byte over %s: %s %s %s, want nginx's 413", proto, resp.Proto, resp.Status, ngxTail(string(b), 300))
		}
	}
	if regexp.MustCompile(`path=/api/v1/events/\d+/photos .*status=413`).MatchString(srv.stderr.String()) {
		t.Error("the body over client_max_body_size reached Gallerist")
	}
}

// ngxZeros is an endless reader of zero bytes.
type ngxZeros struct{}

func (ngxZeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// ngxWaitFor polls cond until it holds or d passes.
func ngxWaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("after %s: %s", d, what)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNginxForwardedHeadersFromUntrustedPeer reaches a binary that trusts no proxy
// directly, with forged forwarding headers: the guest cookie is not Secure, the share link
// keeps the request's own scheme and host, and X-Forwarded-For does not change who is
// locked out after 5 wrong passwords.
func TestNginxForwardedHeadersFromUntrustedPeer(t *testing.T) {
	data := t.TempDir()
	token := cli(t, data, "", "token", "create", "--name", "direct", "--scopes", "admin")
	srv := startServer(t, data) // no GALLERIST_TRUSTED_PROXIES
	c := &http.Client{Timeout: time.Minute}
	forged := []string{"X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Host", "evil.example"}

	resp, b := ngxDo(t, c, "POST", srv.URL+"/api/v1/events", strings.NewReader(`{"name":"Direct","password":"confetti"}`),
		append([]string{"Authorization", "Bearer " + token, "Content-Type", "application/json"}, forged...)...)
	if resp.StatusCode != 201 {
		t.Fatalf("create event: %s %s", resp.Status, b)
	}
	ev := ngxDecode[struct {
		Slug     string `json:"slug"`
		ShareURL string `json:"share_url"`
	}](t, "event", b)
	if want := srv.URL + "/g/" + ev.Slug; ev.ShareURL != want {
		t.Errorf("share_url with forged X-Forwarded-Proto/-Host from an untrusted peer = %q, want %q", ev.ShareURL, want)
	}

	resp, b = ngxDo(t, c, "POST", srv.URL+"/api/gallery/"+ev.Slug+"/auth", strings.NewReader(`{"password":"confetti"}`),
		append([]string{"Content-Type", "application/json"}, forged...)...)
	if resp.StatusCode != 200 {
		t.Fatalf("guest sign-in: %s %s", resp.Status, b)
	}
	if ck := ngxCookie(t, resp, "gallerist_gallery_"+ev.Slug); ck.Secure {
		t.Error("the guest cookie is Secure because an untrusted peer said X-Forwarded-Proto: https")
	}
	reqID := resp.Header.Get("X-Request-Id")
	ngxWaitFor(t, 5*time.Second, "the sign-in is logged with the peer's address, not X-Forwarded-For", func() bool {
		return regexp.MustCompile(`request_id=` + regexp.QuoteMeta(reqID) + ` .*remote_ip=127\.0\.0\.1\b`).MatchString(srv.stderr.String())
	})
	if strings.Contains(srv.stderr.String(), "203.0.113.9") {
		t.Error("Gallerist logged the forged X-Forwarded-For of an untrusted peer")
	}

	for i := 1; i <= 5; i++ {
		resp, b = ngxDo(t, c, "POST", srv.URL+"/api/gallery/"+ev.Slug+"/auth", strings.NewReader(`{"password":"wrong"}`),
			"Content-Type", "application/json", "X-Forwarded-For", "198.51.100.1")
		if resp.StatusCode != 401 {
			t.Fatalf("wrong password %d: %s %s", i, resp.Status, b)
		}
	}
	resp, b = ngxDo(t, c, "POST", srv.URL+"/api/gallery/"+ev.Slug+"/auth", strings.NewReader(`{"password":"wrong"}`),
		"Content-Type", "application/json", "X-Forwarded-For", "198.51.100.2")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("6th wrong password under another forged X-Forwarded-For: %s %s, want 429 with Retry-After", resp.Status, b)
	}
}

// TestNginxWorkerInGalleristGroupReadsBlobs runs the doc's configuration the way a
// packaged nginx runs: its workers as another user than Gallerist's, in Gallerist's group
// (here nobody:nogroup, with the data folder set-group-ID nogroup, as root). nginx must
// then be able to read the blobs that Gallerist hands it with X-Accel-Redirect.
// Without root (no other user for nginx) it checks the blobs' group permissions only.
func TestNginxWorkerInGalleristGroupReadsBlobs(t *testing.T) {
	const nogroup = 65534
	root := os.Geteuid() == 0
	data, err := os.MkdirTemp("", "gallerist-nginx-group-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(data) })
	if root {
		if err := os.Chown(data, 0, nogroup); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(data, 0o750|os.ModeSetgid); err != nil {
			t.Fatal(err)
		}
	}
	token := cli(t, data, "", "token", "create", "--name", "group", "--scopes", "admin")
	srv := startServer(t, data, "GALLERIST_TRUSTED_PROXIES=127.0.0.1", "GALLERIST_ACCEL_REDIRECT="+nginxAccelPrefix)
	resp, b := request(t, "POST", srv.URL+"/api/v1/events", token, strings.NewReader(`{"name":"Group"}`), "")
	if resp.StatusCode != 201 {
		t.Fatalf("create event: %s %s", resp.Status, b)
	}
	ev := ngxDecode[struct {
		ID int64 `json:"id"`
	}](t, "event", b)
	photo := ngxBigJPEG(9, 1<<20)
	body, ct := multipartBody(map[string][]byte{"group.jpg": photo})
	resp, b = request(t, "POST", fmt.Sprintf("%s/api/v1/events/%d/photos", srv.URL, ev.ID), token, body, ct)
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %s %s", resp.Status, b)
	}
	up := ngxDecode[struct {
		Uploaded []nginxPhoto `json:"uploaded"`
	}](t, "upload", b)
	direct, _ := request(t, "GET", srv.URL+up.Uploaded[0].URL, token, nil, "")
	blob := filepath.Join(data, "blobs", strings.TrimPrefix(direct.Header.Get("X-Accel-Redirect"), nginxAccelPrefix+"/"))
	st, err := os.Stat(blob)
	if err != nil {
		t.Fatalf("the blob named by X-Accel-Redirect: %v", err)
	}
	// Every folder from the data folder down must let the group in, the file be
	// group-readable.
	var modes []string
	for p := blob; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		modes = append(modes, fmt.Sprintf("%s %s gid %d", fi.Mode(), strings.TrimPrefix(p, data), fi.Sys().(*syscall.Stat_t).Gid))
		if p == data {
			break
		}
	}
	groupOK := st.Mode().Perm()&0o040 != 0
	if !groupOK {
		t.Errorf("Gallerist wrote the blob %s with mode %s: nginx's workers in Gallerist's group cannot read it, so X-Accel-Redirect fails with 403 unless nginx runs as Gallerist's user; blobs need 0640 (folders 0750). Path modes:\n%s",
			strings.TrimPrefix(blob, data), st.Mode().Perm(), strings.Join(modes, "\n"))
	}
	if !root {
		t.Log("not root: nginx cannot run as another user here; checked the blob's permissions only")
		return
	}
	if fi, _ := os.Stat(filepath.Join(data, "blobs")); fi.Sys().(*syscall.Stat_t).Gid != nogroup {
		t.Fatalf("test setup: <data>/blobs did not inherit the data folder's group nogroup:\n%s", strings.Join(modes, "\n"))
	}
	prefix, err := os.MkdirTemp("", "gallerist-nginx-prefix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(prefix) })
	os.Chmod(prefix, 0o755)
	px := startNginx(t, srv.URL, filepath.Join(data, "blobs"), nginxSetup{user: "nobody nogroup", prefix: prefix})
	resp, b = ngxDo(t, px.client("127.0.0.2", nil), "GET", "https://"+nginxHost+up.Uploaded[0].URL, nil, "Authorization", "Bearer "+token)
	if resp.StatusCode != 200 || sha(b) != sha(photo) {
		t.Errorf("GET %s through nginx running as nobody:nogroup: %s, %d bytes; error log:\n%s", up.Uploaded[0].URL, resp.Status, len(b), ngxTail(px.errorLog(), 1500))
	}
}
