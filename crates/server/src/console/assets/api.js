// The console's calls: everything goes to /console/api (the REST APIs as the signed-in person),
// with the session's anti-forgery token on every request.


const meta = (n) => document.querySelector(`meta[name="keyhold-${n}"]`)?.content ?? '';
export const me = { csrf: meta('csrf'), oid: meta('oid'), upn: meta('upn'), name: meta('name'), tenant: meta('tenant') };

export const V = {
  groups: '2021-04-01', vaults: '2023-07-01', compute: '2023-03-01', msi: '2023-01-31', storage: '2023-01-01',
  auth: '2022-04-01', subs: '2022-12-01', insights: '2015-04-01', kv: '7.4',
};


export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || body?.message || `The request failed (${status}).`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

export async function call(method, url, body) {
  const headers = { 'X-Keyhold-Csrf': me.csrf };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin', cache: 'no-store',
  });
  if (resp.status === 401 && url.startsWith('/console/api/') && !url.startsWith('/console/api/vault/')) {
    location.href = '/';
    throw new ApiError(401, { error: { message: 'Your session has ended. Sign in again.' } });
  }
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!resp.ok) throw new ApiError(resp.status, json);
  return json;
}

export const arm = (method, path, version, body) =>
  call(method, `/console/api/arm${path}${path.includes('?') ? '&' : '?'}api-version=${version}`, body);
export const kv = (vault, method, path, body) =>
  call(method, `/console/api/vault/${vault}${path}${path.includes('?') ? '&' : '?'}api-version=${V.kv}`, body);
export const graph = (path) => call('GET', `/console/api/graph${path}`);

export async function armList(path, version) {
  const out = [];
  let page = await arm('GET', path, version);
  out.push(...(page?.value || []));
  while (page?.nextLink) {
    const next = new URL(page.nextLink);
    page = await call('GET', `/console/api/arm${next.pathname}${next.search}`);
    out.push(...(page?.value || []));
  }
  return out;
}

export async function kvList(vault, path) {
  const out = [];
  let page = await kv(vault, 'GET', path);
  out.push(...(page?.value || []));
  while (page?.nextLink) {
    const next = new URL(page.nextLink);
    page = await call('GET', `/console/api/vault/${vault}${next.pathname}${next.search}`);
    out.push(...(page?.value || []));
  }
  return out;
}

export let subsCache = null;
export async function subscriptions() {
  if (!subsCache) subsCache = await armList('/subscriptions', V.subs);
  return subsCache;
}
export async function firstSub() {
  const subs = await subscriptions();
  if (!subs.length) throw new ApiError(404, { error: { message: 'You have no subscription.' } });
  return subs[0].subscriptionId;
}
