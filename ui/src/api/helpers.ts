import { invoke } from './ipc';
import { listen } from '@tauri-apps/api/event';

import type { Applied } from './generated/Applied';
import type { ForwardInfo } from './generated/ForwardInfo';
import type { HostsView } from './generated/HostsView';
import type { Plan } from './generated/Plan';

export type { Applied } from './generated/Applied';
export type { ForwardInfo } from './generated/ForwardInfo';
export type { ForwardState } from './generated/ForwardState';
export type { HostEntry } from './generated/HostEntry';
export type { HostsView } from './generated/HostsView';

export const hostsShow = () => invoke<HostsView>('hosts_show');
/** Write exactly the plan that was shown: its entries, and the file it was computed from. */
export const hostsApply = (plan: Plan) => invoke<Applied>('hosts_apply', { desired: plan.desired, fingerprint: plan.fingerprint });
export const forwardsList = () => invoke<ForwardInfo[]>('forwards_list');
export const forwardStart = (target: string) => invoke<ForwardInfo[]>('forward_start', { target });
export const forwardStop = (id: number) => invoke<boolean>('forward_stop', { id });
/** Calls `refetch` whenever a forward changes state; returns the unsubscribe function. */
export const onForwardsChanged = (refetch: () => void) => listen('forwards-changed', refetch);
