import { invoke } from './ipc';

export interface GitHubStatus {
  api: string;
  identity: { login: string; scopes: string[] | null; organisations: string[] };
  budget: { limit: number; remaining: number; reset: number } | null;
  keyring: string;
  missingScopes: string[];
}

/** The token goes to the keyring; what comes back never contains it. */
export const githubConnect = (token: string) => invoke<GitHubStatus>('github_connect', { token });
export const githubStatus = () => invoke<GitHubStatus | null>('github_status');
export const githubDisconnect = () => invoke<boolean>('github_disconnect');
