package server

import (
	"context"
	"net/http/httptest"
	"time"
)

// ThumbCacheLen tells how many thumbnails the process's thumbnail cache holds.
func ThumbCacheLen() int { return thumbs.len() }

// GuestTokenCacheLen tells how many verified gallery tokens the process's cache holds.
func GuestTokenCacheLen() int { return verifiedGuestTokens.len() }

// SignGuestTokenForTest signs a gallery token with the server's key, as a sign-in would,
// but with the given expiry.
func SignGuestTokenForTest(ctx context.Context, s *Server, eventID, epoch int64, expires time.Time) (string, error) {
	c := s.echo.NewContext(httptest.NewRequest("GET", "/", nil).WithContext(ctx), httptest.NewRecorder())
	return s.signGuestToken(c, guestClaims{EventID: eventID, Epoch: epoch, GuestID: newGuestID(), Expires: expires.Unix()})
}
