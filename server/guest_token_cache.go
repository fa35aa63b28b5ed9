package server

import "sync"

// guestTokenCacheMax bounds the verified-token cache; a full cache is emptied.
const guestTokenCacheMax = 4096

// verifiedGuestTokens is the process's cache of verified gallery tokens. Each entry
// names the key that verified it, so servers with different keys (tests run several)
// never accept each other's tokens through it.
var verifiedGuestTokens = newGuestTokenCache()

// verifiedToken is a cached token: its claims and the signing key that verified it.
type verifiedToken struct {
	claims guestClaims
	key    string
}

// guestTokenCache remembers gallery tokens whose signature has been verified, so the
// HMAC of a guest cookie is computed once per token, not once per request. It only saves
// the signature check: the caller still compares the claims' event and epoch with the
// event row of this request (from storage's snapshot cache, which any commit empties) and
// checks the expiry every time, so a password change, a link rotation or an expired
// token ends a cached session exactly as an uncached one. Only tokens that verified are
// stored; a forged token never enters. The signing key never changes while the process
// runs, so a verified signature stays verified.
type guestTokenCache struct {
	mu     sync.RWMutex
	tokens map[string]verifiedToken
}

func newGuestTokenCache() *guestTokenCache {
	return &guestTokenCache{tokens: make(map[string]verifiedToken)}
}

// get returns the claims of a token verified before with key, if it is cached.
func (c *guestTokenCache) get(token string, key []byte) (guestClaims, bool) {
	c.mu.RLock()
	v, ok := c.tokens[token]
	c.mu.RUnlock()
	if !ok || v.key != string(key) {
		return guestClaims{}, false
	}
	return v.claims, true
}

// put remembers a token whose signature verified with key.
func (c *guestTokenCache) put(token string, key []byte, cl guestClaims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) >= guestTokenCacheMax {
		clear(c.tokens)
	}
	c.tokens[token] = verifiedToken{claims: cl, key: string(key)}
}

// len tells how many tokens are cached (for tests).
func (c *guestTokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.tokens)
}
