package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/storage"
)

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Name      string     `json:"name" required:"true" minLength:"1" maxLength:"100" example:"lightroom plugin"`
	Scopes    []string   `json:"scopes" required:"true" minItems:"1" items.enum:"events.read,events.write,photos.read,photos.write,webhooks.manage,connectors.manage,admin"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" description:"When the token stops working; never when absent."`
}

// TokenPathRequest names a token.
type TokenPathRequest struct {
	TokenID int64 `path:"token_id" minimum:"1"`
}

// TokenResponse describes a token without its secret.
type TokenResponse struct {
	ID         int64      `json:"id" required:"true"`
	Name       string     `json:"name" required:"true"`
	Prefix     string     `json:"prefix" required:"true" description:"The first characters of the secret, to recognise it."`
	Scopes     []string   `json:"scopes" required:"true"`
	CreatedAt  time.Time  `json:"created_at" required:"true"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// CreatedTokenResponse is a new token with its secret, shown this once.
type CreatedTokenResponse struct {
	TokenResponse
	Token string `json:"token" required:"true" description:"The secret; it is not stored and cannot be shown again."`
}

// TokenListResponse lists tokens.
type TokenListResponse struct {
	Items []TokenResponse `json:"items" required:"true"`
	Total int             `json:"total" required:"true"`
}

func tokenResponse(t *storage.Token) TokenResponse {
	return TokenResponse{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scopes: t.Scopes, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt}
}

// CreateToken makes and stores a token; it returns the record and the secret. The CLI
// and the API share it.
func CreateToken(ctx context.Context, db *storage.DB, name string, scopes []string, expiresAt *time.Time) (*storage.Token, string, error) {
	secret, hash, err := NewTokenSecret()
	if err != nil {
		return nil, "", err
	}
	t := &storage.Token{Name: name, Prefix: TokenDisplayPrefix(secret), Scopes: scopes, ExpiresAt: expiresAt}
	if err := db.CreateToken(ctx, t, hash); err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

func (s *Server) createToken(c echo.Context) error {
	var req CreateTokenRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	name, err := validateName("name", req.Name, 100)
	if err != nil {
		return err
	}
	scopes, err := ParseScopes(strings.Join(req.Scopes, ","))
	if err != nil {
		return invalidParam("scopes", "%v", err)
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(time.Now()) {
		return invalidParam("expires_at", "must be in the future")
	}
	t, secret, err := CreateToken(c.Request().Context(), s.db, name, scopes, req.ExpiresAt)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, CreatedTokenResponse{TokenResponse: tokenResponse(t), Token: secret})
}

func (s *Server) listTokens(c echo.Context) error {
	tokens, err := s.db.FindTokens(c.Request().Context())
	if err != nil {
		return err
	}
	out := TokenListResponse{Items: []TokenResponse{}, Total: len(tokens)}
	for _, t := range tokens {
		out.Items = append(out.Items, tokenResponse(t))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) revokeToken(c echo.Context) error {
	id, err := pathID(c, "token_id")
	if err != nil {
		return err
	}
	if err := s.db.RevokeToken(c.Request().Context(), id); err != nil {
		return notFound(err, "token_not_found", "no token %d", id)
	}
	return c.NoContent(http.StatusNoContent)
}
