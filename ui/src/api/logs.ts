import { invoke } from './ipc';
import type { Run } from './generated/Run';

export type { Run } from './generated/Run';

export const logsRuns = () => invoke<Run[]>('logs_runs');
export const diagnostics = () => invoke<string>('diagnostics');
