// keyhold's console: one page, hash routes, plain DOM in ES modules. Every read and change is a call to
// /console/api (the REST APIs as the signed-in person); nothing is decided here that the server
// does not decide again.

import { V } from './api.js';
import { fail, h, notFound, show } from './dom.js';
import { createGroup, createResource, createSimple, createVault, home, listPage, product } from './create.js';
import { resourcePage } from './resource.js';

/// The heading a route's page will have, shown while it loads, so that a refusal appears under
/// the page it refuses and never under the last one's.
const TITLES = {
  '/create/Microsoft.KeyVault': 'Create a key vault', '/create/resourceGroup': 'Create a resource group',
  '/create/Microsoft.Compute': 'Create a virtual machine', '/create/Microsoft.ManagedIdentity': 'Create User Assigned Managed Identity',
  '/create/Microsoft.Storage': 'Create a storage account', '/resourceGroups': 'Resource groups', '/vaults': 'Key vaults',
  '/virtualMachines': 'Virtual machines', '/userAssignedIdentities': 'Managed Identities', '/storageAccounts': 'Storage accounts',
};

async function render() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  document.querySelectorAll('#portal-menu a').forEach((a) => {
    const target = a.getAttribute('href').slice(1);
    a.toggleAttribute('aria-current', target === path || (target !== '/' && path.startsWith(target)));
  });
  closeMenu();
  const pending = TITLES[path] || (path.startsWith('/resource/') ? path.split('/').filter(Boolean).pop() : null);
  if (pending) show(h('h1', {}, pending), h('p', { class: 'hint' }, 'Loading…'));
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
    if (!pending) show(h('h1', {}, 'Something went wrong'));
    document.querySelectorAll('#main .hint').forEach((p) => { if (p.textContent === 'Loading…') p.remove(); });
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
