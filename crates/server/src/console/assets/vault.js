// A key vault's blades: Overview, Secrets (with versions and deleted secrets), Keys, Certificates.

import { V, arm, kv, kvList } from './api.js';
import { act, button, checkbox, confirmDialog, dl, fail, field, fmtTime, go, h, input, link, main, notify, radioValue, radios, refresh, select, show, table, toUnix, toolbar } from './dom.js';
import { resourceHash } from './ids.js';

export const vaultOf = (r) => r.name.toLowerCase();

export async function vaultOverview({ id, r, show: put }) {
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

export const lastSeg = (url) => url.split('/').filter(Boolean).pop();
export const status = (attrs) => (attrs?.enabled === false ? 'Disabled' : 'Enabled');

export async function secrets(ctx) {
  const { id, r, params, show: put } = ctx;
  const vault = vaultOf(r);
  if (params.get('new')) return createSecret(ctx);
  const item = params.get('item');
  if (item && params.get('version')) return secretVersion(ctx, item, params.get('version'));
  if (item) return secretItem(ctx, item);
  const head = [h('h1', {}, 'Secrets'), toolbar(
    button('Generate/Import', () => go(resourceHash(id, 'secrets', { new: 1 })), { class: 'primary' }),
    button('Refresh', () => refresh()),
    button('Manage deleted secrets', () => go(resourceHash(id, 'deletedsecrets'))))];
  try {
    const list = await kvList(vault, '/secrets');
    put(head, table('Secrets', ['Name', 'Type', 'Status', 'Expiration date'], list.map((s) => {
      const name = lastSeg(s.id);
      return [link(name, resourceHash(id, 'secrets', { item: name })), s.contentType || '', status(s.attributes), fmtTime(s.attributes?.exp)];
    })));
  } catch (e) { put(head); fail(e); }
}

export function createSecret({ id, r, show: put }) {
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

export async function secretItem({ id, r, show: put }, name) {
  const vault = vaultOf(r);
  const head = [h('h1', {}, name), toolbar(
    button('Delete', () => confirmDialog('Delete secret', `Are you sure you want to delete the secret '${name}'?`, async () => {
      await kv(vault, 'DELETE', `/secrets/${encodeURIComponent(name)}`);
      notify(`The secret '${name}' has been deleted.`);
      go(resourceHash(id, 'secrets'));
    }, 'Delete'), { class: 'danger' }),
    button('Refresh', () => refresh()))];
  try {
    const versions = await kvList(vault, `/secrets/${encodeURIComponent(name)}/versions`);
    versions.sort((a, b) => (b.attributes?.created || 0) - (a.attributes?.created || 0));
    put(head, h('h2', {}, 'Versions'), table('Versions', ['Version', 'Status', 'Activation date', 'Expiration date'], versions.map((v) => {
      const ver = lastSeg(v.id);
      return [link(ver, resourceHash(id, 'secrets', { item: name, version: ver })), status(v.attributes), fmtTime(v.attributes?.nbf), fmtTime(v.attributes?.exp)];
    })));
  } catch (e) { put(head); fail(e); }
}

export async function secretVersion({ id, r, show: put }, name, version) {
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
  put(h('h1', {}, version), toolbar(save, button('Discard changes', () => refresh())), h('h2', {}, 'Properties'),
    dl([['Secret Identifier', `${props.id ? props.id.split('/secrets/')[0] : ''}/secrets/${name}/${version}`], ['Content type', props.contentType || ''],
      ['Activation date', fmtTime(props.attributes?.nbf)], ['Expiration date', fmtTime(props.attributes?.exp)]]),
    enabled, valueBox, h('p', {}, link('Back to versions', resourceHash(id, 'secrets', { item: name }))));
}

export async function deletedSecrets({ id, r, show: put }) {
  const vault = vaultOf(r);
  const head = [h('h1', {}, 'Deleted secrets'), toolbar(button('Refresh', () => refresh()), button('Back to secrets', () => go(resourceHash(id, 'secrets'))))];
  try {
    const list = await kvList(vault, '/deletedsecrets');
    put(head, table('Deleted secrets', ['Name', 'Deletion date', 'Scheduled purge date', 'Actions'], list.map((s) => {
      const name = lastSeg(s.id);
      return [name, fmtTime(s.deletedDate), fmtTime(s.scheduledPurgeDate), h('span', { class: 'row-actions' },
        button('Recover', act(async () => { await kv(vault, 'POST', `/deletedsecrets/${encodeURIComponent(name)}/recover`); notify(`The secret '${name}' has been recovered.`); refresh(); }), { 'aria-label': `Recover ${name}` }),
        button('Purge', () => confirmDialog('Purge secret', `Permanently delete '${name}'? This cannot be undone.`, async () => {
          await kv(vault, 'DELETE', `/deletedsecrets/${encodeURIComponent(name)}`);
          notify(`The secret '${name}' has been purged.`);
          refresh();
        }, 'Purge'), { 'aria-label': `Purge ${name}`, class: 'danger' }))];
    })));
  } catch (e) { put(head); fail(e); }
}

export async function keys({ id, r, params, show: put }) {
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
  const head = [h('h1', {}, 'Keys'), toolbar(button('Generate/Import', () => go(resourceHash(id, 'keys', { new: 1 })), { class: 'primary' }), button('Refresh', () => refresh()))];
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

export async function certificates({ id, r, params, show: put }) {
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
  const head = [h('h1', {}, 'Certificates'), toolbar(button('Generate/Import', () => go(resourceHash(id, 'certificates', { new: 1 })), { class: 'primary' }), button('Refresh', () => refresh()))];
  try {
    const list = await kvList(vault, '/certificates');
    put(head, table('Certificates', ['Name', 'Status', 'Expiration date'], list.map((c) => [lastSeg(c.id), status(c.attributes), fmtTime(c.attributes?.exp)])));
  } catch (e) { put(head); fail(e); }
}
