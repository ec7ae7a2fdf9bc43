import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import ServicesView from './ServicesView.svelte';
import { backend, calls, done, failed, started } from '../test/ipc';
import { brokenChain } from '../test/fixtures';

// The backend's check (core's rules) is what the form shows; the mock answers like it.
const check = ({ name, team }: Record<string, unknown>) => ({
  name: /^[a-z]([a-z0-9-]*[a-z0-9])?$/.test(String(name)) ? null : `service name contains an invalid character: use lower-case letters, digits and '-'`,
  team: String(team) === '' || /^[a-z]([a-z0-9-]*[a-z0-9])?$/.test(String(team)) ? null : 'team must start with a letter',
});

async function fill(name: string, team: string) {
  await fireEvent.input(screen.getByLabelText('Service name'), { target: { value: name } });
  await fireEvent.blur(screen.getByLabelText('Service name'));
  await fireEvent.input(screen.getByLabelText('Owning team'), { target: { value: team } });
  await fireEvent.blur(screen.getByLabelText('Owning team'));
}

describe('the service form', () => {
  it('shows core’s problem inline and enables Create only for valid input', async () => {
    backend({ services_list: () => [], service_check: check });
    render(ServicesView);
    await fill('Shop_API', 'payments');
    expect(await screen.findByText(/service name contains an invalid character/)).toBeTruthy();
    expect(screen.getByLabelText('Service name').getAttribute('aria-invalid')).toBe('true');
    expect((screen.getByRole('button', { name: 'Create service' }) as HTMLButtonElement).disabled).toBe(true);

    await fill('shop-api', 'payments');
    await waitFor(() => expect((screen.getByRole('button', { name: 'Create service' }) as HTMLButtonElement).disabled).toBe(false));
    expect(screen.queryByText(/invalid character/)).toBeNull();
    expect(calls.filter((c) => c.cmd === 'service_check').at(-1)?.args).toEqual({ name: 'shop-api', team: 'payments' });
  });

  it('renders the creation steps live and the result with its links', async () => {
    backend({
      services_list: () => [{ name: 'shop-api', team: 'payments', sync: 'Synced', health: 'Healthy', repoUrl: 'https://github.test/acme/shop-api', catalogUrl: 'c', argocdUrl: 'a', serviceUrl: 's' }],
      service_check: check,
      service_create: (_args, emit) => {
        emit(started('check', 'Check the name is free'));
        emit(done('check', 'free'));
        emit(started('repository', 'Create the repository'));
        emit(done('repository', 'created acme/shop-api'));
        return { repoUrl: 'https://github.test/acme/shop-api', catalogEntity: 'component:default/shop-api', serviceUrl: 'http://shop-api.local:8880', host: 'shop-api.local', hostListed: false, application: ['Synced', 'Healthy'] };
      },
    });
    render(ServicesView);
    await fill('shop-api', 'payments');
    await waitFor(() => expect((screen.getByRole('button', { name: 'Create service' }) as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(screen.getByRole('button', { name: 'Create service' }));
    expect(await screen.findByText(/is created/)).toBeTruthy();
    const steps = screen.getByRole('list', { name: 'Steps of the service creation' });
    expect([...steps.querySelectorAll('li')].map((li) => [li.dataset.step, li.dataset.state])).toEqual([['check', 'changed'], ['repository', 'changed']]);
    expect(screen.getByText(/Argo CD: Synced, Healthy/)).toBeTruthy();
    expect(screen.getByText(/shop-api.local is not in the hosts file yet/)).toBeTruthy();
    expect(calls.find((c) => c.cmd === 'service_create')?.args).toEqual({ name: 'shop-api', team: 'payments', template: 'nodejs-v24' });
    expect(document.querySelector('[data-service="shop-api"]')).toBeTruthy();
  });

  it('offers Resume and Roll back after a failed step, and Resume runs the same creation again', async () => {
    let attempt = 0;
    backend({
      services_list: () => [],
      service_check: check,
      service_create: (_args, emit) => {
        attempt += 1;
        emit(started('catalog', 'Register in the catalog'));
        if (attempt === 1) {
          emit(failed('catalog', 'Backstage answered 500'));
          throw { kind: 'step', step: 'catalog', message: 'step `catalog` failed: Backstage answered 500' };
        }
        emit(done('catalog', 'registered'));
        return { repoUrl: 'r', catalogEntity: 'component:default/shop-api', serviceUrl: 's', host: 'shop-api.local', hostListed: true, application: null };
      },
      service_rollback: () => ['repository acme/shop-api'],
    });
    render(ServicesView);
    await fill('shop-api', 'payments');
    await waitFor(() => expect((screen.getByRole('button', { name: 'Create service' }) as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(screen.getByRole('button', { name: 'Create service' }));
    expect(await screen.findByText('Step “catalog” failed.')).toBeTruthy();
    expect(screen.getAllByText(/Backstage answered 500/).length).toBeGreaterThan(0);
    expect(document.querySelector('li[data-step="catalog"]')?.getAttribute('data-state')).toBe('failed');

    await fireEvent.click(screen.getByRole('button', { name: 'Resume' }));
    expect(await screen.findByText(/is created/)).toBeTruthy();
    expect(calls.filter((c) => c.cmd === 'service_create')).toHaveLength(2);
  });
});

describe('teams', () => {
  const payments = { name: 'payments', namespace: 'team-payments', source: 'repository', applied: true, services: ['shop-api'],
    quota: [{ resource: 'pods', used: '2', hard: '20' }, { resource: 'requests.cpu', used: '100m', hard: '2' }, { resource: 'requests.memory', used: '192Mi', hard: '2Gi' }] };

  it('shows each service’s team quota use and suggests the existing teams', async () => {
    backend({
      services_list: () => [{ name: 'shop-api', team: 'payments', sync: 'Synced', health: 'Healthy', repoUrl: 'r', catalogUrl: 'c', argocdUrl: 'a', serviceUrl: 's' }],
      teams_list: () => [payments, { ...payments, name: 'web', namespace: 'team-web', services: [], quota: [] }],
      service_check: check,
    });
    render(ServicesView);
    const row = await waitFor(() => {
      const r = document.querySelector('[data-service="shop-api"] .quota');
      expect(r?.textContent).toContain('pods 2/20');
      return r;
    });
    expect(row?.textContent).toContain('CPU 100m/2');
    const options = [...document.querySelectorAll('#known-teams option')].map((o) => (o as HTMLOptionElement).value);
    expect(options).toEqual(['payments', 'web']);
    expect(screen.getByLabelText('Owning team').getAttribute('list')).toBe('known-teams');
    await fill('new-svc', 'growth');
    expect(await screen.findByText(/A new team: creating the service also gives growth its namespace team-growth/)).toBeTruthy();
  });
});

describe('errors by kind', () => {
  it('offers to connect GitHub when it is not connected, and takes the person to Settings', async () => {
    const { nav } = await import('../lib/nav.svelte');
    nav.view = 'services';
    backend({
      services_list: () => { throw { kind: 'gitHubNotConnected', message: 'GitHub is not connected for https://api.github.com: connect it first', step: null }; },
      service_check: check,
    });
    render(ServicesView);
    const notice = await screen.findByRole('alert');
    expect(notice.getAttribute('data-kind')).toBe('gitHubNotConnected');
    await fireEvent.click(screen.getByRole('button', { name: 'Connect GitHub' }));
    expect(nav.view).toBe('settings');
  });

  it('offers to check again when GitHub is unavailable, and asks once more', async () => {
    let lists = 0;
    backend({
      services_list: () => { lists += 1; if (lists === 1) throw { kind: 'unavailable', message: 'cannot reach GitHub', step: null }; return []; },
      service_check: check,
    });
    render(ServicesView);
    await fireEvent.click(await screen.findByRole('button', { name: 'Check again' }));
    await waitFor(() => expect(lists).toBe(2));
    expect(await screen.findByText(/No services yet/)).toBeTruthy();
  });
});

describe('where a service stands', () => {
  const chain = brokenChain();

  it('shows the chain of a listed service with the first broken link and its fix', async () => {
    backend({
      services_list: () => [{ name: 'shop-api', team: 'payments', sync: 'Synced', health: 'Progressing', repoUrl: 'r', catalogUrl: 'c', argocdUrl: 'a', serviceUrl: 's' }],
      teams_list: () => [],
      service_status: () => chain,
    });
    render(ServicesView);
    await fireEvent.click(await screen.findByRole('button', { name: 'Where shop-api stands' }));
    const list = await screen.findByRole('list', { name: 'shop-api from commit to traffic' });
    expect([...list.querySelectorAll('li')].map((li) => [li.dataset.link, li.dataset.state])).toEqual([
      ['repository', 'done'], ['ci', 'done'], ['image', 'done'], ['application', 'waiting'], ['pods', 'failed'], ['url', 'waiting'],
    ]);
    const broken = list.querySelector('li.broken') as HTMLElement;
    expect(broken.dataset.link).toBe('pods');
    expect(broken.textContent).toContain('pull Secret');
    expect(screen.getByText(/Pods is the first link to look at/)).toBeTruthy();
    expect(calls.find((c) => c.cmd === 'service_status')?.args).toEqual({ name: 'shop-api' });
  });
});
