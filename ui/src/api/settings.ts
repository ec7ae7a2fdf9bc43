import { invoke } from './ipc';

/** The settings file's keys (never secrets). */
export interface Settings {
  cluster?: string;
  domain?: string;
  httpPort?: number;
  httpsPort?: number;
  charts?: string;
  helm?: string;
  githubApi?: string;
  owner?: string;
  backstageUrl?: string;
  templateRepo?: string;
}

export const settingsGet = () => invoke<Settings>('settings_get');
/** Saves and returns the file's path. */
export const settingsSet = (config: Settings) => invoke<string>('settings_set', { config });
