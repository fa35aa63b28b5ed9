package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/server/ingest"
	"github.com/gallerist/gallerist/storage"
)

// HardMaxFilesPerUpload is the ceiling of general_max_files_per_upload (seed 003).
const HardMaxFilesPerUpload = 2000

// allowedTypeNames are the values general_allowed_file_types may list.
var allowedTypeNames = []string{"jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "mp4", "webm", "mov", "avi"}

// SettingsResponse is the upload settings in force (defaults for keys never set).
type SettingsResponse struct {
	AllowedFileTypes  []string `json:"general_allowed_file_types" required:"true" description:"Extensions accepted; the type is decided from the bytes."`
	MaxFileSizeMB     int64    `json:"general_max_file_size_mb" required:"true" description:"Per-file cap for images."`
	MaxVideoSizeMB    int64    `json:"general_max_video_size_mb" required:"true" description:"Per-file cap for videos."`
	MaxFilesPerUpload int      `json:"general_max_files_per_upload" required:"true" maximum:"2000"`
}

// UpdateSettingsRequest is the body of PATCH /api/v1/settings.
type UpdateSettingsRequest struct {
	AllowedFileTypes  *[]string `json:"general_allowed_file_types,omitempty" items.enum:"jpg,jpeg,png,gif,webp,heic,heif,mp4,webm,mov,avi"`
	MaxFileSizeMB     *int64    `json:"general_max_file_size_mb,omitempty" minimum:"1" maximum:"10240"`
	MaxVideoSizeMB    *int64    `json:"general_max_video_size_mb,omitempty" minimum:"1" maximum:"1048576"`
	MaxFilesPerUpload *int      `json:"general_max_files_per_upload,omitempty" minimum:"1" maximum:"2000"`
}

func defaultSettings() SettingsResponse {
	return SettingsResponse{
		AllowedFileTypes:  slices.Clone(allowedTypeNames),
		MaxFileSizeMB:     50,
		MaxVideoSizeMB:    10240,
		MaxFilesPerUpload: 500,
	}
}

// settingsCache reads the runtime settings; they live in the database so that every
// instance sees the same values.
type settingsCache struct{ db *storage.DB }

func newSettingsCache(db *storage.DB) *settingsCache { return &settingsCache{db: db} }

// get returns the settings in force.
func (sc *settingsCache) get(ctx context.Context) (SettingsResponse, error) {
	out := defaultSettings()
	raw, err := sc.db.Settings(ctx)
	if err != nil {
		return out, err
	}
	if v, ok := raw["general_allowed_file_types"]; ok {
		out.AllowedFileTypes = splitList(v)
	}
	if v, err := strconv.ParseInt(raw["general_max_file_size_mb"], 10, 64); err == nil {
		out.MaxFileSizeMB = v
	}
	if v, err := strconv.ParseInt(raw["general_max_video_size_mb"], 10, 64); err == nil {
		out.MaxVideoSizeMB = v
	}
	if v, err := strconv.Atoi(raw["general_max_files_per_upload"]); err == nil {
		out.MaxFilesPerUpload = min(v, HardMaxFilesPerUpload)
	}
	return out, nil
}

// limits turns the settings into ingest limits.
func (st SettingsResponse) limits() ingest.Limits {
	l := ingest.Limits{AllowedExtensions: map[string]bool{}, MaxImageBytes: st.MaxFileSizeMB << 20, MaxVideoBytes: st.MaxVideoSizeMB << 20}
	for _, t := range st.AllowedFileTypes {
		l.AllowedExtensions[t] = true
	}
	return l
}

func splitList(v string) []string {
	out := []string{}
	for _, p := range strings.Split(v, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) getSettings(c echo.Context) error {
	st, err := s.settings.get(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) updateSettings(c echo.Context) error {
	var req UpdateSettingsRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	values := map[string]string{}
	if req.AllowedFileTypes != nil {
		var list []string
		for _, t := range *req.AllowedFileTypes {
			t = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(t, ".")))
			if !slices.Contains(allowedTypeNames, t) {
				return invalidParam("general_allowed_file_types", "%q is not a supported type (supported: %s)", t, strings.Join(allowedTypeNames, ", "))
			}
			if !slices.Contains(list, t) {
				list = append(list, t)
			}
		}
		values["general_allowed_file_types"] = strings.Join(list, ",")
	}
	if req.MaxFileSizeMB != nil {
		if *req.MaxFileSizeMB < 1 || *req.MaxFileSizeMB > 10240 {
			return invalidParam("general_max_file_size_mb", "must be from 1 to 10240")
		}
		values["general_max_file_size_mb"] = strconv.FormatInt(*req.MaxFileSizeMB, 10)
	}
	if req.MaxVideoSizeMB != nil {
		if *req.MaxVideoSizeMB < 1 || *req.MaxVideoSizeMB > 1<<20 {
			return invalidParam("general_max_video_size_mb", "must be from 1 to 1048576")
		}
		values["general_max_video_size_mb"] = strconv.FormatInt(*req.MaxVideoSizeMB, 10)
	}
	if req.MaxFilesPerUpload != nil {
		if *req.MaxFilesPerUpload < 1 || *req.MaxFilesPerUpload > HardMaxFilesPerUpload {
			return invalidParam("general_max_files_per_upload", "must be from 1 to %d", HardMaxFilesPerUpload)
		}
		values["general_max_files_per_upload"] = strconv.Itoa(*req.MaxFilesPerUpload)
	}
	if len(values) > 0 {
		if err := s.db.PutSettings(c.Request().Context(), values); err != nil {
			return err
		}
	}
	return s.getSettings(c)
}
