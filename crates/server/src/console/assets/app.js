// keyhold's console: one page, hash routes, plain DOM. Every read and change is a call to
// /console/api (the REST APIs as the signed-in person); nothing is decided here that the server
// does not decide again. Text goes into the page with textContent only, never as HTML.
'use strict';

const meta = (n) => document.querySelector(`meta[name="keyhold-${n}"]`)?.content ?? '';
const me = { csrf: meta('csrf'), oid: meta('oid'), upn: meta('upn'), name: meta('name'), tenant: meta('tenant') };

const V = {
  groups: '2021-04-01', vaults: '2023-07-01', compute: '2023-03-01', msi: '2023-01-31', storage: '2023-01-01',
  auth: '2022-04-01', subs: '2022-12-01', insights: '2015-04-01', kv: '7.4',
};

// ---------- calls ----------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || body?.message || `The request failed (${status}).`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

async function call(method, url, body) {
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

const arm = (method, path, version, body) =>
  call(method, `/console/api/arm${path}${path.includes('?') ? '&' : '?'}api-version=${version}`, body);
const kv = (vault, method, path, body) =>
  call(method, `/console/api/vault/${vault}${path}${path.includes('?') ? '&' : '?'}api-version=${V.kv}`, body);
const graph = (path) => call('GET', `/console/api/graph${path}`);

async function armList(path, version) {
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

async function kvList(vault, path) {
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

let subsCache = null;
async function subscriptions() {
  if (!subsCache) subsCache = await armList('/subscriptions', V.subs);
  return subsCache;
}
async function firstSub() {
  const subs = await subscriptions();
  if (!subs.length) throw new ApiError(404, { error: { message: 'You have no subscription.' } });
  return subs[0].subscriptionId;
}

// ---------- DOM ----------

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

let uid = 0;
const nextId = () => `f${++uid}`;

function field(label, control, hint) {
  const id = control.id || nextId();
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint' }, hint) : null);
}
const input = (attrs = {}) => h('input', { type: 'text', ...attrs });
function select(options, attrs = {}) {
  const s = h('select', attrs);
  for (const o of options) {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    s.append(h('option', { value }, text));
  }
  return s;
}
function radios(legend, name, options, checked) {
  return h('fieldset', { class: 'radios' }, h('legend', {}, legend),
    options.map(([value, text]) => {
      const id = nextId();
      return h('div', {}, h('input', { type: 'radio', name, id, value, checked: value === checked }), h('label', { for: id }, text));
    }));
}
const radioValue = (root, name) => root.querySelector(`input[name="${name}"]:checked`)?.value;
function checkbox(label, attrs = {}) {
  const id = nextId();
  return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, ...attrs }), h('label', { for: id }, label));
}
const button = (text, onclick, attrs = {}) => h('button', { type: 'button', onclick, ...attrs }, text);
const link = (text, href) => h('a', { href }, text);
const toolbar = (...items) => h('div', { class: 'toolbar', role: 'toolbar' }, ...items);

function table(caption, headers, rows) {
  if (!rows.length) return h('p', { class: 'empty' }, `No ${caption.toLowerCase()} to display.`);
  return h('table', {},
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}
function dl(pairs) {
  return h('dl', { class: 'props' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '--')]));
}

const main = () => document.getElementById('main');

/// Replaces the page's content; the first heading becomes the document title and takes focus.
function show(...nodes) {
  const m = main();
  m.replaceChildren(...nodes.flat().filter(Boolean));
  const h1 = m.querySelector('h1');
  document.title = `${h1 ? h1.textContent : 'keyhold'} - keyhold`;
  m.focus({ preventScroll: false });
}

function alertBox(message) {
  return h('div', { role: 'alert', class: 'alert' }, message);
}
/// Shows an error above the current content (the server's own message, which names what is missing).
function fail(e) {
  const m = main();
  m.querySelectorAll('.alert').forEach((a) => a.remove());
  const box = alertBox(e instanceof Error ? e.message : String(e));
  const h1 = m.querySelector('h1');
  if (h1) h1.after(box); else m.prepend(box);
}
function notify(text) {
  const s = document.getElementById('status');
  s.textContent = text;
  setTimeout(() => { if (s.textContent === text) s.textContent = ''; }, 8000);
}

/// Runs an action from a button: disabled while it runs, its failure shown.
function act(fn) {
  return async (ev) => {
    const b = ev?.currentTarget;
    if (b) b.disabled = true;
    try { await fn(ev); } catch (e) { fail(e); } finally { if (b && b.isConnected) b.disabled = false; }
  };
}

const go = (hash) => { if (location.hash === hash) render(); else location.hash = hash; };
const fmtTime = (unix) => (unix ? new Date(unix * 1000).toLocaleString() : '--');
const toUnix = (local) => (local ? Math.floor(new Date(local).getTime() / 1000) : undefined);

function confirmDialog(title, message, action, confirmLabel) {
  const d = h('dialog', { 'aria-labelledby': 'dlg-title' });
  d.append(
    h('h2', { id: 'dlg-title' }, title), h('p', {}, message),
    h('div', { class: 'actions' },
      button(confirmLabel, act(async () => { await action(); d.close(); d.remove(); }), { class: 'primary' }),
      button('Cancel', () => { d.close(); d.remove(); })),
  );
  document.body.append(d);
  d.showModal();
}

// ---------- ARM ids ----------

function parseId(id) {
  const parts = id.split('/').filter(Boolean);
  const out = { id, sub: parts[1], group: null, provider: null, type: null, name: null };
  for (let i = 0; i < parts.length; i++) {
    if (parts[i].toLowerCase() === 'resourcegroups') out.group = parts[i + 1];
    if (parts[i].toLowerCase() === 'providers') {
      out.provider = parts[i + 1];
      out.type = `${parts[i + 1]}/${parts[i + 2]}`;
      out.name = parts[i + 3];
    }
  }
  if (!out.type && out.group) out.name = out.group;
  return out;
}
const KIND = {
  'microsoft.keyvault/vaults': { label: 'Key vault', version: V.vaults },
  'microsoft.compute/virtualmachines': { label: 'Virtual machine', version: V.compute },
  'microsoft.managedidentity/userassignedidentities': { label: 'Managed Identity', version: V.msi },
  'microsoft.storage/storageaccounts': { label: 'Storage account', version: V.storage },
};
const resourceHash = (id, blade, extra = {}) => {
  const q = new URLSearchParams({ ...(blade ? { blade } : {}), ...extra }).toString();
  return `#/resource${id}${q ? `?${q}` : ''}`;
};

const REGIONS = ['eastus', 'eastus2', 'westus', 'westus2', 'centralus', 'northeurope', 'westeurope', 'uksouth', 'japaneast', 'australiaeast'];

// ---------- Home, Create a resource ----------

