export { Registrar, type RegistrarAddress, type RegistrarStats } from './registrar.js';
export { defaultRegistrarConfig, type RegistrarConfig } from './config.js';
export { AsapService, type AsapCounters } from '../shard/asap-service.js';

import type { RegistrarConfig } from './config.js';
import { Registrar } from './registrar.js';

/** Starts a registrar: SCTP endpoint, shard workers, announces. */
export function startRegistrar(config: Partial<RegistrarConfig> = {}): Promise<Registrar> {
  return Registrar.start(config);
}
