// Who may: a vault's Access policies (Azure's templates and the principal picker), Access control
// (IAM) on any resource, and the Activity log.

import { V, arm, armList, graph, me } from './api.js';
import { act, alertBox, button, checkbox, confirmDialog, fail, field, go, h, input, notify, refresh, select, show, table, toolbar } from './dom.js';
import { resourceHash } from './ids.js';

export const PERMS = {
  keys: [['get', 'Get'], ['list', 'List'], ['update', 'Update'], ['create', 'Create'], ['import', 'Import'], ['delete', 'Delete'], ['recover', 'Recover'], ['backup', 'Backup'], ['restore', 'Restore'],
    ['decrypt', 'Decrypt'], ['encrypt', 'Encrypt'], ['unwrapKey', 'Unwrap Key'], ['wrapKey', 'Wrap Key'], ['verify', 'Verify'], ['sign', 'Sign'], ['purge', 'Purge'], ['release', 'Release'],
    ['rotate', 'Rotate'], ['getrotationpolicy', 'Get Rotation Policy'], ['setrotationpolicy', 'Set Rotation Policy']],
  secrets: [['get', 'Get'], ['list', 'List'], ['set', 'Set'], ['delete', 'Delete'], ['recover', 'Recover'], ['backup', 'Backup'], ['restore', 'Restore'], ['purge', 'Purge']],
  certificates: [['get', 'Get'], ['list', 'List'], ['update', 'Update'], ['create', 'Create'], ['import', 'Import'], ['delete', 'Delete'], ['recover', 'Recover'], ['backup', 'Backup'], ['restore', 'Restore'],
    ['managecontacts', 'Manage Contacts'], ['manageissuers', 'Manage Certificate Authorities'], ['getissuers', 'Get Certificate Authorities'], ['listissuers', 'List Certificate Authorities'],
    ['setissuers', 'Set Certificate Authorities'], ['deleteissuers', 'Delete Certificate Authorities'], ['purge', 'Purge']],
};
export const KEY_MGMT = ['get', 'list', 'update', 'create', 'import', 'delete', 'recover', 'backup', 'restore', 'getrotationpolicy', 'setrotationpolicy', 'rotate'];
export const SECRET_MGMT = ['get', 'list', 'set', 'delete', 'recover', 'backup', 'restore'];
export const CERT_MGMT = ['get', 'list', 'update', 'create', 'import', 'delete', 'recover', 'backup', 'restore', 'managecontacts', 'manageissuers', 'getissuers', 'listissuers', 'setissuers', 'deleteissuers'];
export const CUSTOMER_KEY = { keys: ['get', 'list', 'unwrapKey', 'wrapKey'], secrets: [], certificates: [] };
/// Azure's "Configure from template" sets, as the portal offers them.
export const TEMPLATES = {
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
export let staged = null;

export const principalNames = new Map();
export async function principalName(oid) {
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

export async function accessPolicies(ctx) {
  const { id, params, show: put } = ctx;
  if (params.get('new')) return addPolicy(ctx);
  const vault = await arm('GET', id, V.vaults);
  if (!staged || staged.id !== id) staged = { id, policies: structuredClone(vault.properties.accessPolicies || []), dirty: false };
  const rows = [];
  for (const [i, p] of staged.policies.entries()) {
    const who = await principalName(p.objectId);
    const perms = (k) => (p.permissions?.[k] || []).length ? `${p.permissions[k].length} selected` : '0 selected';
    rows.push([who.name, who.type, perms('keys'), perms('secrets'), perms('certificates'),
      button('Delete', () => { staged.policies.splice(i, 1); staged.dirty = true; refresh(); }, { 'aria-label': `Delete ${who.name}` })]);
  }
  const save = button('Save', act(async () => {
    await arm('PUT', `${id}/accessPolicies/replace`, V.vaults, { properties: { accessPolicies: staged.policies } });
    staged = null;
    notify('Successfully updated the access policies.');
    refresh();
  }), { class: 'primary' });
  const discard = button('Discard', () => { staged = null; refresh(); });
  put(h('h1', {}, 'Access policies'),
    vault.properties.enableRbacAuthorization ? alertBox('This vault uses Azure role-based access control: its access policies are not evaluated. Use Access control (IAM).') : null,
    toolbar(button('Add Access Policy', () => go(resourceHash(id, 'policies', { new: 1 })), { class: 'primary' }), save, discard),
    staged.dirty ? h('p', { class: 'hint' }, 'You have unsaved changes. Select Save to apply them.') : null,
    table('Access policies', ['Name', 'Type', 'Key Permissions', 'Secret Permissions', 'Certificate Permissions', 'Actions'], rows));
}

export function permissionSet(legend, kind) {
  return h('fieldset', { class: 'perms', 'data-kind': kind }, h('legend', {}, legend),
    PERMS[kind].map(([value, text]) => checkbox(text, { value, name: `${kind}-perm` })));
}

export async function addPolicy({ id, show: put }) {
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
export function principalPicker(onSelect) {
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


export async function iam(ctx) {
  const { id, params, show: put } = ctx;
  const defs = await armList(`${id}/providers/Microsoft.Authorization/roleDefinitions`, V.auth);
  if (params.get('new')) return addAssignment(ctx, defs);
  const head = [h('h1', {}, 'Access control (IAM)'), toolbar(button('Add role assignment', () => go(resourceHash(id, 'iam', { new: 1 })), { class: 'primary' }), button('Refresh', () => refresh()))];
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
        refresh();
      }, 'Remove'), { 'aria-label': `Remove ${role} for ${who.name}` })]);
    }
    put(head, h('h2', {}, 'Role assignments'), table('Role assignments', ['Name', 'Type', 'Role', 'Scope', 'Actions'], rows));
  } catch (e) { put(head); fail(e); }
}

export function addAssignment({ id, show: put }, defs) {
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


export async function activityLog({ id, r, show: put }) {
  const head = [h('h1', {}, 'Activity log'), toolbar(button('Refresh', () => refresh()))];
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
