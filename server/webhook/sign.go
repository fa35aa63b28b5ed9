package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// secretPrefix starts every signing secret, as the Standard Webhooks libraries expect.
const secretPrefix = "whsec_"

// NewSecret returns a new signing secret: whsec_ and 32 random bytes in base64.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Sign returns the v1 signature of a message: base64 of HMAC-SHA256, keyed with the
// secret's bytes, of "id.timestamp.body".
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		return "", errors.New("webhook secret is not whsec_<base64>")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Headers returns the Standard Webhooks headers of a delivery, signed with every given
// secret (the current one and, during a rotation's grace period, the previous one),
// space-separated as the scheme allows.
func Headers(id string, timestamp time.Time, body []byte, secrets ...string) (map[string]string, error) {
	var sigs []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		sig, err := Sign(s, id, timestamp, body)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
	}
	return map[string]string{
		"webhook-id":        id,
		"webhook-timestamp": strconv.FormatInt(timestamp.Unix(), 10),
		"webhook-signature": strings.Join(sigs, " "),
	}, nil
}
