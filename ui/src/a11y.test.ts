// Every view, in the states a person meets, through axe-core: no serious or critical
// violation. (Colour contrast needs layout, which jsdom lacks: tokens.test.ts checks the
// palette's contrast from the design tokens instead.)
import axe from 'axe-core';
import { render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import App from './App.svelte';
import FirstRun from './views/FirstRun.svelte';
import HelpersView from './views/HelpersView.svelte';
import LogsView from './views/LogsView.svelte';
import PlatformView from './views/PlatformView.svelte';
import ServicesView from './views/ServicesView.svelte';
import SettingsView from './views/SettingsView.svelte';
import { backend, done, failed, started } from './test/ipc';
import { brokenChain, preflight, runningStatus, service, settingsView } from './test/fixtures';

async function violations(container: Element) {
  const result = await axe.run(container, { rules: { 'color-contrast': { enabled: false } } });
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

const common = {
  platform_status: () => runningStatus(),
  platform_links: () => ({ argocdUrl: 'http://argocd.local:8880', backstageUrl: 'http://backstage.local:8880', grafanaUrl: 'http://grafana.local:8880', argocdUser: 'admin', hosts: [], https: false }),
  platform_preflight: () => preflight(),
  platform_expected: () => [],
  settings_get: () => settingsView(true),
  services_list: () => [service('shop-api', 'Progressing')],
  teams_list: () => [],
  service_status: () => brokenChain(),
  service_check: () => ({ name: null, team: null }),
  forwards_list: () => [{ id: 1, target: 'backstage/svc/backstage', listeners: [['127.0.0.1:7007', '7007']], state: { state: 'reconnecting', reason: 'pod went away' }, reconnects: 2 }],
  hosts_show: () => ({ plan: { path: '/etc/hosts', current: [], desired: [{ address: '127.0.0.1', names: ['backstage.local'] }], fingerprint: 'x' }, upToDate: false, clusterSkipped: null, skipped: [] }),
  logs_runs: () => [{ kind: 'up', at: '2026-11-27T12:00:00Z', events: [started('nodes', 'Create the nodes'), done('nodes'), started('argocd', 'Install Argo CD'), failed('argocd', 'helm not found')] }],
  github_status: () => null,
  trust_status: () => ({ ca: null, stores: [] }),
  helm_check: () => ({ path: '/usr/bin/helm', version: 'v4.1.4' }),
};

describe('accessibility (axe-core)', () => {
  it('the first-run guide', async () => {
    backend(common);
    const { container } = render(FirstRun, { props: { onstart: () => {} } });
    await screen.findByText(/installs Argo CD/);
    expect(await violations(container)).toEqual([]);
  });

  it('the window with its sidebar, the platform up', async () => {
    backend(common);
    const { container } = render(App);
    await waitFor(() => expect(container.querySelector('[data-component="backstage"]')).toBeTruthy());
    expect(await violations(container)).toEqual([]);
  });

  it('the platform with a failed step', async () => {
    backend({
      ...common,
      platform_status: () => runningStatus(['backstage is Degraded (Synced); run `slipway up` to repair it']),
      platform_up: (_a, emit) => {
        emit(started('argocd', 'Install Argo CD'));
        emit(failed('argocd', 'helm: not found'));
        throw { kind: 'step', step: 'argocd', message: 'step `argocd` failed: helm not found; set --helm' };
      },
    });
    const { container } = render(PlatformView);
    (await screen.findByRole('button', { name: 'Start platform' })).click();
    await screen.findByText('Step “argocd” failed.');
    expect(await violations(container)).toEqual([]);
  });

  it('services with a broken chain', async () => {
    backend(common);
    const { container } = render(ServicesView);
    await screen.findByRole('list', { name: 'shop-api from commit to traffic' });
    expect(await violations(container)).toEqual([]);
  });

  it('helpers, logs and settings', async () => {
    for (const [View, ready] of [[HelpersView, /reconnecting/], [LogsView, /Install Argo CD/], [SettingsView, /Appearance/]] as const) {
      backend(common);
      const { container, unmount } = render(View);
      await screen.findAllByText(ready);
      expect(await violations(container)).toEqual([]);
      unmount();
    }
  });
});
