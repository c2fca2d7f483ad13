// JSON API client. With DASHBOARD_TOKEN set on the server, open the page as
// http://host:8080/#token=<token>: the token is kept in sessionStorage and sent as a bearer
// header; it is removed from the address bar at once so it is not shared or bookmarked.

const TOKEN_KEY = 'stock-mlops.dashboard.token';

function takeTokenFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
}
takeTokenFromHash();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The dashboard token this tab was opened with (also sent on the same-origin stream as `?token=`). */
export function dashboardToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export async function getJson(path, params = {}, { signal } = {}) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  return request(`${path}${qs.size ? `?${qs}` : ''}`, { signal });
}

/** POST a JSON body (the labelling panel's `/api/labels`). */
export async function postJson(path, body) {
  return request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function request(url, { headers = {}, ...init }) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(url, { ...init, headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) }, cache: 'no-store' });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? 'E_HTTP', body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}