function home() {
  show(h('h1', {}, 'Home'),
    h('section', {}, h('h2', {}, 'Azure services'),
      h('ul', { class: 'tiles' },
        h('li', {}, link('Create a resource', '#/create')),
        h('li', {}, link('Resource groups', '#/resourceGroups')),
        h('li', {}, link('Key vaults', '#/vaults')),
        h('li', {}, link('Virtual machines', '#/virtualMachines')),
        h('li', {}, link('Managed Identities', '#/userAssignedIdentities')),
        h('li', {}, link('Storage accounts', '#/storageAccounts')))),
    h('p', {}, `Signed in as ${me.upn}.`));
}

const OFFERINGS = [
  { name: 'Key Vault', key: 'Microsoft.KeyVault', about: 'Safeguard cryptographic keys and other secrets used by cloud apps and services.' },
  { name: 'Resource group', key: 'resourceGroup', about: 'A container that holds related resources for an Azure solution.' },
  { name: 'Virtual machine', key: 'Microsoft.Compute', about: 'A virtual machine, whose managed identity keyhold agent serves.' },
  { name: 'User Assigned Managed Identity', key: 'Microsoft.ManagedIdentity', about: 'An identity of its own that resources can share.' },
  { name: 'Storage account', key: 'Microsoft.Storage', about: 'A storage account with its access keys.' },
];

function createResource(query) {
  const box = input({ type: 'search', name: 'q', value: query || '', autocomplete: 'off' });
  const results = h('ul', { class: 'results', 'aria-label': 'Results' });
  const list = (text) => {
    const t = text.trim().toLowerCase();
    const found = OFFERINGS.filter((o) => !t || o.name.toLowerCase().includes(t) || o.key.toLowerCase().includes(t));
    results.replaceChildren(...found.map((o) => h('li', {}, button(o.name, () => go(`#/create/product/${o.key}`)), h('span', { class: 'hint' }, o.about))));
    if (!found.length) results.append(h('li', {}, 'No results were found.'));
  };
  const form = h('form', { role: 'search', onsubmit: (e) => { e.preventDefault(); list(box.value); } },
    field('Search the Marketplace', box), h('button', { type: 'submit', class: 'visually-hidden' }, 'Search'));
  show(h('h1', {}, 'Create a resource'), form, h('h2', {}, 'Popular products'), results);
  list(query || '');
  box.focus();
}

function product(key) {
  const o = OFFERINGS.find((x) => x.key === key);
  if (!o) return notFound();
  show(h('h1', {}, o.name), h('p', {}, o.about), toolbar(button('Create', () => go(`#/create/${o.key}`), { class: 'primary' })));
}

/// The form's answer once created: the portal's deployment page.
function deployed(id) {
  show(h('h1', {}, 'Your deployment is complete'),
    h('p', {}, `Deployment succeeded: ${parseId(id).name}`),
    toolbar(button('Go to resource', () => go(resourceHash(id)), { class: 'primary' })));
}

async function groupOptions(sub) {
  const groups = await armList(`/subscriptions/${sub}/resourcegroups`, V.groups);
  return groups.map((g) => [g.name, g.name]);
}

async function subscriptionSelect() {
  const subs = await subscriptions();
  return select(subs.map((s) => [s.subscriptionId, s.displayName || s.subscriptionId]), { name: 'subscription' });
}

/// A form with the basics every resource has (subscription, group, name, region).
async function basics(nameLabel, { groupSelect = true } = {}) {
  const sub = await subscriptionSelect();
  const group = groupSelect ? select(await groupOptions(sub.value), { name: 'group', required: true }) : null;
  const name = input({ name: 'name', required: true, autocomplete: 'off' });
  const region = select(REGIONS, { name: 'region' });
  return { sub, group, name, region };
}

async function createVault() {
  const b = await basics('Name');
  const tier = select([['standard', 'Standard'], ['premium', 'Premium']], { name: 'tier' });
  const days = input({ type: 'number', min: 7, max: 90, value: 90, name: 'days' });
  const purge = radios('Purge protection', 'purge', [['off', 'Disable purge protection'], ['on', 'Enable purge protection']], 'off');
  const model = radios('Permission model', 'model', [['policy', 'Vault access policy'], ['rbac', 'Azure role-based access control']], 'policy');
  const form = h('form', { novalidate: true },
    h('h2', {}, 'Project details'), field('Subscription', b.sub), field('Resource group', b.group),
    h('h2', {}, 'Instance details'), field('Name', b.name, 'Letters, digits and dashes, 3 to 24 characters, starting with a letter.'),
    field('Region', b.region), field('Pricing tier', tier),
    h('h2', {}, 'Recovery options'), field('Days to retain deleted vaults', days), purge,
    h('h2', {}, 'Access configuration'), model,
    toolbar(h('button', { type: 'submit', class: 'primary' }, 'Review + create')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = b.name.value.trim();
    if (!/^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/.test(name) || name.includes('--')) {
      return fail('The vault name must be 3-24 characters: letters, digits and dashes, starting with a letter and ending with a letter or digit, with no consecutive dashes.');
    }
    if (!b.group.value) return fail('Select a resource group, or create one first.');
    const values = {
      sub: b.sub.value, group: b.group.value, name, region: b.region.value, tier: tier.value,
      days: Number(days.value), purge: radioValue(form, 'purge') === 'on', rbac: radioValue(form, 'model') === 'rbac',
    };
    reviewVault(values);
  });
  show(h('h1', {}, 'Create a key vault'), form);
}

function reviewVault(v) {
  const id = `/subscriptions/${v.sub}/resourceGroups/${v.group}/providers/Microsoft.KeyVault/vaults/${v.name}`;
  const create = act(async () => {
    const properties = {
      tenantId: me.tenant, sku: { family: 'A', name: v.tier }, enableRbacAuthorization: v.rbac,
      softDeleteRetentionInDays: v.days, accessPolicies: [],
    };
    if (v.purge) properties.enablePurgeProtection = true;
    if (!v.rbac) {
      properties.accessPolicies.push({ tenantId: me.tenant, objectId: me.oid, permissions: TEMPLATES['Key, Secret & Certificate Management'] });
    }
    notify('Deployment in progress...');
    await arm('PUT', id, V.vaults, { location: v.region, properties });
    notify('Deployment succeeded');
    deployed(id);
  });
  show(h('h1', {}, 'Create a key vault'), h('h2', {}, 'Review + create'),
    dl([['Subscription', v.sub], ['Resource group', v.group], ['Name', v.name], ['Region', v.region],
      ['Pricing tier', v.tier === 'premium' ? 'Premium' : 'Standard'], ['Days to retain deleted vaults', String(v.days)],
      ['Purge protection', v.purge ? 'Enabled' : 'Disabled'], ['Permission model', v.rbac ? 'Azure role-based access control' : 'Vault access policy']]),
    toolbar(button('Create', create, { class: 'primary' }), button('Previous', () => createVault())));
}

