// The only place the UI talks to the backend.
import { invoke } from '@tauri-apps/api/core';

export interface NodeStatus {
  name: string;
  role: string;
  state: 'running' | 'stopped' | 'unhealthy' | 'missing';
  image: string;
  ready: boolean | null;
}

export interface ClusterStatus {
  name: string;
  exists: boolean;
  healthy: boolean;
  nodes: NodeStatus[];
  apiServer: string | null;
  ingress: string[];
  context: string;
  contextPresent: boolean;
}

export interface CommandError {
  code: string;
  message: string;
}

export function platformStatus(): Promise<ClusterStatus> {
  return invoke<ClusterStatus>('platform_status');
}
