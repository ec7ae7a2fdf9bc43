import { invoke } from './ipc';
import type { GitHubStatus } from './generated/GitHubStatus';

export type { GitHubStatus } from './generated/GitHubStatus';

/** The token goes to the keyring; what comes back never contains it. */
export const githubConnect = (token: string) => invoke<GitHubStatus>('github_connect', { token });
export const githubStatus = () => invoke<GitHubStatus | null>('github_status');
export const githubDisconnect = () => invoke<boolean>('github_disconnect');
