import { invoke } from './ipc';
import type { ProgressEvent } from './types';

export interface Run {
  kind: string;
  at: string;
  events: ProgressEvent[];
}

export const logsRuns = () => invoke<Run[]>('logs_runs');
export const diagnostics = () => invoke<string>('diagnostics');
