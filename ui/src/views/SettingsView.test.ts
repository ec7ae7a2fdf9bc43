import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import SettingsView from './SettingsView.svelte';
import { backend, calls } from '../test/ipc';

const TOKEN = 'ghp_TESTTOKEN0123456789';

describe('connecting GitHub', () => {
  it('sends the token once, clears the field, and shows what comes back without it', async () => {
    const connected = { api: 'https://api.github.com', identity: { login: 'octo', scopes: ['repo', 'read:org', 'workflow'], organisations: ['acme'] }, budget: { limit: 5000, remaining: 4990, reset: 0 }, keyring: 'Secret Service', missingScopes: [] };
    backend({ settings_get: () => ({ config: {}, path: null, error: null }), github_status: () => null, github_connect: () => connected });
    render(SettingsView);
    const input = (await screen.findByLabelText(/Personal access token/)) as HTMLInputElement;
    expect(input.type).toBe('password');
    await fireEvent.input(input, { target: { value: TOKEN } });
    await fireEvent.click(screen.getByRole('button', { name: 'Connect' }));
    expect((await screen.findByTestId('github-login')).textContent).toContain('octo');
    expect(screen.getByText('octo, acme')).toBeTruthy();
    const sent = calls.filter((c) => JSON.stringify(c.args).includes(TOKEN));
    expect(sent.map((c) => c.cmd)).toEqual(['github_connect']);
    expect(document.body.innerHTML).not.toContain(TOKEN);
  });

  it('shows the keyring error and keeps nothing', async () => {
    backend({ settings_get: () => ({ config: {}, path: null, error: null }), github_status: () => null, github_connect: () => { throw { kind: 'keyring', message: 'no OS keyring (no session bus); start a Secret Service', step: null }; } });
    render(SettingsView);
    await fireEvent.input(await screen.findByLabelText(/Personal access token/), { target: { value: TOKEN } });
    await fireEvent.click(screen.getByRole('button', { name: 'Connect' }));
    expect(await screen.findByText(/no OS keyring/)).toBeTruthy();
    expect(((screen.getByLabelText(/Personal access token/)) as HTMLInputElement).value).toBe('');
  });
});

describe('the settings form', () => {
  it('offers the connected user and their organisations as owners and saves the choice', async () => {
    const connected = { api: 'https://api.github.com', identity: { login: 'octo', scopes: null, organisations: ['acme', 'initech'] }, budget: null, keyring: 'kernel keyring', missingScopes: [] };
    let saved: unknown = null;
    backend({ settings_get: () => ({ config: { domain: 'dev.test' }, path: '/home/u/.config/slipway/config.yaml', error: null }), github_status: () => connected, settings_set: ({ config }) => { saved = config; return '/home/u/.config/slipway/config.yaml'; } });
    render(SettingsView);
    const owner = (await screen.findByRole('combobox', { name: /GitHub owner/ })) as HTMLSelectElement;
    expect([...owner.options].map((o) => o.textContent)).toEqual(['octo (you)', 'acme', 'initech']);
    await fireEvent.change(owner, { target: { value: 'acme' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText(/Saved to/)).toBeTruthy();
    expect(saved).toEqual({ domain: 'dev.test', owner: 'acme' });
    expect(screen.getByText(/fine-grained token/)).toBeTruthy();
  });
});

describe('the observability part', () => {
  it('is on by default; unticked, the settings leave it out, and ticked again, bring it back', async () => {
    let saved: unknown = null;
    backend({ settings_get: () => ({ config: { domain: 'dev.test' }, path: '/home/u/.config/slipway/config.yaml', error: null }), github_status: () => null, settings_set: ({ config }) => { saved = config; return '/home/u/.config/slipway/config.yaml'; } });
    render(SettingsView);
    await waitFor(() => expect((screen.getByLabelText(/^Domain/) as HTMLInputElement).value).toBe('dev.test'));
    const box = screen.getByRole('checkbox', { name: /Observability/ }) as HTMLInputElement;
    expect(box.checked).toBe(true);
    await fireEvent.click(box);
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(saved).toEqual({ domain: 'dev.test', without: ['observability'] }));
    await fireEvent.click(box);
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(saved).toEqual({ domain: 'dev.test' }));
  });
});

