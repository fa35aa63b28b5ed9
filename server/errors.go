package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"syscall"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/storage"
)

// Error is an error a client may see: an HTTP status, a stable machine code, a message
// safe to show and optional details. Cause is the internal error behind it, logged and
// never sent.
type Error struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
	Cause   error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// ErrorResponse is the one shape of every error body.
type ErrorResponse struct {
	Error ErrorBody `json:"error" required:"true"`
}

// ErrorBody is the content of an error response.
type ErrorBody struct {
	Code    string         `json:"code" required:"true" description:"Stable machine-readable code; see docs/errors.md."`
	Message string         `json:"message" required:"true" description:"Human-readable explanation."`
	Details map[string]any `json:"details,omitempty" description:"Structured context, such as the field at fault or the required scope."`
}

// ErrorCode describes one code of the catalog.
type ErrorCode struct {
	Status      int
	Description string
}

// Codes is the catalog: every error code a client can receive, with its status. Once
// published a code never changes meaning. docs/errors.md lists them all (a test checks).
var Codes = map[string]ErrorCode{
	"invalid_request":        {400, "The body or query could not be parsed (malformed JSON, unknown field, wrong type)."},
	"invalid_parameter":      {400, "A parameter has a value outside its rules; details.parameter names it."},
	"photo_cap_exceeded":     {400, "The upload would take the event past its photo_cap; nothing was stored."},
	"too_many_files":         {400, "The upload has more files than general_max_files_per_upload (hard cap 2000); nothing was stored."},
	"no_files":               {400, "The multipart upload has no `photos` file part."},
	"missing_token":          {401, "No credentials were sent."},
	"invalid_token":          {401, "The bearer token is not one this server issued."},
	"token_revoked":          {401, "The bearer token was revoked."},
	"token_expired":          {401, "The bearer token has expired."},
	"insufficient_scope":     {403, "The credentials lack the scope the route needs; details.required names it."},
	"route_not_found":        {404, "No route has this path."},
	"event_not_found":        {404, "No event with this id (or not yours)."},
	"photo_not_found":        {404, "No photo with this id (or not yours)."},
	"category_not_found":     {404, "No category with this id or slug in the event."},
	"token_not_found":        {404, "No API token with this id."},
	"gallery_auth_required":  {401, "The gallery needs a guest session: sign in with its password or open its share link. Unknown galleries answer the same."},
	"invalid_password":       {401, "Wrong gallery password or share key (an unknown gallery answers the same)."},
	"too_many_attempts":      {429, "Too many wrong passwords for this gallery from this client (or for the gallery); wait Retry-After seconds."},
	"gallery_not_found":      {404, "The gallery is archived or not published."},
	"gallery_expired":        {410, "The gallery has expired."},
	"download_not_allowed":   {403, "The gallery does not allow guests to download originals."},
	"feedback_disabled":      {403, "The gallery does not take likes, ratings or comments."},
	"guest_session_required": {403, "Likes, ratings and comments need a guest session of this gallery (sign in), not an API token."},
	"webhook_not_found":      {404, "No webhook receiver with this id."},
	"delivery_not_found":     {404, "No delivery with this id for this webhook receiver."},
	"url_not_allowed":        {400, "The receiver URL is not http(s), or leads to a loopback, private, link-local or metadata address not listed in GALLERIST_WEBHOOK_ALLOWED_HOSTS."},
	"webhook_disabled":       {409, "The webhook receiver is disabled; enable it with PATCH {\"enabled\": true} first."},
	"upload_not_found":       {404, "No upload session with this id that you opened."},
	"upload_expired":         {410, "The upload session expired; start a new one."},
	"upload_closed":          {409, "The upload session is completed, a duplicate or aborted; details.status says which."},
	"upload_in_progress":     {409, "Another request is completing this upload; retry after Retry-After."},
	"missing_chunks":         {409, "Some chunks have not arrived; details.missing lists their indexes."},
	"chunk_out_of_range":     {400, "The chunk index is outside 0..chunk_count-1."},
	"chunk_size_mismatch":    {400, "Every chunk but the last must be exactly chunk_size bytes, the last the remainder; details say which size was expected."},
	"checksum_mismatch":      {400, "The bytes do not match their Content-MD5 / Repr-Digest / Digest header, or the whole file does not match the declared sha256."},
	"length_required":        {411, "A chunk must be sent with Content-Length."},
	"file_not_found":         {404, "No file with this name in this gallery."},
	"method_not_allowed":     {405, "The route does not take this method."},
	"slug_taken":             {409, "Another event already uses this slug."},
	"category_exists":        {409, "The event already has a category with this slug."},
	"event_archived":         {409, "The event is archived and takes no new photos; restore it first."},
	"variant_not_ready":      {409, "The image variant could not be made for this file."},
	"batch_too_large":        {413, "The multipart request is larger than the batch limit; use chunked uploads for large files."},
	"request_too_large":      {413, "The request body is larger than this route accepts."},
	"file_too_large":         {413, "The file is larger than the per-file cap (general_max_file_size_mb, or general_max_video_size_mb for videos)."},
	"precondition_failed":    {412, "If-Match or If-Unmodified-Since does not match the file."},
	"range_not_satisfiable":  {416, "The Range starts past the end of the file; Content-Range tells its size."},
	"unsupported_media_type": {415, "The request's Content-Type is not one this route accepts."},
	"file_type_not_allowed":  {415, "The file's type, decided from its bytes, is not in general_allowed_file_types."},
	"unreadable_media":       {422, "The file claims a supported type but cannot be read as an image or video."},
	"image_too_large":        {422, "The image declares more pixels than the server decodes (decompression bomb guard)."},
	"duplicate":              {409, "The event already holds a file with the same bytes."},
	"client_closed_request":  {499, "The client went away before the answer."},
	"internal":               {500, "An unexpected server error; the request id is in the logs. Always a bug."},
	"unavailable":            {503, "A temporary server state (starting, shutting down, overloaded); retry after Retry-After."},
	// Connectors (server/connectors.go).
	"connector_not_found":    {404, "No connector with this id."},
	"connector_in_use":       {409, "The connector is linked to events; archive or unlink them first."},
	"connector_key_missing":  {409, "GALLERIST_CONNECTOR_KEY is not set (or cannot open the stored credentials), so connector credentials cannot be stored."},
	"connector_check_failed": {422, "The platform refused the credentials or does not know the destination; the message says what it answered."},
	"link_not_found":         {404, "The event has no link with this id."},
	"link_exists":            {409, "The event is already linked to this connector."},
	"link_active":            {409, "The link's photos are still on the platform: archive the link first, or pass keep_remote=true."},
	"link_archived":          {409, "The link is archived; link the event again to sync it."},
	"no_links":               {409, "The event is not linked to any connector."},
	// Web UI sessions (server/session.go).
	"invalid_credentials": {401, "Wrong email or password for the web sign-in (an unknown email answers the same)."},
	"session_required":    {401, "No signed-in web session; details.setup_required tells whether no admin exists yet."},
	"csrf_failed":         {403, "A change made with the session cookie lacks the session's X-CSRF-Token."},
	"setup_done":          {409, "First-run setup was asked for, but an admin account exists already."},
}

