// The only module that calls the backend: every other file goes through src/api/.
import { Channel, invoke } from '@tauri-apps/api/core';
import type { ProgressEvent } from './types';

export { invoke };

/** Invoke a long-running command whose steps stream to `onEvent`. */
export function invokeWithProgress<T>(command: string, args: Record<string, unknown>, onEvent: (e: ProgressEvent) => void): Promise<T> {
  const channel = new Channel<ProgressEvent>();
  channel.onmessage = onEvent;
  return invoke<T>(command, { ...args, onEvent: channel });
}
