import { describe, expect, it } from 'vitest';
import { applyEvent, duration, progress, warnings, type StepView } from './steps';
import { componentTone, serviceTone } from './tones';
import type { ProgressEvent } from '../api/types';

const at = '2026-11-27T12:00:00Z';
const fold = (events: ProgressEvent[]) => events.reduce<StepView[]>(applyEvent, []);

describe('applyEvent', () => {
  it('adds a step when it starts and updates it in place', () => {
    const steps = fold([
      { type: 'stepStarted', id: 'nodes', title: 'Create the nodes', attempt: 1, timeoutSecs: 120, at },
      { type: 'stepDetail', id: 'nodes', message: 'starting slipway-worker', at },
      { type: 'stepStarted', id: 'kubeadm', title: 'kubeadm init', attempt: 1, timeoutSecs: 600, at },
      { type: 'stepFinished', id: 'nodes', outcome: { status: 'changed', detail: '2 nodes' }, attempt: 1, at: '2026-11-27T12:00:05Z' },
    ]);
    expect(steps.map((s) => [s.id, s.state, s.detail])).toEqual([
      ['nodes', 'changed', '2 nodes'],
      ['kubeadm', 'running', ''],
    ]);
    expect(steps[0].finishedAt).toBe('2026-11-27T12:00:05Z');
  });

  it('keeps the error, the attempt count and the warnings of a failed step', () => {
    const steps = fold([
      { type: 'stepStarted', id: 'argocd', title: 'Install Argo CD', attempt: 1, timeoutSecs: 900, at },
      { type: 'warning', id: 'argocd', message: 'slow registry', at },
      { type: 'stepStarted', id: 'argocd', title: 'Install Argo CD', attempt: 2, timeoutSecs: 900, at },
      { type: 'stepFinished', id: 'argocd', outcome: { status: 'failed', error: 'helm: timed out' }, attempt: 2, at },
    ]);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ state: 'failed', attempts: 2, error: 'helm: timed out' });
    expect(warnings(steps)).toEqual(['Install Argo CD: slow registry']);
  });

  it('ignores details of a step it never saw start', () => {
    expect(fold([{ type: 'stepDetail', id: 'ghost', message: 'x', at }])).toEqual([]);
  });
});

describe('run progress', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 27, 12, 0, s)).toISOString();
  const step = (id: string, state: StepView['state'], start: number): StepView => ({ id, title: id, state, attempts: 1, startedAt: at(start), finishedAt: null, detail: '', error: null, warnings: [] });

  it('counts finished steps by their expected time and a running one up to it', () => {
    const expected = new Map([['nodes', 20_000], ['argocd', 60_000], ['apps', 20_000]]);
    const now = Date.parse(at(50));
    const p = progress([step('nodes', 'changed', 0), step('argocd', 'running', 20)], expected, now);
    expect(p.expectedMs).toBe(100_000);
    expect(p.elapsedMs).toBe(50_000);
    expect(p.fraction).toBeCloseTo(0.5);
    // A step slower than last time holds the bar at its share, never past it.
    const late = progress([step('nodes', 'changed', 0), step('argocd', 'running', 20)], expected, Date.parse(at(59)) + 60_000);
    expect(late.fraction).toBeCloseTo(0.8);
  });

  it('has no estimate before any run finished here', () => {
    expect(progress([step('nodes', 'running', 0)], new Map(), Date.parse(at(5))).fraction).toBeNull();
    expect(duration(65_000)).toBe('1 min 05 s');
    expect(duration(42_000)).toBe('42 s');
  });
});

describe('state tones', () => {
  it('reads Argo CD’s health and sync as one tone', () => {
    expect(componentTone({ health: 'Healthy', sync: 'Synced' })).toBe('ok');
    expect(componentTone({ health: 'Healthy', sync: 'OutOfSync' })).toBe('warn');
    expect(componentTone({ health: 'Progressing', sync: 'Synced' })).toBe('busy');
    expect(componentTone({ health: 'Degraded', sync: 'Synced' })).toBe('bad');
    expect(serviceTone({ health: null, sync: null })).toBe('idle');
  });
});