// CodeList returns the catalog's codes in order.
func CodeList() []string {
	out := make([]string, 0, len(Codes))
	for c := range Codes {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// apiError makes an Error for a catalog code.
func apiError(code, format string, args ...any) *Error {
	entry, ok := Codes[code]
	if !ok {
		panic("server: error code not in catalog: " + code)
	}
	return &Error{Status: entry.Status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// withDetails adds details to an Error.
func (e *Error) withDetails(kv ...any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Details[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return e
}

// withCause records the internal error behind e.
func (e *Error) withCause(err error) *Error { e.Cause = err; return e }

// invalidParam is the error for a parameter outside its rules.
func invalidParam(name, format string, args ...any) *Error {
	return apiError("invalid_parameter", "%s: %s", name, fmt.Sprintf(format, args...)).withDetails("parameter", name)
}

// notFound maps storage.ErrNotFound to the given code and passes other errors through.
func notFound(err error, code, format string, args ...any) error {
	if errors.Is(err, storage.ErrNotFound) {
		return apiError(code, format, args...).withCause(err)
	}
	return err
}

// toAPIError turns any error into the Error the client sees.
func toAPIError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return apiError("route_not_found", "no route for this path").withCause(err)
		case http.StatusMethodNotAllowed:
			return apiError("method_not_allowed", "this route does not take this method").withCause(err)
		case http.StatusRequestEntityTooLarge:
			return apiError("request_too_large", "the request body is too large").withCause(err)
		case http.StatusUnsupportedMediaType:
			return apiError("unsupported_media_type", "unsupported Content-Type").withCause(err)
		case http.StatusBadRequest:
			return apiError("invalid_request", "%v", he.Message).withCause(err)
		case http.StatusUnauthorized:
			return apiError("missing_token", "credentials required").withCause(err)
		case http.StatusServiceUnavailable:
			return apiError("unavailable", "temporarily unavailable").withCause(err)
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return apiError("request_too_large", "the request body is larger than %d bytes", mbe.Limit).withCause(err)
	case errors.Is(err, context.Canceled), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return apiError("client_closed_request", "the client closed the request").withCause(err)
	case errors.Is(err, context.DeadlineExceeded):
		return apiError("unavailable", "the server took too long").withCause(err)
	case errors.Is(err, media.ErrUnsupportedFormat):
		return apiError("file_type_not_allowed", "the file's type is not supported").withCause(err)
	case errors.Is(err, media.ErrTooManyPixels):
		return apiError("image_too_large", "the image declares more pixels than this server decodes").withCause(err)
	case errors.Is(err, media.ErrCorruptFile):
		return apiError("unreadable_media", "the file cannot be read as an image or video").withCause(err)
	case errors.Is(err, storage.ErrPhotoCapReached):
		return apiError("photo_cap_exceeded", "the event's photo cap would be exceeded").withCause(err)
	case errors.Is(err, storage.ErrEventArchived):
		return apiError("event_archived", "the event is archived").withCause(err)
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal server error", Cause: err}
}

// handleError is Echo's HTTPErrorHandler: it renders every error as ErrorResponse.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := toAPIError(err)
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	switch {
	case e.Status >= 500:
		s.log.Error("request failed", "request_id", reqID, "code", e.Code, "error", err)
	case e.Code == "client_closed_request":
		s.log.Info("client went away", "request_id", reqID, "error", err)
	case e.Cause != nil:
		s.log.Debug("request refused", "request_id", reqID, "code", e.Code, "error", err)
	}
	if e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests || e.Code == "upload_in_progress" {
		if c.Response().Header().Get("Retry-After") == "" {
			c.Response().Header().Set("Retry-After", "5")
		}
	}
	// A file handler may have set headers of the file it meant to send.
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSONCharsetUTF8)
	for _, k := range []string{"Content-Disposition", "ETag", "Last-Modified", "Cache-Control", "Content-Encoding"} {
		h.Del(k)
	}
	body := ErrorResponse{Error: ErrorBody{Code: e.Code, Message: e.Message, Details: e.Details}}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(e.Status)
	} else {
		werr = c.JSON(e.Status, body)
	}
	if werr != nil {
		s.log.Debug("write error response", "request_id", reqID, "error", werr)
	}
}

// logAttrs is a helper for structured logs of a request.
func logAttrs(c echo.Context) []any {
	return []any{slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID))}
}
