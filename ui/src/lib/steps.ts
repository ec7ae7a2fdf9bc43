// Folding progress events into the step list a view shows. Pure, so it is tested on its own.
import type { ProgressEvent } from '../api/types';

export type StepState = 'running' | 'changed' | 'upToDate' | 'failed';

export interface StepView {
  id: string;
  title: string;
  state: StepState;
  attempts: number;
  startedAt: string;
  finishedAt: string | null;
  /** The latest detail line, or the outcome's detail once finished. */
  detail: string;
  error: string | null;
  warnings: string[];
}

/** The list after `event`: a step appears when it starts and is updated in place after. */
export function applyEvent(steps: StepView[], event: ProgressEvent): StepView[] {
  const index = steps.findIndex((s) => s.id === event.id);
  const current = index >= 0 ? steps[index] : undefined;
  let next: StepView;
  switch (event.type) {
    case 'stepStarted':
      next = { id: event.id, title: event.title, state: 'running', attempts: event.attempt, startedAt: current?.startedAt ?? event.at, finishedAt: null, detail: '', error: null, warnings: current?.warnings ?? [] };
      break;
    case 'stepDetail':
      if (!current) return steps;
      next = { ...current, detail: event.message };
      break;
    case 'warning':
      if (!current) return steps;
      next = { ...current, warnings: [...current.warnings, event.message] };
      break;
    case 'stepFinished': {
      if (!current) return steps;
      const o = event.outcome;
      next = o.status === 'failed'
        ? { ...current, state: 'failed', attempts: event.attempt, finishedAt: event.at, error: o.error }
        : { ...current, state: o.status, attempts: event.attempt, finishedAt: event.at, detail: o.detail, error: null };
      break;
    }
  }
  return index >= 0 ? steps.map((s, i) => (i === index ? next : s)) : [...steps, next];
}

/** Every warning of a run, step by step (shown above the list). */
export function warnings(steps: StepView[]): string[] {
  return steps.flatMap((s) => s.warnings.map((w) => `${s.title}: ${w}`));
}

/** `12:03:04` in the user's locale for an RFC 3339 timestamp. */
export function clock(at: string | null): string {
  if (!at) return '';
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : d.toLocaleTimeString();
}

/** How far a run is, from each step's time when it last ran (`expected`, step id → ms). */
export interface RunProgress {
  /** 0…1, or `null` with no expectation yet (the first run on this machine). */
  fraction: number | null;
  elapsedMs: number;
  expectedMs: number | null;
}

export function progress(steps: StepView[], expected: Map<string, number>, now: number): RunProgress {
  const first = steps.length ? Date.parse(steps[0].startedAt) : now;
  const elapsedMs = Math.max(0, now - first);
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return { fraction: null, elapsedMs, expectedMs: null };
  let done = 0;
  for (const s of steps) {
    const e = expected.get(s.id) ?? 0;
    // A running step counts up to its expected time, never beyond it.
    done += s.state === 'running' ? Math.min(e, now - Date.parse(s.startedAt)) : e;
  }
  return { fraction: Math.min(1, done / total), elapsedMs, expectedMs: total };
}

/** `1 min 05 s`, `42 s`. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}
