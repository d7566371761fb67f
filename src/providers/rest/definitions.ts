// The built-in declarative definitions (see definition.ts for the format; docs/providers.md, "Your own provider", for a worked
// example). Plain data, checked by the same validator as a user's --provider-file.

/**
 * Grafana's service-account tokens (HTTP API: /api/serviceaccounts). A token belongs to one service account and has
 * that account's role, so a new token of the same account has the old one's permissions. Grafana reports each
 * token's `lastUsedAt`, written in the background at most every 5 minutes, hence `refreshSeconds`. Probes use
 * GET /api/org, which any token of the organization may call. Tokens cannot change their expiry once made.
 */
export const GRAFANA = {
  id: 'grafana',
  displayName: 'Grafana',
  baseUrl: 'http://localhost:3000',
  adminKeyEnv: 'GRAFANA_TOKEN',
  baseUrlEnv: 'GRAFANA_URL',
  // A service-account token's own account: GET /api/user answers its login (the label --user matches).
  identity: { path: '/api/org', label: 'name', account: { path: '/api/user', field: 'login' } },
  probe: { path: '/api/org' },
  accounts: {
    list: '/api/serviceaccounts/search',
    items: 'serviceAccounts',
    pages: { page: 'page', size: 'perpage', perPage: 100 },
    get: '/api/serviceaccounts/{account}',
    idPattern: '^[0-9]+$',
    fields: { id: 'id', label: 'login', name: 'name' },
  },
  keys: {
    list: '/api/serviceaccounts/{account}/tokens',
    items: '',
    create: { path: '/api/serviceaccounts/{account}/tokens', body: { name: '{name}', secondsToLive: '{secondsToLive}' }, key: '', secret: 'key' },
    revoke: '/api/serviceaccounts/{account}/tokens/{key}',
    fields: { id: 'id', name: 'name', expiresAt: 'expiration', lastUsedAt: 'lastUsedAt', revoked: 'isRevoked' },
  },
  lastUsed: { refreshSeconds: 300 },
};

/**
 * keyrot's example service-account platform: service accounts whose keys have scopes, an `expires_at` and a per-key
 * "Last used" that updates within a minute; issuing needs the admin or owner role. It imitates no public API: it is
 * the worked example of a --provider-file definition (docs/providers.md), served by `keyrot sandbox --provider
 * example`, and uses every feature (an API-key header, per-key scopes copied on rotation, an expiry that can be moved
 * for `--keep-old 7d`, each key's last characters in its listing, so a mask tells keys apart).
 */
export const EXAMPLE = {
  id: 'example',
  displayName: 'Example service-account platform',
  baseUrl: 'http://127.0.0.1:8080/api/v1',
  adminKeyEnv: 'EXAMPLE_API_KEY',
  baseUrlEnv: 'EXAMPLE_API_URL',
  auth: { header: 'X-Api-Key', prefix: '' },
  identity: { path: '/me', label: 'email', name: 'name', account: { path: '/me', field: 'name' } },
  probe: { path: '/me' },
  accounts: {
    list: '/service-accounts',
    items: 'service_accounts',
    get: '/service-accounts/{account}',
    idPattern: '^sa_',
    fields: { id: 'id', label: 'name', name: 'description' },
  },
  keys: {
    list: '/service-accounts/{account}/keys',
    items: 'keys',
    create: {
      path: '/service-accounts/{account}/keys',
      body: { name: '{name}', scopes: '{scopes}', expires_at: '{expiresAt}' },
      key: 'key',
      secret: 'secret',
    },
    revoke: '/service-accounts/{account}/keys/{key}',
    expire: { method: 'PATCH', path: '/service-accounts/{account}/keys/{key}', body: { expires_at: '{expiresAt}' } },
    fields: { id: 'id', name: 'name', lastChars: 'last_chars', expiresAt: 'expires_at', lastUsedAt: 'last_used_at', scopes: 'scopes', revoked: 'revoked_at' },
  },
  lastUsed: { refreshSeconds: 60 },
};
