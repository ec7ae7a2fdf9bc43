// Test helpers around Tauri's IPC mocks: a scripted backend that records every call.
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import type { Channel } from '@tauri-apps/api/core';
import { cleanup } from '@testing-library/svelte';
import { afterEach } from 'vitest';
import type { ProgressEvent } from '../api/types';
import { forget } from '../lib/live.svelte';

export type Handler = (args: Record<string, unknown>, emit: (e: ProgressEvent) => void) => unknown;

/** Every invoke the UI made: command and arguments (the Channel left out). */
export const calls: { cmd: string; args: Record<string, unknown> }[] = [];

export function backend(handlers: Record<string, Handler>) {
  mockIPC(async (cmd, payload) => {
    const args = { ...(payload as Record<string, unknown>) };
    const channel = args.onEvent as Channel<ProgressEvent> | undefined;
    delete args.onEvent;
    calls.push({ cmd, args });
    const handler = handlers[cmd];
    if (!handler) throw { kind: 'internal', message: `no mock for ${cmd}`, step: null };
    return handler(args, (e) => channel?.onmessage(e));
  }, { shouldMockEvents: true });
}

afterEach(async () => {
  cleanup();
  // Unmounted views unlisten asynchronously; let that finish while the mocks still exist.
  await new Promise((resolve) => setTimeout(resolve, 0));
  clearMocks();
  calls.length = 0;
  forget();
});

const at = '2026-11-27T12:00:00Z';
export const started = (id: string, title: string, attempt = 1): ProgressEvent => ({ type: 'stepStarted', id, title, attempt, timeoutSecs: 60, at });
export const done = (id: string, detail = 'ok', attempt = 1): ProgressEvent => ({ type: 'stepFinished', id, outcome: { status: 'changed', detail }, attempt, at });
export const failed = (id: string, error: string, attempt = 1): ProgressEvent => ({ type: 'stepFinished', id, outcome: { status: 'failed', error }, attempt, at });
