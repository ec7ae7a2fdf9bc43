import { invoke, invokeWithProgress } from './ipc';
import { listen } from '@tauri-apps/api/event';
import type { ProgressEvent, StepOutcome } from './types';

import type { PlatformStatus } from './generated/PlatformStatus';
import type { UpReport } from './generated/UpReport';

export type { ComponentStatus } from './generated/ComponentStatus';
export type { NodeStatus } from './generated/NodeStatus';
export type { PlatformStatus } from './generated/PlatformStatus';
export type { PlatformSummary } from './generated/PlatformSummary';
export type { UpReport } from './generated/UpReport';

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
