package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Scope is a permission an API token carries.
type Scope string

// The scopes of API.md. ScopeAdmin implies every other; a *.write scope implies its
// *.read. ScopePublic marks a route that needs no credentials.
const (
	ScopeEventsRead       Scope = "events.read"
	ScopeEventsWrite      Scope = "events.write"
	ScopePhotosRead       Scope = "photos.read"
	ScopePhotosWrite      Scope = "photos.write"
	ScopeWebhooksManage   Scope = "webhooks.manage"
	ScopeConnectorsManage Scope = "connectors.manage"
	ScopeAdmin            Scope = "admin"
	ScopePublic           Scope = "public"
)

// Scopes lists the scopes a token may carry.
var Scopes = []Scope{ScopeEventsRead, ScopeEventsWrite, ScopePhotosRead, ScopePhotosWrite, ScopeWebhooksManage, ScopeConnectorsManage, ScopeAdmin}

// ParseScopes validates a comma-separated scope list.
func ParseScopes(s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !slices.Contains(Scopes, Scope(part)) {
			return nil, fmt.Errorf("unknown scope %q (known: %s)", part, joinScopes(Scopes))
		}
		if !slices.Contains(out, part) {
			out = append(out, part)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("at least one scope is required (known: %s)", joinScopes(Scopes))
	}
	return out, nil
}

func joinScopes(s []Scope) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

// grants reports whether the held scopes satisfy need.
func grants(held []string, need Scope) bool {
	if need == ScopePublic {
		return true
	}
	for _, h := range held {
		switch {
		case Scope(h) == ScopeAdmin, Scope(h) == need:
			return true
		case strings.HasSuffix(h, ".write") && Scope(strings.TrimSuffix(h, ".write")+".read") == need:
			return true
		}
	}
	return false
}

// tokenPrefix starts every API token, so leaked tokens are easy to recognise and scan for.
const tokenPrefix = "glr_"

// NewTokenSecret returns a new random API token and the hash that is stored for it.
func NewTokenSecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate token: %w", err)
	}
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashTokenSecret(secret), nil
}

// HashTokenSecret is the stored form of a token. Tokens carry 256 random bits, so a fast
// hash is enough: nothing can be guessed, and lookups stay one indexed query.
func HashTokenSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// TokenDisplayPrefix is the part of a secret shown in listings.
func TokenDisplayPrefix(secret string) string {
	if len(secret) > 12 {
		return secret[:12]
	}
	return secret
}

// HashPassword hashes an admin or gallery password with bcrypt.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		// bcrypt reads 72 bytes; hash longer passphrases first so every byte counts.
		sum := sha256.Sum256([]byte(password))
		password = base64.StdEncoding.EncodeToString(sum[:])
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword compares a password with its hash in constant time.
func CheckPassword(hash, password string) bool {
	if len(password) > 72 {
		sum := sha256.Sum256([]byte(password))
		password = base64.StdEncoding.EncodeToString(sum[:])
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
