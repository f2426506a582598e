// Home, Create a resource (the marketplace search and each kind's create form) and the lists.

import { V, arm, armList, firstSub, me, subscriptions } from './api.js';
import { act, button, dl, fail, field, go, h, input, link, notFound, notify, radioValue, radios, refresh, select, show, table, toolbar } from './dom.js';
import { REGIONS, parseId, resourceHash } from './ids.js';
import { TEMPLATES } from './access.js';

export function home() {
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

export const OFFERINGS = [
  { name: 'Key Vault', key: 'Microsoft.KeyVault', about: 'Safeguard cryptographic keys and other secrets used by cloud apps and services.' },
  { name: 'Resource group', key: 'resourceGroup', about: 'A container that holds related resources for an Azure solution.' },
  { name: 'Virtual machine', key: 'Microsoft.Compute', about: 'A virtual machine, whose managed identity keyhold agent serves.' },
  { name: 'User Assigned Managed Identity', key: 'Microsoft.ManagedIdentity', about: 'An identity of its own that resources can share.' },
  { name: 'Storage account', key: 'Microsoft.Storage', about: 'A storage account with its access keys.' },
];

export function createResource(query) {
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

export function product(key) {
  const o = OFFERINGS.find((x) => x.key === key);
  if (!o) return notFound();
  show(h('h1', {}, o.name), h('p', {}, o.about), toolbar(button('Create', () => go(`#/create/${o.key}`), { class: 'primary' })));
}

/// The form's answer once created: the portal's deployment page.
export function deployed(id) {
  show(h('h1', {}, 'Your deployment is complete'),
    h('p', {}, `Deployment succeeded: ${parseId(id).name}`),
    toolbar(button('Go to resource', () => go(resourceHash(id)), { class: 'primary' })));
}

export async function groupOptions(sub) {
  const groups = await armList(`/subscriptions/${sub}/resourcegroups`, V.groups);
  return groups.map((g) => [g.name, g.name]);
}

export async function subscriptionSelect() {
  const subs = await subscriptions();
  return select(subs.map((s) => [s.subscriptionId, s.displayName || s.subscriptionId]), { name: 'subscription' });
}

/// A form with the basics every resource has (subscription, group, name, region).
export async function basics(nameLabel, { groupSelect = true } = {}) {
  const sub = await subscriptionSelect();
  const group = groupSelect ? select(await groupOptions(sub.value), { name: 'group', required: true }) : null;
  const name = input({ name: 'name', required: true, autocomplete: 'off' });
  const region = select(REGIONS, { name: 'region' });
  return { sub, group, name, region };
}

export async function createVault() {
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

export function reviewVault(v) {
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

export async function createGroup() {
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
export async function createSimple(title, nameLabel, type, version, bodyOf) {
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


export async function listPage(title, type, version, createHash) {
  const sub = await firstSub();
  const items = type === 'groups'
    ? await armList(`/subscriptions/${sub}/resourcegroups`, V.groups)
    : await armList(`/subscriptions/${sub}/providers/${type}`, version);
  const rows = items.map((r) => [link(r.name, resourceHash(r.id)), parseId(r.id).group || '--', r.location || '--']);
  show(h('h1', {}, title), toolbar(button('Create', () => go(createHash), { class: 'primary' }), button('Refresh', () => refresh())),
    table(title, ['Name', 'Resource group', 'Location'], rows));
}
