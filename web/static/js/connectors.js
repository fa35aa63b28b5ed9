// What the pages know of the connector platforms: names, the fields of each platform's
// destination and credentials (docs/connectors.md), and their default endpoints.

/** The platforms, in the order the settings form offers them. */
export const PLATFORMS = {
  buildpass: {
    label: 'BuildPass',
    container: 'Folder',
    config: [
      { key: 'builder_id', label: 'Builder ID', placeholder: 'buil_…', required: true },
      { key: 'project_id', label: 'Project ID', placeholder: 'proj_…', required: true },
      { key: 'region', label: 'Region', options: [['au1', 'au1 — Australia'], ['us1', 'us1 — United States']] },
    ],
    advanced: [
      { key: 'api_url', label: 'API URL', type: 'url' },
      { key: 'source_app', label: 'Source app', placeholder: 'gallerist' },
    ],
    credentials: [
      { key: 'client_id', label: 'Client ID', required: true },
      { key: 'client_secret', label: 'Client secret', secret: true, required: true },
    ],
    help: 'An OAuth2 client-credentials app with the read:photos and write:photos scopes.',
  },
  procore: {
    label: 'Procore',
    container: 'Album',
    config: [
      { key: 'company_id', label: 'Company ID', digits: true, required: true },
      { key: 'project_id', label: 'Project ID', digits: true, required: true },
      { key: 'environment', label: 'Environment', options: [['production', 'Production'], ['sandbox', 'Sandbox'], ['monthly', 'Monthly sandbox']] },
    ],
    advanced: [
      { key: 'api_url', label: 'API URL', type: 'url' },
      { key: 'login_url', label: 'Login URL', type: 'url' },
    ],
    credentials: [
      { key: 'client_id', label: 'Client ID', required: true },
      { key: 'client_secret', label: 'Client secret', secret: true, required: true },
      { key: 'refresh_token', label: 'Refresh token (optional)', secret: true, hint: 'Only for an authorization-code app instead of a service account.' },
    ],
    help: 'A Developer Managed Service Account installed in the company with the Photos tool.',
  },
  brilliant_directories: {
    label: 'Brilliant Directories',
    container: 'Album post',
    config: [
      { key: 'site_url', label: 'Site URL', type: 'url', placeholder: 'https://www.example.com', required: true, span: true },
      { key: 'member_id', label: 'Member ID', digits: true, required: true },
      { key: 'post_type_id', label: 'Post type ID', digits: true, required: true },
      { key: 'publish_after_verify', label: 'Keep the album hidden until every photo imported, then publish it', checkbox: true },
    ],
    advanced: [
      { key: 'api_url', label: 'API URL', type: 'url' },
      { key: 'requests_per_minute', label: 'Requests per minute', number: true, min: 1, max: 1000, placeholder: '100' },
    ],
    credentials: [
      { key: 'api_key', label: 'API key', secret: true, required: true },
    ],
    help: 'An API key from Admin → Developer Hub that allows the album endpoints. The server needs a public GALLERIST_BASE_URL.',
  },
};

/** The platform's name for people: BuildPass. */
export const platformLabel = (p) => PLATFORMS[p]?.label || String(p || '').replace(/_/g, ' ');

const PROCORE_HOSTS = {
  production: ['https://api.procore.com', 'https://login.procore.com'],
  sandbox: ['https://sandbox.procore.com', 'https://login-sandbox.procore.com'],
  monthly: ['https://api-monthly.procore.com', 'https://login-sandbox-monthly.procore.com'],
};

/** The value the server fills in for an empty endpoint field, given the rest of config. */
export function defaultEndpoint(platform, key, cfg) {
  if (platform === 'buildpass' && key === 'api_url') return 'https://api.buildpass.global';
  if (platform === 'procore') {
    const h = PROCORE_HOSTS[cfg.environment || 'production'] || PROCORE_HOSTS.production;
    if (key === 'api_url') return h[0];
    if (key === 'login_url') return h[1];
  }
  if (platform === 'brilliant_directories' && key === 'api_url' && cfg.site_url) return `${cfg.site_url.replace(/\/+$/, '')}/api/v2`;
  return '';
}

/** A one-line description of where a connector puts photos. */
export function destination(c) {
  const g = c.config || {};
  let s;
  if (c.platform === 'buildpass') s = `Builder ${g.builder_id}, project ${g.project_id} (${g.region || 'au1'})`;
  else if (c.platform === 'procore') s = `Company ${g.company_id}, project ${g.project_id} (${g.environment || 'production'})`;
  else if (c.platform === 'brilliant_directories') s = `${g.site_url}, member ${g.member_id}, post type ${g.post_type_id}`;
  else s = '';
  if (g.api_url && g.api_url !== defaultEndpoint(c.platform, 'api_url', g)) s += ` · API ${g.api_url}`;
  return s;
}
