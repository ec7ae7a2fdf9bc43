import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import PlatformView from './PlatformView.svelte';
import type { PlatformStatus } from '../api/platform';
import { backend, calls, done, failed, started } from '../test/ipc';
import { preflight, runningStatus, settingsView } from '../test/fixtures';

// Typed, so a field the backend adds or renames fails the type check here too.
const status = (exists: boolean, problems: string[] = exists ? [] : ['the cluster does not exist; run `slipway up`']): PlatformStatus => ({
  name: 'slipway', docker: 'unix:///var/run/docker.sock (default)', exists, healthy: exists,
  nodes: exists ? runningStatus().nodes : [], apiServer: null, ingress: [],
  kubeconfig: null, context: 'kind-slipway', contextPresent: exists,
  components: exists ? [{ name: 'backstage', sync: 'Synced', health: 'Healthy', pinned: '2.6.3', running: '2.6.3', reason: null }] : [],
  apiReachable: exists, ingressAnswering: exists, platformInstalled: exists, mode: exists ? 'github' : null, problems, httpsTrusted: false,
});

describe('the platform view', () => {
  it('shows every step of Start live, then the links', async () => {
    let up = false;
    backend({
      platform_preflight: () => preflight(), settings_get: () => settingsView(true),
      platform_status: () => status(up),
      platform_up: (_a, emit) => {
        for (const [id, title] of [['preflight', 'Check the machine'], ['nodes', 'Create the nodes'], ['argocd', 'Install Argo CD']]) {
          emit(started(id, title));
          emit(done(id));
        }
        up = true;
        return { cluster: 'slipway', upToDate: false, elapsedMs: 1000, platform: { argocdUrl: 'http://argocd.local:8880', backstageUrl: 'http://backstage.local:8880', grafanaUrl: 'http://grafana.local:8880', argocdUser: 'admin', hosts: [], https: false } };
      },
    });
    render(PlatformView);
    expect(await screen.findByText(/No cluster yet/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Start platform' }));
    expect(await screen.findByText('Open Backstage')).toBeTruthy();
    expect(screen.getByText('Open Grafana').closest('a')?.getAttribute('href')).toBe('http://grafana.local:8880');
    const states = [...document.querySelectorAll('li[data-step]')].map((li) => li.getAttribute('data-state'));
    expect(states).toEqual(['changed', 'changed', 'changed']);
    await waitFor(() => expect(document.querySelector('[data-component="backstage"]')?.textContent).toContain('Healthy'));
  });

  it('names the failed step with its error and Retry runs up again', async () => {
    let runs = 0;
    backend({
      platform_preflight: () => preflight(), settings_get: () => settingsView(true),
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
    backend({ platform_preflight: () => preflight(), settings_get: () => settingsView(true), platform_status: () => ({ ...status(true, problems), healthy: false }) });
    render(PlatformView);
    const list = await screen.findByRole('list', { name: 'What is not healthy' });
    expect(list.textContent).toContain('slipway-worker is not running');
    expect(list.textContent).toContain('HTTP ingress');
    expect(screen.getByTestId('platform-state').textContent).toContain('2 problems');
    expect(screen.getByText(/Docker at unix:\/\/\/var\/run\/docker.sock/)).toBeTruthy();
  });
  it('offers the switch to GitHub mode when the platform runs in local mode, and runs up for it', async () => {
    backend({
      platform_preflight: () => preflight(), settings_get: () => settingsView(true),
      platform_status: () => ({ ...status(true), mode: 'local' }),
      platform_up: () => ({ cluster: 'slipway', upToDate: false, elapsedMs: 1, platform: null }),
    });
    render(PlatformView);
    await fireEvent.click(await screen.findByRole('button', { name: 'Switch to GitHub mode' }));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'platform_up')).toBe(true));
  });
  it('asks before deleting', async () => {
    backend({ platform_preflight: () => preflight(), settings_get: () => settingsView(true), platform_status: () => status(true), platform_delete: (_a, emit) => { emit(started('delete', 'Delete the cluster')); emit(done('delete')); return { status: 'changed', detail: 'deleted' }; } });
    render(PlatformView);
    await fireEvent.click(await screen.findByRole('button', { name: 'Delete…' }));
    expect(calls.some((c) => c.cmd === 'platform_delete')).toBe(false);
    await fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'platform_delete')).toBe(true));
  });

  it('shows preflight warnings before Start, and copies the Argo CD password without receiving it', async () => {
    backend({
      platform_preflight: () => preflight(['inotify limits are low (max_user_instances=128); raise them with sysctl']), settings_get: () => settingsView(true),
      platform_status: () => status(false),
      platform_up: () => ({ cluster: 'slipway', upToDate: true, elapsedMs: 1, platform: { argocdUrl: 'http://argocd.local:8880', backstageUrl: 'http://backstage.local:8880', grafanaUrl: 'http://grafana.local:8880', argocdUser: 'admin', hosts: ['argocd.local'], https: false } }),
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

  it('places the components on the platform node with their versions, reasons and the host ports', async () => {
    const s = runningStatus(['backstage is Degraded (Synced); run `slipway up` to repair it']);
    s.components[1] = { ...s.components[1], running: '40.0.0' };
    s.components.push({ name: 'grafana', sync: 'Synced', health: 'Healthy', pinned: '12.11.1', running: '12.11.1', reason: null });
    const links = { argocdUrl: 'http://argocd.local:8880', backstageUrl: 'http://backstage.local:8880', grafanaUrl: 'http://grafana.local:8880', argocdUser: 'admin', hosts: [], https: false };
    backend({ platform_preflight: () => preflight(), settings_get: () => settingsView(true), platform_status: () => s, services_list: () => [], platform_links: () => links });
    render(PlatformView);
    const platformNode = await waitFor(() => {
      const n = document.querySelector('[data-pool="platform"]');
      expect(n).toBeTruthy();
      return n as HTMLElement;
    });
    expect([...platformNode.querySelectorAll('[data-component]')].map((c) => c.getAttribute('data-component'))).toEqual(['argo-cd', 'traefik', 'backstage', 'grafana']);
    expect(platformNode.querySelector('[data-component="traefik"]')?.textContent).toContain('runs 40.0.0 · pinned 41.3.0');
    // A component with a UI of its own opens it from its card.
    await waitFor(() => expect(platformNode.querySelector('[data-component="grafana"] a')?.getAttribute('href')).toBe('http://grafana.local:8880'));
    const backstage = platformNode.querySelector('[data-component="backstage"]') as HTMLElement;
    expect(backstage.dataset.tone).toBe('bad');
    expect(backstage.textContent).toContain('CrashLoopBackOff');
    expect(document.querySelector('[data-pool="workloads"]')?.textContent).toContain('Services you create run here');
    const ports = screen.getByRole('list', { name: 'Host ports into the cluster' }).textContent ?? '';
    expect(ports).toContain('127.0.0.1:8880');
    expect(ports).toContain(':443');
    expect(ports).toContain(':6443');
  });

  it('shows the run as one bar against the last run’s step times', async () => {
    let finish: (v: unknown) => void = () => {};
    backend({
      platform_preflight: () => preflight(), settings_get: () => settingsView(true), platform_status: () => status(false),
      platform_expected: () => [{ id: 'nodes', elapsedMs: 30_000 }, { id: 'argocd', elapsedMs: 90_000 }],
      platform_up: (_a, emit) => { emit(started('nodes', 'Create the nodes')); return new Promise((r) => (finish = r)); },
    });
    render(PlatformView);
    await fireEvent.click(await screen.findByRole('button', { name: 'Start platform' }));
    const bar = await screen.findByTestId('run-progress');
    expect(bar.textContent).toContain('of about 2 min 00 s');
    expect(bar.textContent).toContain('Create the nodes');
    expect(bar.querySelector('progress')?.getAttribute('max')).toBe('100');
    finish({ cluster: 'slipway', upToDate: false, elapsedMs: 1, platform: null });
  });
});

describe('the first run', () => {
  it('guides a new user through Docker, helm and GitHub, then saves the settings and starts', async () => {
    let saved = false;
    backend({
      settings_get: () => settingsView(saved),
      settings_set: () => { saved = true; return '/home/dev/.config/slipway/config.yaml'; },
      platform_status: () => status(false),
      platform_preflight: () => preflight(),
      helm_check: () => ({ path: '/usr/local/bin/helm', version: 'v4.1.4' }),
      github_status: () => null,
      platform_expected: () => [],
      platform_up: () => ({ cluster: 'slipway', upToDate: false, elapsedMs: 1, platform: null }),
    });
    render(PlatformView);
    const guide = await screen.findByTestId('first-run');
    await waitFor(() => expect(guide.querySelector('[data-check="docker"]')?.textContent).toContain('8.0 GiB of memory; the platform needs 2.2 GiB'));
    await waitFor(() => expect(guide.querySelector('[data-check="helm"]')?.textContent).toContain('v4.1.4'));
    const start = screen.getByRole('button', { name: 'Start platform' }) as HTMLButtonElement;
    expect(start.disabled).toBe(true);
    await fireEvent.click(screen.getByRole('button', { name: 'Skip for now' }));
    expect(guide.querySelector('[data-check="github"]')?.textContent).toContain('local mode');
    await waitFor(() => expect(start.disabled).toBe(false));
    await fireEvent.click(start);
    await waitFor(() => expect(calls.some((c) => c.cmd === 'platform_up')).toBe(true));
    expect(calls.findIndex((c) => c.cmd === 'settings_set')).toBeLessThan(calls.findIndex((c) => c.cmd === 'platform_up'));
    expect(screen.queryByTestId('first-run')).toBeNull();
  });

  it('shows a failed check’s fix and checks again on request', async () => {
    let asked = 0;
    backend({
      settings_get: () => settingsView(false),
      platform_status: () => status(false),
      platform_preflight: () => {
        asked += 1;
        if (asked === 1) throw { kind: 'docker', message: 'cannot reach Docker at unix:///var/run/docker.sock: start Docker Desktop, or set DOCKER_HOST', step: null };
        return preflight();
      },
      helm_check: () => { throw { kind: 'invalid', message: 'helm is not on PATH: install helm 3 or 4, or set SLIPWAY_HELM', step: null }; },
      github_status: () => null,
    });
    render(PlatformView);
    const docker = await waitFor(() => {
      const d = document.querySelector('[data-check="docker"]') as HTMLElement;
      expect(d.textContent).toContain('start Docker Desktop');
      return d;
    });
    expect(docker.dataset.tone).toBe('bad');
    expect(document.querySelector('[data-check="helm"]')?.textContent).toContain('set SLIPWAY_HELM');
    await fireEvent.click(docker.querySelector('button') as HTMLButtonElement);
    await waitFor(() => expect(docker.dataset.tone).toBe('ok'));
    expect(asked).toBe(2);
  });
});
