import { invoke, invokeWithProgress } from './ipc';
import { listen } from '@tauri-apps/api/event';
import type { ProgressEvent, StepOutcome } from './types';

export interface NodeStatus {
  name: string;
  role: string;
  state: 'running' | 'stopped' | 'unhealthy' | 'missing';
  image: string;
  ready: boolean | null;
}

export interface ComponentStatus {
  name: string;
  sync: string;
  health: string;
}

export interface PlatformStatus {
  name: string;
  exists: boolean;
  healthy: boolean;
  nodes: NodeStatus[];
  apiServer: string | null;
  ingress: string[];
  context: string;
  contextPresent: boolean;
  components: ComponentStatus[];
}

export interface PlatformSummary {
  argocdUrl: string;
  backstageUrl: string;
  argocdUser: string;
  hosts: string[];
}

export interface UpReport {
  cluster: string;
  upToDate: boolean;
  elapsedMs: number;
  platform: PlatformSummary | null;
}

export const platformStatus = () => invoke<PlatformStatus>('platform_status');
export const platformUp = (onEvent: (e: ProgressEvent) => void) => invokeWithProgress<UpReport>('platform_up', {}, onEvent);
export const platformStop = (onEvent: (e: ProgressEvent) => void) => invokeWithProgress<StepOutcome>('platform_stop', {}, onEvent);
export const platformDelete = (onEvent: (e: ProgressEvent) => void) => invokeWithProgress<StepOutcome>('platform_delete', {}, onEvent);
export const platformPreflight = () => invoke<string[]>('platform_preflight');
/** The password goes from the cluster to the clipboard; the webview never sees it. */
export const argocdPasswordCopy = () => invoke<null>('argocd_password_copy');
/** Opens an http(s) link in the default browser. */
export const openLink = (url: string) => invoke<null>('open_link', { url });
export const onPlatformChanged = (refetch: () => void) => listen('platform-changed', refetch);
