package connector

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrNoKey means no connector key is configured, so credentials cannot be stored.
var ErrNoKey = errors.New("GALLERIST_CONNECTOR_KEY is not set")

// Sealer encrypts credentials at rest with AES-256-GCM under a key from configuration.
type Sealer struct{ aead cipher.AEAD }

// NewSealer parses a 32-byte key given as 64 hex digits or standard base64. An empty key
// gives a Sealer that refuses to seal or open (ErrNoKey).
func NewSealer(key string) (*Sealer, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return &Sealer{}, nil
	}
	raw, err := hex.DecodeString(key)
	if err != nil || len(raw) != 32 {
		raw, err = base64.StdEncoding.DecodeString(key)
	}
	if err != nil || len(raw) != 32 {
		return nil, errors.New("GALLERIST_CONNECTOR_KEY must be 32 bytes as 64 hex digits or base64 (openssl rand -hex 32)")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("connector key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("connector key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Enabled reports whether a key is configured.
func (s *Sealer) Enabled() bool { return s != nil && s.aead != nil }

// Seal encrypts credentials into "v1:" + base64(nonce | ciphertext).
func (s *Sealer) Seal(c Credentials) (string, error) {
	if !s.Enabled() {
		return "", ErrNoKey
	}
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return "v1:" + base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte("gallerist-connector"))), nil
}

// Open decrypts what Seal made.
func (s *Sealer) Open(sealed string) (Credentials, error) {
	var c Credentials
	if !s.Enabled() {
		return c, ErrNoKey
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	if err != nil || len(raw) < s.aead.NonceSize() {
		return c, errors.New("open credentials: not sealed by Gallerist")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte("gallerist-connector"))
	if err != nil {
		return c, errors.New("open credentials: wrong GALLERIST_CONNECTOR_KEY or damaged data")
	}
	if err := json.Unmarshal(plain, &c); err != nil {
		return c, fmt.Errorf("open credentials: %w", err)
	}
	return c, nil
}
