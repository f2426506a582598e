// ARM resource ids and the console's links to them.

import { V } from './api.js';

export function parseId(id) {
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
export const KIND = {
  'microsoft.keyvault/vaults': { label: 'Key vault', version: V.vaults },
  'microsoft.compute/virtualmachines': { label: 'Virtual machine', version: V.compute },
  'microsoft.managedidentity/userassignedidentities': { label: 'Managed Identity', version: V.msi },
  'microsoft.storage/storageaccounts': { label: 'Storage account', version: V.storage },
};
export const resourceHash = (id, blade, extra = {}) => {
  const q = new URLSearchParams({ ...(blade ? { blade } : {}), ...extra }).toString();
  return `#/resource${id}${q ? `?${q}` : ''}`;
};

export const REGIONS = ['eastus', 'eastus2', 'westus', 'westus2', 'centralus', 'northeurope', 'westeurope', 'uksouth', 'japaneast', 'australiaeast'];
