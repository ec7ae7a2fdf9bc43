import { invoke } from './ipc';
import { listen } from '@tauri-apps/api/event';

export interface HostEntry {
  address: string;
  names: string[];
}

export interface HostsView {
  plan: { path: string; current: HostEntry[]; desired: HostEntry[]; diff: string[] };
  upToDate: boolean;
  clusterSkipped: string | null;
}

export type Applied = { result: 'unchanged' } | { result: 'written'; backup: string } | { result: 'elevated' };

export type ForwardState =
  | { state: 'connecting' }
  | { state: 'ready'; pod: string }
  | { state: 'reconnecting'; reason: string }
  | { state: 'failed'; error: string }
  | { state: 'stopped' };

export interface ForwardInfo {
  id: number;
  target: string;
  listeners: [string, string][];
  state: ForwardState;
  reconnects: number;
}

export const hostsShow = () => invoke<HostsView>('hosts_show');
export const hostsApply = () => invoke<Applied>('hosts_apply');
export const forwardsList = () => invoke<ForwardInfo[]>('forwards_list');
export const forwardStart = (target: string) => invoke<ForwardInfo[]>('forward_start', { target });
export const forwardStop = (id: number) => invoke<boolean>('forward_stop', { id });
/** Calls `refetch` whenever a forward changes state; returns the unsubscribe function. */
export const onForwardsChanged = (refetch: () => void) => listen('forwards-changed', refetch);
