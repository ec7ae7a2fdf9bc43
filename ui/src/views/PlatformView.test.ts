import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import PlatformView from './PlatformView.svelte';
import type { PlatformStatus } from '../api/platform';
import { backend, calls, done, failed, started } from '../test/ipc';

// Typed, so a field the backend adds or renames fails the type check here too.
const status = (exists: boolean, problems: string[] = exists ? [] : ['the cluster does not exist; run `slipway up`']): PlatformStatus => ({
  name: 'slipway', docker: 'unix:///var/run/docker.sock (default)', exists, healthy: exists, nodes: [], apiServer: null, ingress: [],
  kubeconfig: null, context: 'kind-slipway', contextPresent: exists,
  components: exists ? [{ name: 'backstage', sync: 'Synced', health: 'Healthy' }] : [],
  apiReachable: exists, ingressAnswering: exists, platformInstalled: exists, mode: exists ? 'github' : null, problems, httpsTrusted: false,
});

describe('the platform view', () => {
  it('shows every step of Start live, then the links', async () => {
    let up = false;
    backend({
      platform_preflight: () => [],
      platform_status: () => status(up),
      platform_up: (_a, emit) => {
        for (const [id, title] of [['preflight', 'Check the machine'], ['nodes', 'Create the nodes'], ['argocd', 'Install Argo CD']]) {
          emit(started(id, title));
          emit(done(id));
        }
        up = true;
        return { cluster: 'slipway', upToDate: false, elapsedMs: 1000, platform: { argocdUrl: 'http://argocd.local:8880', backstageUrl: 'http://backstage.local:8880', argocdUser: 'admin', hosts: [], https: false } };
      },
    });
    render(PlatformView);
    expect(await screen.findByText(/No cluster yet/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Start platform' }));
    expect(await screen.findByText('Open Backstage')).toBeTruthy();
    const states = [...document.querySelectorAll('li[data-step]')].map((li) => li.getAttribute('data-state'));
    expect(states).toEqual(['changed', 'changed', 'changed']);
    await waitFor(() => expect(document.querySelector('tr[data-component="backstage"]')?.textContent).toContain('Healthy'));
  });

  it('names the failed step with its error and Retry runs up again', async () => {
    let runs = 0;
    backend({
      platform_preflight: () => [],
      platform_status: () => status(runs > 1),
      platform_up: (_a, emit) => {
        runs += 1;
        emit(started('argocd', 'Install Argo CD'));
        if (runs === 1) {
          emit(failed('argocd', 'helm: chart not found'));
          throw { kind: 'step', step: 'argocd', message: 'step `argocd` failed: helm: chart not found; check --charts' };
        }
        emit(done('argocd'));
        return { cluster: 'slipway', upToDate: false, elapsedMs: 1, platform: null };
      },
    });
    render(PlatformView);
    await fireEvent.click(await screen.findByRole('button', { name: 'Start platform' }));
    expect(await screen.findByText('Step “argocd” failed.')).toBeTruthy();
    expect(screen.getByText(/check --charts/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(document.querySelector('li[data-step="argocd"]')?.getAttribute('data-state')).toBe('changed'));
    expect(screen.queryByText('Step “argocd” failed.')).toBeNull();
    expect(calls.filter((c) => c.cmd === 'platform_up')).toHaveLength(2);
  });

  it('says what is not healthy, and which Docker it asked', async () => {
    const problems = ['node slipway-worker is not running; run `slipway up`', 'nothing answers on the HTTP ingress 127.0.0.1:8880; run `slipway up`'];
    backend({ platform_preflight: () => [], platform_status: () => ({ ...status(true, problems), healthy: false }) });
    render(PlatformView);
    const list = await screen.findByRole('list', { name: 'What is not healthy' });
    expect(list.textContent).toContain('slipway-worker is not running');
    expect(list.textContent).toContain('HTTP ingress');
    expect(screen.getByText('not healthy')).toBeTruthy();
    expect(screen.getByText(/Docker at unix:\/\/\/var\/run\/docker.sock/)).toBeTruthy();
  });
  it('offers the switch to GitHub mode when the platform runs in local mode, and runs up for it', async () => {
    backend({
      platform_preflight: () => [],
      platform_status: () => ({ ...status(true), mode: 'local' }),
      platform_up: () => ({ cluster: 'slipway', upToDate: false, elapsedMs: 1, platform: null }),
    });
    render(PlatformView);
    await fireEvent.click(await screen.findByRole('button', { name: 'Switch to GitHub mode' }));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'platform_up')).toBe(true));
  });
  it('asks before deleting', async () => {
    backend({ platform_preflight: () => [], platform_status: () => status(true), platform_delete: (_a, emit) => { emit(started('delete', 'Delete the cluster')); emit(done('delete')); return { status: 'changed', detail: 'deleted' }; } });
    render(PlatformView);
    await fireEvent.click(await screen.findByRole('button', { name: 'Delete…' }));
    expect(calls.some((c) => c.cmd === 'platform_delete')).toBe(false);
    await fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'platform_delete')).toBe(true));
  });

  it('shows preflight warnings before Start, and copies the Argo CD password without receiving it', async () => {
    backend({
      platform_preflight: () => ['inotify limits are low (max_user_instances=128); raise them with sysctl'],
      platform_status: () => status(false),
      platform_up: () => ({ cluster: 'slipway', upToDate: true, elapsedMs: 1, platform: { argocdUrl: 'http://argocd.local:8880', backstageUrl: 'http://backstage.local:8880', argocdUser: 'admin', hosts: ['argocd.local'], https: false } }),
      argocd_password_copy: () => null,
      open_link: () => null,
    });
    render(PlatformView);
    expect(await screen.findByText(/inotify limits are low/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Start platform' }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Copy Argo CD password' }));
    expect(await screen.findByText(/password is on the clipboard/)).toBeTruthy();
    expect(calls.find((c) => c.cmd === 'argocd_password_copy')?.args).toEqual({});
    await fireEvent.click(screen.getByText('Open Backstage'));
    expect(calls.find((c) => c.cmd === 'open_link')?.args).toEqual({ url: 'http://backstage.local:8880' });
  });
});
