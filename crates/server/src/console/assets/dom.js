// Building the page: small element helpers (text only ever set as text, never parsed as HTML),
// labelled form fields, tables, alerts and dialogs.


export function h(tag, attrs = {}, ...kids) {
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
export const nextId = () => `f${++uid}`;

export function field(label, control, hint) {
  const id = control.id || nextId();
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint' }, hint) : null);
}
export const input = (attrs = {}) => h('input', { type: 'text', ...attrs });
export function select(options, attrs = {}) {
  const s = h('select', attrs);
  for (const o of options) {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    s.append(h('option', { value }, text));
  }
  return s;
}
export function radios(legend, name, options, checked) {
  return h('fieldset', { class: 'radios' }, h('legend', {}, legend),
    options.map(([value, text]) => {
      const id = nextId();
      return h('div', {}, h('input', { type: 'radio', name, id, value, checked: value === checked }), h('label', { for: id }, text));
    }));
}
export const radioValue = (root, name) => root.querySelector(`input[name="${name}"]:checked`)?.value;
export function checkbox(label, attrs = {}) {
  const id = nextId();
  return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, ...attrs }), h('label', { for: id }, label));
}
export const button = (text, onclick, attrs = {}) => h('button', { type: 'button', onclick, ...attrs }, text);
export const link = (text, href) => h('a', { href }, text);
export const toolbar = (...items) => h('div', { class: 'toolbar', role: 'toolbar' }, ...items);

export function table(caption, headers, rows) {
  if (!rows.length) return h('p', { class: 'empty' }, `No ${caption.toLowerCase()} to display.`);
  return h('table', {},
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}
export function dl(pairs) {
  return h('dl', { class: 'props' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '--')]));
}

export const main = () => document.getElementById('main');

/// Replaces the page's content; the first heading becomes the document title and takes focus.
export function show(...nodes) {
  const m = main();
  m.replaceChildren(...nodes.flat().filter(Boolean));
  const h1 = m.querySelector('h1');
  document.title = `${h1 ? h1.textContent : 'keyhold'} - keyhold`;
  m.focus({ preventScroll: false });
}

export function alertBox(message) {
  return h('div', { role: 'alert', class: 'alert' }, message);
}
/// Shows an error above the current content (the server's own message, which names what is missing).
export function fail(e) {
  const m = main();
  m.querySelectorAll('.alert').forEach((a) => a.remove());
  const box = alertBox(e instanceof Error ? e.message : String(e));
  const h1 = m.querySelector('h1');
  if (h1) h1.after(box); else m.prepend(box);
}
export function notify(text) {
  const s = document.getElementById('status');
  s.textContent = text;
  setTimeout(() => { if (s.textContent === text) s.textContent = ''; }, 8000);
}

/// Runs an action from a button: disabled while it runs, its failure shown.
export function act(fn) {
  return async (ev) => {
    const b = ev?.currentTarget;
    if (b) b.disabled = true;
    try { await fn(ev); } catch (e) { fail(e); } finally { if (b && b.isConnected) b.disabled = false; }
  };
}

/// Renders the current route again (after a change, or for Refresh).
export const refresh = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
export const go = (hash) => { if (location.hash === hash) refresh(); else location.hash = hash; };
export function notFound() {
  show(h('h1', {}, 'Not found'), h('p', {}, 'There is no such page.'), link('Home', '#/'));
}
export const fmtTime = (unix) => (unix ? new Date(unix * 1000).toLocaleString() : '--');
export const toUnix = (local) => (local ? Math.floor(new Date(local).getTime() / 1000) : undefined);

export function confirmDialog(title, message, action, confirmLabel) {
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