async function createGroup() {
  const b = await basics('Resource group', { groupSelect: false });
  const form = h('form', {}, field('Subscription', b.sub), field('Resource group', b.name), field('Region', b.region),
    toolbar(h('button', { type: 'submit', class: 'primary' }, 'Review + create')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = b.name.value.trim();
    if (!name) return fail('Enter a resource group name.');
    const id = `/subscriptions/${b.sub.value}/resourceGroups/${name}`;
    show(h('h1', {}, 'Create a resource group'), h('h2', {}, 'Review + create'),
      dl([['Subscription', b.sub.value], ['Resource group', name], ['Region', b.region.value]]),
      toolbar(button('Create', act(async () => {
        await arm('PUT', id, V.groups, { location: b.region.value });
        notify(`Resource group ${name} created`);
        go(resourceHash(id));
      }), { class: 'primary' })));
  });
  show(h('h1', {}, 'Create a resource group'), form);
}

/// Create forms of the other kinds: one PUT each.
async function createSimple(title, nameLabel, type, version, bodyOf) {
  const b = await basics(nameLabel);
  const form = h('form', {}, field('Subscription', b.sub), field('Resource group', b.group), field(nameLabel, b.name), field('Region', b.region),
    toolbar(h('button', { type: 'submit', class: 'primary' }, 'Create')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = b.name.value.trim();
    if (!name) return fail(`Enter a ${nameLabel.toLowerCase()}.`);
    if (!b.group.value) return fail('Select a resource group, or create one first.');
    const id = `/subscriptions/${b.sub.value}/resourceGroups/${b.group.value}/providers/${type}/${name}`;
    try {
      notify('Deployment in progress...');
      await arm('PUT', id, version, bodyOf(b.region.value));
      deployed(id);
    } catch (err) { fail(err); }
  });
  show(h('h1', {}, title), form);
}

// ---------- lists ----------

async function listPage(title, type, version, createHash) {
  const sub = await firstSub();
  const items = type === 'groups'
    ? await armList(`/subscriptions/${sub}/resourcegroups`, V.groups)
    : await armList(`/subscriptions/${sub}/providers/${type}`, version);
  const rows = items.map((r) => [link(r.name, resourceHash(r.id)), parseId(r.id).group || '--', r.location || '--']);
  show(h('h1', {}, title), toolbar(button('Create', () => go(createHash), { class: 'primary' }), button('Refresh', () => render())),
    table(title, ['Name', 'Resource group', 'Location'], rows));
}

// ---------- a resource ----------

const BLADES = {
  group: [['overview', 'Overview']],
  'microsoft.keyvault/vaults': [['overview', 'Overview'], ['activity', 'Activity log'], ['iam', 'Access control (IAM)'], ['policies', 'Access policies'], ['keys', 'Keys'], ['secrets', 'Secrets'], ['certificates', 'Certificates']],
  'microsoft.compute/virtualmachines': [['overview', 'Overview'], ['identity', 'Identity'], ['iam', 'Access control (IAM)']],
  'microsoft.managedidentity/userassignedidentities': [['overview', 'Overview'], ['iam', 'Access control (IAM)']],
  'microsoft.storage/storageaccounts': [['overview', 'Overview'], ['keys', 'Access keys'], ['iam', 'Access control (IAM)']],
};

async function resourcePage(id, params) {
  const r = parseId(id);
  const kind = r.type ? r.type.toLowerCase() : 'group';
  const blade = params.get('blade') || 'overview';
  const menu = h('nav', { 'aria-label': 'Resource menu', class: 'resource-menu' },
    h('p', { class: 'crumb' }, `${r.name} | ${kind === 'group' ? 'Resource group' : KIND[kind]?.label || r.type}`),
    h('ul', {}, (BLADES[kind] || [['overview', 'Overview']]).map(([key, text]) =>
      h('li', {}, h('a', { href: resourceHash(id, key), 'aria-current': key === blade ? 'page' : null }, text)))));
  const body = h('div', { class: 'blade' });
  document.getElementById('main').replaceChildren(menu, body);
  const putBlade = async (...nodes) => {
    body.replaceChildren(...nodes.flat().filter(Boolean));
    const h1 = body.querySelector('h1');
    document.title = `${h1 ? h1.textContent : r.name} - keyhold`;
    main().focus();
  };
  const ctx = { id, r, kind, params, show: putBlade };
  if (kind === 'group') return groupOverview(ctx);
  const k = kind;
  if (blade === 'iam') return iam(ctx);
  if (k === 'microsoft.keyvault/vaults') {
    return ({ overview: vaultOverview, secrets: secrets, deletedsecrets: deletedSecrets, keys: keys, certificates: certificates,
      policies: accessPolicies, activity: activityLog })[blade]?.(ctx) ?? notFound();
  }
  if (k === 'microsoft.compute/virtualmachines') return blade === 'identity' ? vmIdentity(ctx) : genericOverview(ctx);
  if (k === 'microsoft.storage/storageaccounts') return blade === 'keys' ? storageKeys(ctx) : genericOverview(ctx);
  return genericOverview(ctx);
}

async function groupOverview({ id, r, show: put }) {
  const group = await arm('GET', id, V.groups);
  const resources = await armList(`${id}/resources`, V.groups);
  const del = () => {
    const d = h('dialog', { 'aria-labelledby': 'del-title' });
    const typed = input({ autocomplete: 'off' });
    const go2 = button('Delete', act(async () => {
      if (typed.value !== r.name) throw new Error('The name you entered does not match the resource group name.');
      await arm('DELETE', id, V.groups);
      d.close(); d.remove();
      notify(`Resource group ${r.name} deleted`);
      go('#/resourceGroups');
    }), { class: 'danger' });
    d.append(h('h2', { id: 'del-title' }, 'Delete a resource group'),
      h('p', {}, `The following resource group and all its dependent resources will be permanently deleted: ${r.name}`),
      field('Enter resource group name to confirm deletion', typed),
      h('div', { class: 'actions' }, go2, button('Cancel', () => { d.close(); d.remove(); })));
    document.body.append(d);
    d.showModal();
  };
  put(h('h1', {}, r.name), toolbar(button('Delete resource group', del, { class: 'danger' })),
    h('h2', {}, 'Essentials'), dl([['Subscription ID', r.sub], ['Location', group.location]]),
    h('h2', {}, 'Resources'),
    table('Resources', ['Name', 'Type', 'Location'], resources.map((x) => [link(x.name, resourceHash(x.id)), x.type, x.location || '--'])));
}

async function genericOverview({ id, r, kind, show: put }) {
  const res = await arm('GET', id, KIND[kind].version);
  const pairs = [['Resource group', r.group], ['Location', res.location], ['Subscription ID', r.sub]];
  if (kind === 'microsoft.managedidentity/userassignedidentities') {
    pairs.push(['Client ID', res.properties?.clientId], ['Object (principal) ID', res.properties?.principalId], ['Tenant ID', res.properties?.tenantId]);
  }
  if (kind === 'microsoft.compute/virtualmachines') pairs.push(['Status', 'Running']);
  put(h('h1', {}, r.name), h('h2', {}, 'Essentials'), dl(pairs));
}

