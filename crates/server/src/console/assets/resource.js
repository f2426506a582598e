// A resource's page: its menu of blades, the group and generic overviews, a VM's Identity blade
// and a storage account's Access keys.

import { V, arm, armList } from './api.js';
import { act, button, dl, field, go, h, input, link, main, notFound, notify, radioValue, radios, refresh, select, show, table, toolbar } from './dom.js';
import { KIND, parseId, resourceHash } from './ids.js';
import { certificates, deletedSecrets, keys, secrets, vaultOverview } from './vault.js';
import { accessPolicies, activityLog, iam } from './access.js';

export const BLADES = {
  group: [['overview', 'Overview']],
  'microsoft.keyvault/vaults': [['overview', 'Overview'], ['activity', 'Activity log'], ['iam', 'Access control (IAM)'], ['policies', 'Access policies'], ['keys', 'Keys'], ['secrets', 'Secrets'], ['certificates', 'Certificates']],
  'microsoft.compute/virtualmachines': [['overview', 'Overview'], ['identity', 'Identity'], ['iam', 'Access control (IAM)']],
  'microsoft.managedidentity/userassignedidentities': [['overview', 'Overview'], ['iam', 'Access control (IAM)']],
  'microsoft.storage/storageaccounts': [['overview', 'Overview'], ['keys', 'Access keys'], ['iam', 'Access control (IAM)']],
};

export async function resourcePage(id, params) {
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

export async function groupOverview({ id, r, show: put }) {
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

export async function genericOverview({ id, r, kind, show: put }) {
  const res = await arm('GET', id, KIND[kind].version);
  const pairs = [['Resource group', r.group], ['Location', res.location], ['Subscription ID', r.sub]];
  if (kind === 'microsoft.managedidentity/userassignedidentities') {
    pairs.push(['Client ID', res.properties?.clientId], ['Object (principal) ID', res.properties?.principalId], ['Tenant ID', res.properties?.tenantId]);
  }
  if (kind === 'microsoft.compute/virtualmachines') pairs.push(['Status', 'Running']);
  put(h('h1', {}, r.name), h('h2', {}, 'Essentials'), dl(pairs));
}



export async function vmIdentity({ id, show: put, params }) {
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
        refresh();
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
        refresh();
      }), { class: 'primary' })),
      table('User assigned identities', ['Name', 'Resource group', 'Actions'], users.map((u) => [parseId(u).name, parseId(u).group,
        button('Remove', act(async () => { await write(hasSystem, users.filter((x) => x !== u)); notify('Identity removed.'); refresh(); }), { 'aria-label': `Remove ${parseId(u).name}` })])));
  }
  put(h('h1', {}, 'Identity'), tabs, panel);
}

export async function storageKeys({ id, show: put }) {
  const box = h('div', {});
  const reveal = button('Show keys', act(async () => {
    const keysResp = await arm('POST', `${id}/listKeys`, V.storage, {});
    box.replaceChildren(...(keysResp.keys || []).map((k) => field(k.keyName, input({ readonly: true, value: k.value, class: 'secret', spellcheck: 'false' }))),
      button('Hide keys', () => box.replaceChildren(reveal)));
  }));
  box.append(reveal);
  put(h('h1', {}, 'Access keys'), h('p', {}, 'Keys authenticate your applications\u2019 requests to this storage account. Keep them secret.'), box);
}
