package connector

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Platforms.
const (
	BuildPass            = "buildpass"
	Procore              = "procore"
	BrilliantDirectories = "brilliant_directories"
)

// Platforms lists the platform names a target may have.
var Platforms = []string{BuildPass, Procore, BrilliantDirectories}

// Config is a target's destination and endpoints. Each platform uses its own fields;
// the others stay empty. It is stored as JSON and returned to clients as it is: it
// holds no secrets.
type Config struct {
	// BuildPass: builder, project and region (au1 or us1) of the photo folder.
	BuilderID string `json:"builder_id,omitempty" description:"BuildPass: builder id (buil_…)."`
	// ProjectID is the BuildPass project (proj_…) or the Procore project (digits).
	ProjectID string `json:"project_id,omitempty" description:"BuildPass project id (proj_…) or Procore project id (digits)."`
	Region    string `json:"region,omitempty" enum:"au1,us1" description:"BuildPass region of the builder (default au1)."`
	SourceApp string `json:"source_app,omitempty" description:"BuildPass sourceApp (default gallerist)."`
	// Procore: company and environment.
	CompanyID   string `json:"company_id,omitempty" description:"Procore company id (digits); sent as Procore-Company-Id."`
	Environment string `json:"environment,omitempty" enum:"production,sandbox,monthly" description:"Procore environment (default production)."`
	// Brilliant Directories: site, owning member and post type.
	SiteURL            string `json:"site_url,omitempty" description:"Brilliant Directories: the site's canonical URL (https://www.example.com)."`
	MemberID           string `json:"member_id,omitempty" description:"Brilliant Directories: user_id of the member who owns the album."`
	PostTypeID         string `json:"post_type_id,omitempty" description:"Brilliant Directories: data_id of a multi-image post type (data_type 4)."`
	PublishAfterVerify bool   `json:"publish_after_verify,omitempty" description:"Brilliant Directories: keep the album hidden until every photo imported, then publish it."`
	RequestsPerMinute  int    `json:"requests_per_minute,omitempty" minimum:"1" maximum:"1000" description:"Brilliant Directories: the key's request budget (default 100; BD support can raise it to 1000)."`
	// Endpoints, for sandboxes, proxies and tests; the platform's production hosts by default.
	APIURL   string `json:"api_url,omitempty" description:"Override of the platform's API base URL."`
	LoginURL string `json:"login_url,omitempty" description:"Procore: override of the OAuth host (login.procore.com)."`
}

// Destination names where photos go: the account and project (or site and member) a
// link's folder or album lives in.
func (c Config) Destination() string {
	return strings.Join([]string{c.APIURL, c.LoginURL, c.SiteURL, c.BuilderID, c.ProjectID, c.Region, c.CompanyID, c.MemberID, c.PostTypeID}, "|")
}

// Credentials are a target's secrets: OAuth2 client credentials (BuildPass, Procore), a
// Procore refresh token (authorization-code apps, rotated on every use), or a Brilliant
// Directories API key. They are sealed at rest and never returned.
type Credentials struct {
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	APIKey       string `json:"api_key,omitempty"`
}

// Merge returns c with the fields set in update replacing its own (a PATCH that names
// only the secret it changes).
func (c Credentials) Merge(update Credentials) Credentials {
	for _, f := range []struct {
		dst *string
		src string
	}{{&c.ClientID, update.ClientID}, {&c.ClientSecret, update.ClientSecret},
		{&c.RefreshToken, update.RefreshToken}, {&c.APIKey, update.APIKey}} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	return c
}

var digits = regexp.MustCompile(`^[0-9]{1,19}$`)

// WithDefaults returns c with the platform's defaults filled in (hosts, region, budget).
// Targets store their config as the client gave it, so a new default or a changed
// environment applies without rewriting them.
func WithDefaults(platform string, c Config) Config {
	_ = Validate(platform, &c, Credentials{ClientID: "-", ClientSecret: "-", APIKey: "-"})
	return c
}

// Validate checks a target's platform, config and credentials and fills the defaults.
// The message names the field at fault.
func Validate(platform string, c *Config, cred Credentials) error {
	for _, u := range []struct{ name, v string }{{"api_url", c.APIURL}, {"login_url", c.LoginURL}, {"site_url", c.SiteURL}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.RawQuery != "" || p.User != nil {
			return fmt.Errorf("config.%s must be an http(s) URL without a query or credentials", u.name)
		}
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	c.LoginURL = strings.TrimRight(c.LoginURL, "/")
	c.SiteURL = strings.TrimRight(c.SiteURL, "/")
	switch platform {
	case BuildPass:
		if c.BuilderID == "" || c.ProjectID == "" {
			return fmt.Errorf("config.builder_id and config.project_id are required for BuildPass")
		}
		if c.Region == "" {
			c.Region = "au1"
		}
		if c.Region != "au1" && c.Region != "us1" {
			return fmt.Errorf("config.region must be au1 or us1")
		}
		if c.SourceApp == "" {
			c.SourceApp = "gallerist"
		}
		if c.APIURL == "" {
			c.APIURL = "https://api.buildpass.global"
		}
		if cred.ClientID == "" || cred.ClientSecret == "" {
			return fmt.Errorf("credentials.client_id and credentials.client_secret are required for BuildPass")
		}
	case Procore:
		if !digits.MatchString(c.CompanyID) || !digits.MatchString(c.ProjectID) {
			return fmt.Errorf("config.company_id and config.project_id must be Procore ids (digits)")
		}
		login, api := "https://login.procore.com", "https://api.procore.com"
		switch c.Environment {
		case "", "production":
			c.Environment = "production"
		case "sandbox":
			login, api = "https://login-sandbox.procore.com", "https://sandbox.procore.com"
		case "monthly":
			login, api = "https://login-sandbox-monthly.procore.com", "https://api-monthly.procore.com"
		default:
			return fmt.Errorf("config.environment must be production, sandbox or monthly")
		}
		if c.APIURL == "" {
			c.APIURL = api
		}
		if c.LoginURL == "" {
			c.LoginURL = login
		}
		if cred.ClientID == "" || cred.ClientSecret == "" {
			return fmt.Errorf("credentials.client_id and credentials.client_secret are required for Procore")
		}
	case BrilliantDirectories:
		if c.SiteURL == "" {
			return fmt.Errorf("config.site_url is required for Brilliant Directories")
		}
		if !digits.MatchString(c.MemberID) || !digits.MatchString(c.PostTypeID) {
			return fmt.Errorf("config.member_id and config.post_type_id must be Brilliant Directories ids (digits)")
		}
		if c.APIURL == "" {
			c.APIURL = c.SiteURL + "/api/v2"
		}
		if c.RequestsPerMinute == 0 {
			c.RequestsPerMinute = 100
		}
		if c.RequestsPerMinute < 1 || c.RequestsPerMinute > 1000 {
			return fmt.Errorf("config.requests_per_minute must be between 1 and 1000")
		}
		if cred.APIKey == "" {
			return fmt.Errorf("credentials.api_key is required for Brilliant Directories")
		}
	default:
		return fmt.Errorf("platform must be one of %s", strings.Join(Platforms, ", "))
	}
	return nil
}
