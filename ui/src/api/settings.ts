import { invoke } from './ipc';
import type { Config } from './generated/Config';
import type { SettingsView } from './generated/SettingsView';

export type { Config } from './generated/Config';
export type { SettingsView } from './generated/SettingsView';

/** The settings (the defaults when the file is unusable), where they live, and why not. */
export const settingsGet = () => invoke<SettingsView>('settings_get');
/** The kubeconfig contexts an existing cluster can be (those of `kubeconfig`, else kubectl's). */
export const kubeContexts = (kubeconfig?: string) => invoke<string[]>('kube_contexts', { kubeconfig: kubeconfig || null });
/** Saves and returns the file's path. */
export const settingsSet = (config: Config) => invoke<string>('settings_set', { config });
