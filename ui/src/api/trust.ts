import { invoke } from './ipc';
import type { Report } from './generated/Report';
import type { StoreOutcome } from './generated/StoreOutcome';

export type { Report } from './generated/Report';
export type { StoreOutcome } from './generated/StoreOutcome';

/** The machine's local CA and whether each store trusts it (no key ever crosses IPC). */
export const trustStatus = () => invoke<Report>('trust_status');
/** Make the CA if needed and trust it in every store; the OS may ask first. */
export const trustInstall = () => invoke<StoreOutcome[]>('trust_install');
/** Take the CA out of every store (only its own certificate). */
export const trustUninstall = () => invoke<StoreOutcome[]>('trust_uninstall');
