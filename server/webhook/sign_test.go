package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gallerist/gallerist/server/webhook"
)

// independentSign is the Standard Webhooks v1 signature written from the scheme's text,
// not from the package: base64(HMAC-SHA256(base64-decoded secret after "whsec_",
// "id.timestamp.body")), prefixed with "v1,".
func independentSign(t *testing.T, secret, id string, unix int64, body []byte) string {
	t.Helper()
	raw, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks the whsec_ prefix", secret)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatalf("secret is not base64: %v", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte("."))
	m.Write([]byte(strconv.FormatInt(unix, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestNewSecretIsWhsecAnd32RandomBytes(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		s, err := webhook.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := strings.CutPrefix(s, "whsec_")
		if !ok {
			t.Fatalf("secret %q lacks whsec_", s)
		}
		key, err := base64.StdEncoding.DecodeString(raw)
		if err != nil || len(key) != 32 {
			t.Fatalf("secret %q: %d bytes, err %v; want 32 bytes of base64", s, len(key), err)
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
	}
}

// TestSignMatchesStandardWebhooksVector uses the test vector of the Standard Webhooks
// reference libraries.
func TestSignMatchesStandardWebhooksVector(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	id := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got := independentSign(t, secret, id, ts.Unix(), body); got != want {
		t.Fatalf("the independent implementation gives %s, the vector says %s", got, want)
	}
	got, err := webhook.Sign(secret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestSignAgreesWithIndependentImplementation(t *testing.T) {
	for i := range 10 {
		secret, _ := webhook.NewSecret()
		id := "msg_" + strconv.Itoa(i)
		ts := time.Unix(1_700_000_000+int64(i)*977, 0)
		body := []byte(`{"id":"` + id + `","data":{"n":` + strconv.Itoa(i) + `,"s":"h\u00e9 \"quoted\""}}`)
		got, err := webhook.Sign(secret, id, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		if want := independentSign(t, secret, id, ts.Unix(), body); got != want {
			t.Fatalf("Sign = %s, independent = %s", got, want)
		}
		// A changed byte of the body, the id or the timestamp changes the signature.
		tampered := append([]byte{}, body...)
		tampered[len(tampered)-2] ^= 1
		if independentSign(t, secret, id, ts.Unix(), tampered) == got {
			t.Fatal("a tampered body has the same signature")
		}
		if independentSign(t, secret, id+"x", ts.Unix(), body) == got || independentSign(t, secret, id, ts.Unix()+1, body) == got {
			t.Fatal("another id or timestamp has the same signature")
		}
	}
}

func TestSignRefusesASecretThatIsNotBase64(t *testing.T) {
	if _, err := webhook.Sign("whsec_not base64!!", "msg_1", time.Now(), []byte("{}")); err == nil {
		t.Fatal("Sign with a broken secret should fail")
	}
	if _, err := webhook.Headers("msg_1", time.Now(), []byte("{}"), "whsec_%%%"); err == nil {
		t.Fatal("Headers with a broken secret should fail")
	}
}

func TestHeadersCarryEverySecretsSignature(t *testing.T) {
	newer, _ := webhook.NewSecret()
	older, _ := webhook.NewSecret()
	ts := time.Unix(1_750_000_000, 0)
	body := []byte(`{"id":"msg_abc","type":"webhook.test"}`)
	h, err := webhook.Headers("msg_abc", ts, body, newer, "", older)
	if err != nil {
		t.Fatal(err)
	}
	if h["webhook-id"] != "msg_abc" || h["webhook-timestamp"] != "1750000000" {
		t.Fatalf("headers = %v", h)
	}
	sigs := strings.Split(h["webhook-signature"], " ")
	want := []string{independentSign(t, newer, "msg_abc", ts.Unix(), body), independentSign(t, older, "msg_abc", ts.Unix(), body)}
	if len(sigs) != 2 || sigs[0] != want[0] || sigs[1] != want[1] {
		t.Fatalf("webhook-signature = %q, want %q (the empty secret skipped)", h["webhook-signature"], strings.Join(want, " "))
	}
	one, err := webhook.Headers("msg_abc", ts, body, newer)
	if err != nil {
		t.Fatal(err)
	}
	if one["webhook-signature"] != want[0] {
		t.Fatalf("one secret: webhook-signature = %q, want %q", one["webhook-signature"], want[0])
	}
}
