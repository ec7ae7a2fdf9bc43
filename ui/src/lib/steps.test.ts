import { describe, expect, it } from 'vitest';
import { applyEvent, warnings, type StepView } from './steps';
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