// ---------- vault ----------

const vaultOf = (r) => r.name.toLowerCase();

async function vaultOverview({ id, r, show: put }) {
  const v = await arm('GET', id, V.vaults);
  const p = v.properties || {};
  put(h('h1', {}, v.name), h('h2', {}, 'Essentials'), dl([
    ['Resource group', r.group], ['Location', v.location], ['Subscription', r.sub], ['Subscription ID', r.sub],
    ['Vault URI', p.vaultUri], ['Pricing tier', p.sku?.name === 'premium' ? 'Premium' : 'Standard'], ['Directory ID', p.tenantId],
    ['Soft-delete', p.enableSoftDelete === false ? 'Disabled' : 'Enabled'], ['Days to retain deleted vaults', String(p.softDeleteRetentionInDays ?? 90)],
    ['Purge protection', p.enablePurgeProtection ? 'Enabled' : 'Disabled'],
    ['Permission model', p.enableRbacAuthorization ? 'Azure role-based access control' : 'Vault access policy'],
  ]));
}

const lastSeg = (url) => url.split('/').filter(Boolean).pop();
const status = (attrs) => (attrs?.enabled === false ? 'Disabled' : 'Enabled');

async function secrets(ctx) {
  const { id, r, params, show: put } = ctx;
  const vault = vaultOf(r);
  if (params.get('new')) return createSecret(ctx);
  const item = params.get('item');
  if (item && params.get('version')) return secretVersion(ctx, item, params.get('version'));
  if (item) return secretItem(ctx, item);
  const head = [h('h1', {}, 'Secrets'), toolbar(
    button('Generate/Import', () => go(resourceHash(id, 'secrets', { new: 1 })), { class: 'primary' }),
    button('Refresh', () => render()),
    button('Manage deleted secrets', () => go(resourceHash(id, 'deletedsecrets'))))];
  try {
    const list = await kvList(vault, '/secrets');
    put(head, table('Secrets', ['Name', 'Type', 'Status', 'Expiration date'], list.map((s) => {
      const name = lastSeg(s.id);
      return [link(name, resourceHash(id, 'secrets', { item: name })), s.contentType || '', status(s.attributes), fmtTime(s.attributes?.exp)];
    })));
  } catch (e) { put(head); fail(e); }
}

function createSecret({ id, r, show: put }) {
  const vault = vaultOf(r);
  const upload = select(['Manual'], { name: 'upload' });
  const name = input({ name: 'name', required: true, autocomplete: 'off' });
  const value = h('textarea', { name: 'value', rows: 3, autocomplete: 'off', spellcheck: 'false', class: 'secret' });
  const ctype = input({ name: 'contentType' });
  const nbf = input({ type: 'datetime-local', name: 'nbf' });
  const exp = input({ type: 'datetime-local', name: 'exp' });
  const nbfField = field('Activation date', nbf); nbfField.hidden = true;
  const expField = field('Expiration date', exp); expField.hidden = true;
  const setNbf = checkbox('Set activation date', { onchange: (e) => { nbfField.hidden = !e.target.checked; } });
  const setExp = checkbox('Set expiration date', { onchange: (e) => { expField.hidden = !e.target.checked; } });
  const enabled = radios('Enabled', 'enabled', [['yes', 'Yes'], ['no', 'No']], 'yes');
  const tags = h('textarea', { name: 'tags', rows: 2 });
  const form = h('form', {}, field('Upload options', upload), field('Name', name), field('Secret value', value), field('Content type', ctype),
    setNbf, nbfField, setExp, expField, enabled, field('Tags', tags, 'One name=value per line.'),
    toolbar(h('button', { type: 'submit', class: 'primary' }, 'Create'), button('Cancel', () => go(resourceHash(id, 'secrets')))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = name.value.trim();
    if (!/^[0-9a-zA-Z-]{1,127}$/.test(n)) return fail('The secret name must be 1-127 characters: letters, digits and dashes.');
    const attributes = { enabled: radioValue(form, 'enabled') === 'yes' };
    if (setNbf.querySelector('input').checked && nbf.value) attributes.nbf = toUnix(nbf.value);
    if (setExp.querySelector('input').checked && exp.value) attributes.exp = toUnix(exp.value);
    const body = { value: value.value, attributes };
    if (ctype.value) body.contentType = ctype.value;
    const t = {};
    for (const line of tags.value.split('\n')) {
      const [k, ...rest] = line.split('=');
      if (k.trim()) t[k.trim()] = rest.join('=').trim();
    }
    if (Object.keys(t).length) body.tags = t;
    try {
      await kv(vault, 'PUT', `/secrets/${encodeURIComponent(n)}`, body);
      value.value = '';
      notify(`The secret '${n}' has been successfully created.`);
      go(resourceHash(id, 'secrets'));
    } catch (err) { fail(err); }
  });
  put(h('h1', {}, 'Create a secret'), form);
}

async function secretItem({ id, r, show: put }, name) {
  const vault = vaultOf(r);
  const head = [h('h1', {}, name), toolbar(
    button('Delete', () => confirmDialog('Delete secret', `Are you sure you want to delete the secret '${name}'?`, async () => {
      await kv(vault, 'DELETE', `/secrets/${encodeURIComponent(name)}`);
      notify(`The secret '${name}' has been deleted.`);
      go(resourceHash(id, 'secrets'));
    }, 'Delete'), { class: 'danger' }),
    button('Refresh', () => render()))];
  try {
    const versions = await kvList(vault, `/secrets/${encodeURIComponent(name)}/versions`);
    versions.sort((a, b) => (b.attributes?.created || 0) - (a.attributes?.created || 0));
    put(head, h('h2', {}, 'Versions'), table('Versions', ['Version', 'Status', 'Activation date', 'Expiration date'], versions.map((v) => {
      const ver = lastSeg(v.id);
      return [link(ver, resourceHash(id, 'secrets', { item: name, version: ver })), status(v.attributes), fmtTime(v.attributes?.nbf), fmtTime(v.attributes?.exp)];
    })));
  } catch (e) { put(head); fail(e); }
}

