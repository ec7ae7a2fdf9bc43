import { invoke, invokeWithProgress } from './ipc';
import { listen } from '@tauri-apps/api/event';
import type { ProgressEvent, StepOutcome } from './types';

import type { PlatformStatus } from './generated/PlatformStatus';
import type { UpReport } from './generated/UpReport';
import type { HelmFound } from './generated/HelmFound';
import type { Preflight } from './generated/Preflight';
import type { PlatformSummary } from './generated/PlatformSummary';
import type { StepDuration } from './generated/StepDuration';

export type { ComponentStatus } from './generated/ComponentStatus';
export type { NodeStatus } from './generated/NodeStatus';
export type { PlatformStatus } from './generated/PlatformStatus';
export type { PlatformSummary } from './generated/PlatformSummary';
export type { UpReport } from './generated/UpReport';
export type { HelmFound } from './generated/HelmFound';
export type { Preflight } from './generated/Preflight';
export type { StepDuration } from './generated/StepDuration';

export const platformStatus = () => invoke<PlatformStatus>('platform_status');
export const platformUp = (onEvent: (e: ProgressEvent) => void) => invokeWithProgress<UpReport>('platform_up', {}, onEvent);
export const platformStop = (onEvent: (e: ProgressEvent) => void) => invokeWithProgress<StepOutcome>('platform_stop', {}, onEvent);
export const platformDelete = (onEvent: (e: ProgressEvent) => void) => invokeWithProgress<StepOutcome>('platform_delete', {}, onEvent);
export const platformPreflight = () => invoke<Preflight>('platform_preflight');
/** Each step's time when `up` last ran here: what the progress bar expects. */
export const platformExpected = () => invoke<StepDuration[]>('platform_expected');
/** Where Argo CD and Backstage answer with the current settings. */
export const platformLinks = () => invoke<PlatformSummary | null>('platform_links');
export const helmCheck = () => invoke<HelmFound>('helm_check');
/** The password goes from the cluster to the clipboard; the webview never sees it. */
export const argocdPasswordCopy = () => invoke<null>('argocd_password_copy');
/** Opens an http(s) link in the default browser. */
export const openLink = (url: string) => invoke<null>('open_link', { url });
export const onPlatformChanged = (refetch: () => void) => listen('platform-changed', refetch);
/** The status the backend reads for the tray and the title (every 15 s and on each change). */
export const onPlatformStatus = (update: (s: PlatformStatus) => void) => listen<PlatformStatus>('platform-status', (e) => update(e.payload));