describe('an unusable settings file', () => {
  it('is shown with why and where, the form starts from the defaults, and saving replaces it', async () => {
    const error = { kind: 'settings', message: 'the settings file /home/u/.config/slipway/config.yaml is invalid: unknown field `domian`', step: null };
    let saved: unknown = null;
    backend({
      settings_get: () => ({ config: {}, path: '/home/u/.config/slipway/config.yaml', error }),
      github_status: () => null,
      settings_set: ({ config }) => { saved = config; return '/home/u/.config/slipway/config.yaml'; },
    });
    render(SettingsView);
    const problem = await screen.findByTestId('settings-file-problem');
    expect(problem.textContent).toContain('unknown field `domian`');
    expect(problem.textContent).toContain('.invalid');
    await fireEvent.input(screen.getByLabelText(/^Domain/), { target: { value: 'dev.test' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText(/Saved to/)).toBeTruthy();
    expect(saved).toEqual({ domain: 'dev.test' });
    expect(screen.queryByTestId('settings-file-problem')).toBeNull();
  });
});

describe('HTTPS trust', () => {
  it('shows each store, trusts the CA in one click and shows a store that failed with its fix', async () => {
    const ca = { name: 'Slipway local CA dev@laptop', sha256: 'AB'.repeat(32), notAfter: 'Thu, 1 Dec 2036', permitted: ['local', 'test'] };
    let installed = false;
    backend({
      settings_get: () => ({ config: {}, path: null, error: null }),
      github_status: () => null,
      trust_status: () => ({
        ca,
        stores: [
          { kind: 'system', name: 'system (Debian ca-certificates)', location: '/usr/local/share/ca-certificates', state: installed ? 'installed' : 'absent' },
          { kind: 'nss', name: 'Firefox profile x.default', location: '/home/u/.mozilla/firefox/x.default', state: 'unavailable', reason: 'certutil is not installed', fix: 'install libnss3-tools' },
        ],
      }),
      trust_install: () => {
        installed = true;
        return [
          { kind: 'system', name: 'system (Debian ca-certificates)', outcome: 'changed' },
          { kind: 'nss', name: 'Firefox profile x.default', outcome: 'failed', reason: 'certutil is not installed; install libnss3-tools' },
        ];
      },
    });
    render(SettingsView);
    expect(await screen.findByText('Slipway local CA dev@laptop')).toBeTruthy();
    expect(screen.getByText(/unavailable: certutil is not installed \(install libnss3-tools\)/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Trust HTTPS on this machine' }));
    expect(await screen.findByRole('button', { name: 'Remove trust' })).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toContain('Firefox profile x.default: certutil is not installed');
    expect(document.querySelector('tr[data-store=system]')?.textContent).toContain('trusted');
    expect(calls.map((c) => c.cmd)).toContain('trust_install');
    expect(JSON.stringify(calls)).not.toContain('PRIVATE KEY');
  });
});

describe('an existing cluster', () => {
  it('offers kubectl\'s contexts, warns that .local is this machine\'s, and saves the context', async () => {
    let saved: unknown = null;
    backend({
      settings_get: () => ({ config: {}, path: '/home/u/.config/slipway/config.yaml', error: null }),
      github_status: () => null,
      kube_contexts: () => ['gke_team_europe-west1_platform', 'k3d-big'],
      settings_set: ({ config }) => { saved = config; return '/home/u/.config/slipway/config.yaml'; },
    });
    render(SettingsView);
    await waitFor(() => expect([...document.querySelectorAll('#kube-contexts option')].map((o) => (o as HTMLOptionElement).value)).toEqual(['gke_team_europe-west1_platform', 'k3d-big']));
    expect(screen.queryByText(/must be a DNS zone/)).toBeNull();
    await fireEvent.input(screen.getByLabelText(/Kubeconfig context/), { target: { value: 'k3d-big' } });
    expect((await screen.findByText(/must be a DNS zone/)).getAttribute('role')).toBe('alert');
    await fireEvent.input(screen.getByLabelText(/^Domain/), { target: { value: 'idp.example.com' } });
    await waitFor(() => expect(screen.queryByText(/must be a DNS zone/)).toBeNull());
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(saved).toEqual({ domain: 'idp.example.com', context: 'k3d-big' }));
  });
});