async function secretVersion({ id, r, show: put }, name, version) {
  const vault = vaultOf(r);
  const path = `/secrets/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
  // The list entry has the properties without the value; the value is read only on request.
  const versions = await kvList(vault, `/secrets/${encodeURIComponent(name)}/versions`).catch((e) => { fail(e); return []; });
  const props = versions.find((v) => lastSeg(v.id) === version) || {};
  const enabled = radios('Enabled', 'enabled', [['yes', 'Yes'], ['no', 'No']], props.attributes?.enabled === false ? 'no' : 'yes');
  const valueBox = h('div', { class: 'value' });
  const showValue = button('Show Secret Value', act(async () => {
    const s = await kv(vault, 'GET', path);
    const out = input({ readonly: true, value: s.value, class: 'secret', spellcheck: 'false' });
    valueBox.replaceChildren(field('Secret value', out), button('Hide Secret Value', () => { valueBox.replaceChildren(showValue); }));
  }));
  valueBox.append(showValue);
  const save = button('Save', act(async () => {
    await kv(vault, 'PATCH', path, { attributes: { enabled: radioValue(main(), 'enabled') === 'yes' } });
    notify('The secret has been updated.');
  }), { class: 'primary' });
  put(h('h1', {}, version), toolbar(save, button('Discard changes', () => render())), h('h2', {}, 'Properties'),
    dl([['Secret Identifier', `${props.id ? props.id.split('/secrets/')[0] : ''}/secrets/${name}/${version}`], ['Content type', props.contentType || ''],
      ['Activation date', fmtTime(props.attributes?.nbf)], ['Expiration date', fmtTime(props.attributes?.exp)]]),
    enabled, valueBox, h('p', {}, link('Back to versions', resourceHash(id, 'secrets', { item: name }))));
}

async function deletedSecrets({ id, r, show: put }) {
  const vault = vaultOf(r);
  const head = [h('h1', {}, 'Deleted secrets'), toolbar(button('Refresh', () => render()), button('Back to secrets', () => go(resourceHash(id, 'secrets'))))];
  try {
    const list = await kvList(vault, '/deletedsecrets');
    put(head, table('Deleted secrets', ['Name', 'Deletion date', 'Scheduled purge date', 'Actions'], list.map((s) => {
      const name = lastSeg(s.id);
      return [name, fmtTime(s.deletedDate), fmtTime(s.scheduledPurgeDate), h('span', { class: 'row-actions' },
        button('Recover', act(async () => { await kv(vault, 'POST', `/deletedsecrets/${encodeURIComponent(name)}/recover`); notify(`The secret '${name}' has been recovered.`); render(); }), { 'aria-label': `Recover ${name}` }),
        button('Purge', () => confirmDialog('Purge secret', `Permanently delete '${name}'? This cannot be undone.`, async () => {
          await kv(vault, 'DELETE', `/deletedsecrets/${encodeURIComponent(name)}`);
          notify(`The secret '${name}' has been purged.`);
          render();
        }, 'Purge'), { 'aria-label': `Purge ${name}`, class: 'danger' }))];
    })));
  } catch (e) { put(head); fail(e); }
}

async function keys({ id, r, params, show: put }) {
  const vault = vaultOf(r);
  if (params.get('new')) {
    const name = input({ name: 'name', required: true, autocomplete: 'off' });
    const kty = radios('Key type', 'kty', [['RSA', 'RSA'], ['EC', 'EC']], 'RSA');
    const size = select(['2048', '3072', '4096'], { name: 'size' });
    const curve = select(['P-256', 'P-384', 'P-521', 'P-256K'], { name: 'curve' });
    const enabled = radios('Enabled', 'enabled', [['yes', 'Yes'], ['no', 'No']], 'yes');
    const form = h('form', {}, field('Options', select(['Generate'])), field('Name', name), kty, field('RSA key size', size), field('Elliptic curve name', curve), enabled,
      toolbar(h('button', { type: 'submit', class: 'primary' }, 'Create'), button('Cancel', () => go(resourceHash(id, 'keys')))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const t = radioValue(form, 'kty');
      const body = { kty: t, attributes: { enabled: radioValue(form, 'enabled') === 'yes' } };
      if (t === 'RSA') body.key_size = Number(size.value); else body.crv = curve.value;
      try {
        await kv(vault, 'POST', `/keys/${encodeURIComponent(name.value.trim())}/create`, body);
        notify(`The key '${name.value.trim()}' has been successfully created.`);
        go(resourceHash(id, 'keys'));
      } catch (err) { fail(err); }
    });
    return put(h('h1', {}, 'Create a key'), form);
  }
  const head = [h('h1', {}, 'Keys'), toolbar(button('Generate/Import', () => go(resourceHash(id, 'keys', { new: 1 })), { class: 'primary' }), button('Refresh', () => render()))];
  try {
    const list = await kvList(vault, '/keys');
    const rows = [];
    for (const k of list) {
      const name = lastSeg(k.kid);
      let type = '';
      try { type = (await kv(vault, 'GET', `/keys/${encodeURIComponent(name)}`)).key?.kty || ''; } catch { type = ''; }
      rows.push([name, type, status(k.attributes)]);
    }
    put(head, table('Keys', ['Name', 'Type', 'Status'], rows));
  } catch (e) { put(head); fail(e); }
}

async function certificates({ id, r, params, show: put }) {
  const vault = vaultOf(r);
  if (params.get('new')) {
    const name = input({ name: 'name', required: true, autocomplete: 'off' });
    const subject = input({ name: 'subject', value: 'CN=' });
    const months = input({ type: 'number', min: 1, max: 120, value: 12, name: 'months' });
    const ctype = select([['application/x-pkcs12', 'PKCS #12'], ['application/x-pem-file', 'PEM']], { name: 'ctype' });
    const form = h('form', {}, field('Method of Certificate Creation', select(['Generate'])), field('Certificate Name', name),
      field('Type of Certificate Authority (CA)', select(['Self-signed certificate'])), field('Subject', subject),
      field('Validity Period (in months)', months), field('Content Type', ctype),
      toolbar(h('button', { type: 'submit', class: 'primary' }, 'Create'), button('Cancel', () => go(resourceHash(id, 'certificates')))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const policy = {
        key_props: { kty: 'RSA', key_size: 2048, exportable: true, reuse_key: false },
        secret_props: { contentType: ctype.value },
        x509_props: { subject: subject.value, validity_months: Number(months.value) },
        issuer: { name: 'Self' },
      };
      try {
        await kv(vault, 'POST', `/certificates/${encodeURIComponent(name.value.trim())}/create`, { policy });
        notify(`The creation of certificate '${name.value.trim()}' is in progress.`);
        go(resourceHash(id, 'certificates'));
      } catch (err) { fail(err); }
    });
    return put(h('h1', {}, 'Create a certificate'), form);
  }
  const head = [h('h1', {}, 'Certificates'), toolbar(button('Generate/Import', () => go(resourceHash(id, 'certificates', { new: 1 })), { class: 'primary' }), button('Refresh', () => render()))];
  try {
    const list = await kvList(vault, '/certificates');
    put(head, table('Certificates', ['Name', 'Status', 'Expiration date'], list.map((c) => [lastSeg(c.id), status(c.attributes), fmtTime(c.attributes?.exp)])));
  } catch (e) { put(head); fail(e); }
}

// ---------- access policies ----------

const PERMS = {
  keys: [['get', 'Get'], ['list', 'List'], ['update', 'Update'], ['create', 'Create'], ['import', 'Import'], ['delete', 'Delete'], ['recover', 'Recover'], ['backup', 'Backup'], ['restore', 'Restore'],
    ['decrypt', 'Decrypt'], ['encrypt', 'Encrypt'], ['unwrapKey', 'Unwrap Key'], ['wrapKey', 'Wrap Key'], ['verify', 'Verify'], ['sign', 'Sign'], ['purge', 'Purge'], ['release', 'Release'],
    ['rotate', 'Rotate'], ['getrotationpolicy', 'Get Rotation Policy'], ['setrotationpolicy', 'Set Rotation Policy']],
  secrets: [['get', 'Get'], ['list', 'List'], ['set', 'Set'], ['delete', 'Delete'], ['recover', 'Recover'], ['backup', 'Backup'], ['restore', 'Restore'], ['purge', 'Purge']],
  certificates: [['get', 'Get'], ['list', 'List'], ['update', 'Update'], ['create', 'Create'], ['import', 'Import'], ['delete', 'Delete'], ['recover', 'Recover'], ['backup', 'Backup'], ['restore', 'Restore'],
    ['managecontacts', 'Manage Contacts'], ['manageissuers', 'Manage Certificate Authorities'], ['getissuers', 'Get Certificate Authorities'], ['listissuers', 'List Certificate Authorities'],
    ['setissuers', 'Set Certificate Authorities'], ['deleteissuers', 'Delete Certificate Authorities'], ['purge', 'Purge']],
};
const KEY_MGMT = ['get', 'list', 'update', 'create', 'import', 'delete', 'recover', 'backup', 'restore', 'getrotationpolicy', 'setrotationpolicy', 'rotate'];
const SECRET_MGMT = ['get', 'list', 'set', 'delete', 'recover', 'backup', 'restore'];
const CERT_MGMT = ['get', 'list', 'update', 'create', 'import', 'delete', 'recover', 'backup', 'restore', 'managecontacts', 'manageissuers', 'getissuers', 'listissuers', 'setissuers', 'deleteissuers'];
const CUSTOMER_KEY = { keys: ['get', 'list', 'unwrapKey', 'wrapKey'], secrets: [], certificates: [] };
/// Azure's "Configure from template" sets, as the portal offers them.
const TEMPLATES = {
  'Key, Secret & Certificate Management': { keys: KEY_MGMT, secrets: SECRET_MGMT, certificates: CERT_MGMT },
  'Key & Secret Management': { keys: KEY_MGMT, secrets: SECRET_MGMT, certificates: [] },
  'Secret & Certificate Management': { keys: [], secrets: SECRET_MGMT, certificates: CERT_MGMT },
  'Key Management': { keys: KEY_MGMT, secrets: [], certificates: [] },
  'Secret Management': { keys: [], secrets: SECRET_MGMT, certificates: [] },
  'Certificate Management': { keys: [], secrets: [], certificates: CERT_MGMT },
  'SQL Server Connector': CUSTOMER_KEY,
  'Azure Data Lake Storage or Azure Storage': CUSTOMER_KEY,
  'Azure Backup': { keys: ['get', 'list', 'backup'], secrets: ['get', 'list', 'backup'], certificates: [] },
  'Exchange Online Customer Key': CUSTOMER_KEY,
  'SharePoint Online Customer Key': CUSTOMER_KEY,
  'Azure Information BYOK': { keys: ['get', 'decrypt', 'sign'], secrets: [], certificates: [] },
};

/// Changes made on the Access policies blade, written only by Save.
let staged = null;

const principalNames = new Map();
async function principalName(oid) {
  if (principalNames.has(oid)) return principalNames.get(oid);
  let found = { name: oid, type: 'Unknown' };
  for (const [path, type] of [['/users/', 'User'], ['/servicePrincipals/', 'Application']]) {
    try {
      const p = await graph(`${path}${oid}`);
      found = { name: p.displayName || oid, type: type === 'Application' && p.servicePrincipalType === 'ManagedIdentity' ? 'Managed identity' : type };
      break;
    } catch { /* not this kind */ }
  }
  principalNames.set(oid, found);
  return found;
}

async function accessPolicies(ctx) {
  const { id, params, show: put } = ctx;
  if (params.get('new')) return addPolicy(ctx);
  const vault = await arm('GET', id, V.vaults);
  if (!staged || staged.id !== id) staged = { id, policies: structuredClone(vault.properties.accessPolicies || []), dirty: false };
  const rows = [];
  for (const [i, p] of staged.policies.entries()) {
    const who = await principalName(p.objectId);
    const perms = (k) => (p.permissions?.[k] || []).length ? `${p.permissions[k].length} selected` : '0 selected';
    rows.push([who.name, who.type, perms('keys'), perms('secrets'), perms('certificates'),
      button('Delete', () => { staged.policies.splice(i, 1); staged.dirty = true; render(); }, { 'aria-label': `Delete ${who.name}` })]);
  }
  const save = button('Save', act(async () => {
    await arm('PUT', `${id}/accessPolicies/replace`, V.vaults, { properties: { accessPolicies: staged.policies } });
    staged = null;
    notify('Successfully updated the access policies.');
    render();
  }), { class: 'primary' });
  const discard = button('Discard', () => { staged = null; render(); });
  put(h('h1', {}, 'Access policies'),
    vault.properties.enableRbacAuthorization ? alertBox('This vault uses Azure role-based access control: its access policies are not evaluated. Use Access control (IAM).') : null,
    toolbar(button('Add Access Policy', () => go(resourceHash(id, 'policies', { new: 1 })), { class: 'primary' }), save, discard),
    staged.dirty ? h('p', { class: 'hint' }, 'You have unsaved changes. Select Save to apply them.') : null,
    table('Access policies', ['Name', 'Type', 'Key Permissions', 'Secret Permissions', 'Certificate Permissions', 'Actions'], rows));
}

function permissionSet(legend, kind) {
  return h('fieldset', { class: 'perms', 'data-kind': kind }, h('legend', {}, legend),
    PERMS[kind].map(([value, text]) => checkbox(text, { value, name: `${kind}-perm` })));
}

async function addPolicy({ id, show: put }) {
  let principal = null;
  const template = select([['', 'Select a template'], ...Object.keys(TEMPLATES).map((t) => [t, t])], { name: 'template' });
  const sets = { keys: permissionSet('Key permissions', 'keys'), secrets: permissionSet('Secret permissions', 'secrets'), certificates: permissionSet('Certificate permissions', 'certificates') };
  template.addEventListener('change', () => {
    const t = TEMPLATES[template.value];
    if (!t) return;
    for (const [kind, set] of Object.entries(sets)) {
      set.querySelectorAll('input[type=checkbox]').forEach((c) => { c.checked = t[kind].includes(c.value); });
    }
  });
  const chosen = h('p', { class: 'chosen', 'aria-live': 'polite' }, 'None selected');
  const pick = button('Select principal', () => principalPicker((p) => { principal = p; chosen.textContent = `${p.displayName} (${p.type}, ${p.id})`; }));
  const add = button('Add', () => {
    if (!principal) return fail('Select a principal first.');
    const permissions = {};
    for (const [kind, set] of Object.entries(sets)) {
      permissions[kind] = [...set.querySelectorAll('input:checked')].map((c) => c.value);
    }
    if (!staged || staged.id !== id) return fail('The access policies changed while you were adding one; open Access policies again.');
    staged.policies.push({ tenantId: me.tenant, objectId: principal.id, permissions });
    staged.dirty = true;
    principalNames.set(principal.id, { name: principal.displayName, type: principal.type });
    go(resourceHash(id, 'policies'));
  }, { class: 'primary' });
  if (!staged || staged.id !== id) {
    const vault = await arm('GET', id, V.vaults);
    staged = { id, policies: structuredClone(vault.properties.accessPolicies || []), dirty: false };
  }
  put(h('h1', {}, 'Add access policy'), field('Configure from template (optional)', template), sets.keys, sets.secrets, sets.certificates,
    h('div', { class: 'field' }, h('span', { class: 'label' }, 'Principal'), chosen, pick),
    toolbar(add, button('Cancel', () => go(resourceHash(id, 'policies')))));
}

/// The picker of users, service principals and managed identities, by the start of their name.
function principalPicker(onSelect) {
  const d = h('dialog', { 'aria-labelledby': 'pick-title', class: 'picker' });
  const search = input({ type: 'search', autocomplete: 'off' });
  const results = h('ul', { role: 'listbox', 'aria-label': 'Results' });
  let current = null;
  let timer = null;
  const choose = (li, p) => {
    results.querySelectorAll('[role=option]').forEach((o) => o.setAttribute('aria-selected', 'false'));
    li.setAttribute('aria-selected', 'true');
    current = p;
  };
  const find = async () => {
    const text = search.value.trim().replaceAll("'", "''");
    if (!text) { results.replaceChildren(); return; }
    const filter = encodeURIComponent(`startswith(displayName,'${text}')`);
    try {
      const [users, sps] = await Promise.all([graph(`/users?$filter=${filter}`), graph(`/servicePrincipals?$filter=${filter}`)]);
      const found = [
        ...(users.value || []).map((u) => ({ id: u.id, displayName: u.displayName, detail: u.userPrincipalName, type: 'User' })),
        ...(sps.value || []).map((s) => ({ id: s.id, displayName: s.displayName, detail: s.appId, type: s.servicePrincipalType === 'ManagedIdentity' ? 'Managed identity' : 'Application' })),
      ];
      results.replaceChildren(...found.map((p) => {
        const li = h('li', { role: 'option', tabindex: 0, 'aria-selected': 'false' }, h('span', { class: 'name' }, p.displayName), h('span', { class: 'hint' }, ` ${p.type} · ${p.detail || p.id}`));
        li.addEventListener('click', () => choose(li, p));
        li.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); choose(li, p); } });
        return li;
      }));
      if (!found.length) results.append(h('li', {}, 'No results.'));
    } catch (e) { results.replaceChildren(h('li', { role: 'alert' }, e.message)); }
  };
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(find, 250); });
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); clearTimeout(timer); find(); } });
  const close = () => { d.close(); d.remove(); };
  d.append(h('h2', { id: 'pick-title' }, 'Principal'), field('Search', search), results,
    h('div', { class: 'actions' },
      button('Select', () => { if (!current) return; onSelect(current); close(); }, { class: 'primary' }),
      button('Cancel', close)));
  document.body.append(d);
  d.showModal();
  search.focus();
}

// ---------- IAM ----------

async function iam(ctx) {
  const { id, params, show: put } = ctx;
  const defs = await armList(`${id}/providers/Microsoft.Authorization/roleDefinitions`, V.auth);
  if (params.get('new')) return addAssignment(ctx, defs);
  const head = [h('h1', {}, 'Access control (IAM)'), toolbar(button('Add role assignment', () => go(resourceHash(id, 'iam', { new: 1 })), { class: 'primary' }), button('Refresh', () => render()))];
  try {
    const list = await armList(`${id}/providers/Microsoft.Authorization/roleAssignments`, V.auth);
    const rows = [];
    for (const a of list) {
      const p = a.properties;
      const who = await principalName(p.principalId);
      const role = defs.find((d) => d.id.toLowerCase().endsWith(p.roleDefinitionId.split('/').pop().toLowerCase()))?.properties?.roleName || p.roleDefinitionId.split('/').pop();
      const scopeText = p.scope.toLowerCase() === id.toLowerCase() ? 'This resource' : p.scope;
      rows.push([who.name, who.type, role, scopeText, button('Remove', () => confirmDialog('Remove role assignment', `Remove ${role} for ${who.name}?`, async () => {
        await arm('DELETE', a.id, V.auth);
        notify('Role assignment removed.');
        render();
      }, 'Remove'), { 'aria-label': `Remove ${role} for ${who.name}` })]);
    }
    put(head, h('h2', {}, 'Role assignments'), table('Role assignments', ['Name', 'Type', 'Role', 'Scope', 'Actions'], rows));
  } catch (e) { put(head); fail(e); }
}

function addAssignment({ id, show: put }, defs) {
  let member = null;
  const role = select(defs.map((d) => [d.id, d.properties.roleName]).sort((a, b) => a[1].localeCompare(b[1])), { name: 'role' });
  const chosen = h('p', { class: 'chosen', 'aria-live': 'polite' }, 'No members selected');
  const pick = button('Select members', () => principalPicker((p) => { member = p; chosen.textContent = `${p.displayName} (${p.type}, ${p.id})`; }));
  const assign = button('Review + assign', act(async () => {
    if (!member) throw new Error('Select a member first.');
    const principalType = member.type === 'User' ? 'User' : 'ServicePrincipal';
    await arm('PUT', `${id}/providers/Microsoft.Authorization/roleAssignments/${crypto.randomUUID()}`, V.auth,
      { properties: { roleDefinitionId: role.value, principalId: member.id, principalType } });
    principalNames.set(member.id, { name: member.displayName, type: member.type });
    notify('Role assignment added.');
    go(resourceHash(id, 'iam'));
  }), { class: 'primary' });
  put(h('h1', {}, 'Add role assignment'), field('Role', role), h('div', { class: 'field' }, h('span', { class: 'label' }, 'Members'), chosen, pick),
    toolbar(assign, button('Cancel', () => go(resourceHash(id, 'iam')))));
}

// ---------- activity log ----------

async function activityLog({ id, r, show: put }) {
  const head = [h('h1', {}, 'Activity log'), toolbar(button('Refresh', () => render()))];
  try {
    const filter = encodeURIComponent(`resourceUri eq '${id}'`);
    const events = await armList(`/subscriptions/${r.sub}/providers/Microsoft.Insights/eventtypes/management/values?$filter=${filter}`, V.insights);
    const rows = [];
    for (const e of events) {
      let who = e.caller || '';
      if (/^[0-9a-f-]{36}$/i.test(who)) who = (await principalName(who)).name;
      rows.push([e.operationName?.localizedValue || e.operationName?.value, e.status?.localizedValue || e.status?.value, new Date(e.eventTimestamp).toLocaleString(), who]);
    }
    put(head, table('Events', ['Operation name', 'Status', 'Time', 'Event initiated by'], rows));
  } catch (e) { put(head); fail(e); }
}

// ---------- VM identity, storage keys ----------

async function vmIdentity({ id, show: put, params }) {
  const vm = await arm('GET', id, V.compute);
  const ident = vm.identity || { type: 'None' };
  const type = (ident.type || 'None').toLowerCase();
  const hasSystem = type.includes('systemassigned');
  const users = Object.keys(ident.userAssignedIdentities || {});
  const tab = params.get('tab') || 'system';
  const write = async (system, userIds) => {
    const t = [system ? 'SystemAssigned' : null, userIds.length ? 'UserAssigned' : null].filter(Boolean).join(', ') || 'None';
    const identity = { type: t };
    if (userIds.length) identity.userAssignedIdentities = Object.fromEntries(userIds.map((u) => [u, {}]));
    await arm('PUT', id, V.compute, { location: vm.location, tags: vm.tags, properties: vm.properties, identity });
  };
  const tabs = h('div', { role: 'tablist', 'aria-label': 'Identity type' },
    [['system', 'System assigned'], ['user', 'User assigned']].map(([k, text]) =>
      h('button', { type: 'button', role: 'tab', 'aria-selected': String(k === tab), onclick: () => go(resourceHash(id, 'identity', { tab: k })) }, text)));
  let panel;
  if (tab === 'system') {
    const st = radios('Status', 'status', [['off', 'Off'], ['on', 'On']], hasSystem ? 'on' : 'off');
    panel = h('div', { role: 'tabpanel', 'aria-label': 'System assigned' },
      h('p', {}, 'A system assigned managed identity is restricted to one per resource and is tied to the lifecycle of this resource.'),
      st, toolbar(button('Save', act(async () => {
        await write(radioValue(st, 'status') === 'on', users);
        notify('Identity updated.');
        render();
      }), { class: 'primary' })),
      hasSystem ? dl([['Object (principal) ID', ident.principalId]]) : null);
  } else {
    const all = await armList(`/subscriptions/${parseId(id).sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`, V.msi);
    const pickable = all.filter((u) => !users.some((x) => x.toLowerCase() === u.id.toLowerCase()));
    const chooser = select(pickable.map((u) => [u.id, u.name]), { name: 'uami' });
    panel = h('div', { role: 'tabpanel', 'aria-label': 'User assigned' },
      field('User assigned managed identities', chooser),
      toolbar(button('Add', act(async () => {
        if (!chooser.value) throw new Error('There is no user assigned managed identity to add.');
        await write(hasSystem, [...users, chooser.value]);
        notify('Identity added.');
        render();
      }), { class: 'primary' })),
      table('User assigned identities', ['Name', 'Resource group', 'Actions'], users.map((u) => [parseId(u).name, parseId(u).group,
        button('Remove', act(async () => { await write(hasSystem, users.filter((x) => x !== u)); notify('Identity removed.'); render(); }), { 'aria-label': `Remove ${parseId(u).name}` })])));
  }
  put(h('h1', {}, 'Identity'), tabs, panel);
}

async function storageKeys({ id, show: put }) {
  const box = h('div', {});
  const reveal = button('Show keys', act(async () => {
    const keysResp = await arm('POST', `${id}/listKeys`, V.storage, {});
    box.replaceChildren(...(keysResp.keys || []).map((k) => field(k.keyName, input({ readonly: true, value: k.value, class: 'secret', spellcheck: 'false' }))),
      button('Hide keys', () => box.replaceChildren(reveal)));
  }));
  box.append(reveal);
  put(h('h1', {}, 'Access keys'), h('p', {}, 'Keys authenticate your applications\u2019 requests to this storage account. Keep them secret.'), box);
}

// ---------- routing ----------

function notFound() {
  show(h('h1', {}, 'Not found'), h('p', {}, 'There is no such page.'), link('Home', '#/'));
}

async function render() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  document.querySelectorAll('#portal-menu a').forEach((a) => {
    const target = a.getAttribute('href').slice(1);
    a.toggleAttribute('aria-current', target === path || (target !== '/' && path.startsWith(target)));
  });
  closeMenu();
  try {
    if (path === '/' || path === '') return home();
    if (path === '/create') return createResource(params.get('q'));
    if (path.startsWith('/create/product/')) return product(path.slice('/create/product/'.length));
    switch (path) {
      case '/create/Microsoft.KeyVault': return await createVault();
      case '/create/resourceGroup': return await createGroup();
      case '/create/Microsoft.Compute': return await createSimple('Create a virtual machine', 'Virtual machine name', 'Microsoft.Compute/virtualMachines', V.compute,
        (location) => ({ location, identity: { type: 'SystemAssigned' }, properties: { hardwareProfile: { vmSize: 'Standard_B1s' } } }));
      case '/create/Microsoft.ManagedIdentity': return await createSimple('Create User Assigned Managed Identity', 'Name', 'Microsoft.ManagedIdentity/userAssignedIdentities', V.msi, (location) => ({ location }));
      case '/create/Microsoft.Storage': return await createSimple('Create a storage account', 'Storage account name', 'Microsoft.Storage/storageAccounts', V.storage,
        (location) => ({ location, kind: 'StorageV2', sku: { name: 'Standard_LRS' } }));
      case '/resourceGroups': return await listPage('Resource groups', 'groups', V.groups, '#/create/resourceGroup');
      case '/vaults': return await listPage('Key vaults', 'Microsoft.KeyVault/vaults', V.vaults, '#/create/Microsoft.KeyVault');
      case '/virtualMachines': return await listPage('Virtual machines', 'Microsoft.Compute/virtualMachines', V.compute, '#/create/Microsoft.Compute');
      case '/userAssignedIdentities': return await listPage('Managed Identities', 'Microsoft.ManagedIdentity/userAssignedIdentities', V.msi, '#/create/Microsoft.ManagedIdentity');
      case '/storageAccounts': return await listPage('Storage accounts', 'Microsoft.Storage/storageAccounts', V.storage, '#/create/Microsoft.Storage');
      default: break;
    }
    if (path.startsWith('/resource/')) return await resourcePage(path.slice('/resource'.length), params);
    return notFound();
  } catch (e) {
    if (!main().querySelector('h1')) show(h('h1', {}, 'Something went wrong'));
    fail(e);
  }
}

function closeMenu() {
  document.querySelector('.menu-toggle')?.setAttribute('aria-expanded', 'false');
  document.body.classList.remove('menu-open');
}

document.addEventListener('DOMContentLoaded', () => {
  const toggle = document.querySelector('.menu-toggle');
  toggle?.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    document.body.classList.toggle('menu-open', open);
  });
  window.addEventListener('hashchange', render);
  render();
});
