// Typed backend answers the view tests share: a field the backend adds or renames fails the
// type check here.
import type { PlatformStatus, Preflight } from '../api/platform';
import type { ServiceEntry, ServiceStatus } from '../api/services';
import type { SettingsView } from '../api/settings';

export const preflight = (warnings: string[] = []): Preflight => ({
  docker: 'unix:///var/run/docker.sock (default)', memoryBytes: 8 * 2 ** 30, neededBytes: 2.2 * 2 ** 30, recommendedBytes: 6 * 2 ** 30, warnings,
});

export const settingsView = (exists: boolean): SettingsView => ({ config: {}, path: '/home/dev/.config/slipway/config.yaml', exists, error: null });

export const node = (name: string, role: string, pool: string) => ({
  name, role, state: 'running' as const, image: 'kindest/node:v1.35.0', ready: true, labels: { 'slipway.dev/pool': pool },
});

export function runningStatus(problems: string[] = []): PlatformStatus {
  const degraded = problems.some((p) => p.startsWith('backstage'));
  return {
    name: 'slipway', docker: 'unix:///var/run/docker.sock (default)', exists: true, healthy: true,
    nodes: [node('slipway-control-plane', 'control-plane', 'platform'), node('slipway-worker', 'worker', 'workloads')],
    apiServer: 'https://127.0.0.1:41234', ingress: ['http://127.0.0.1:8880', 'https://127.0.0.1:8843'],
    kubeconfig: null, context: 'kind-slipway', contextPresent: true,
    components: [
      { name: 'argo-cd', sync: '3/3 Deployments available', health: 'Healthy', pinned: '10.1.1', running: '10.1.1', reason: null },
      { name: 'traefik', sync: 'Synced', health: 'Healthy', pinned: '41.3.0', running: '41.3.0', reason: null },
      { name: 'backstage', sync: 'Synced', health: degraded ? 'Degraded' : 'Healthy', pinned: '2.6.3', running: '2.6.3', reason: degraded ? 'Deployment backstage: 0/1 ready, CrashLoopBackOff' : null },
    ],
    apiReachable: true, ingressAnswering: true, platformInstalled: true, mode: 'github', problems, httpsTrusted: false,
  };
}

export const service = (name: string, health: string | null, team = 'payments'): ServiceEntry => ({
  name, team, sync: health ? 'Synced' : null, health,
  repoUrl: `https://github.test/acme/${name}`, catalogUrl: 'http://backstage.local:8880/catalog', argocdUrl: 'http://argocd.local:8880', serviceUrl: `http://${name}.local:8880`,
});

export const brokenChain = (): ServiceStatus => ({
  name: 'shop-api',
  team: 'payments',
  broken: 'pods',
  links: [
    { kind: 'repository', state: 'done', summary: 'acme/shop-api, public, default branch main', url: 'https://github.test/acme/shop-api', fix: null },
    { kind: 'ci', state: 'done', summary: 'CI passed for 1a2b3c4', url: 'https://github.test/acme/shop-api/actions/runs/7', fix: null },
    { kind: 'image', state: 'done', summary: 'ghcr.io/acme/shop-api:1a2b3c4 on ghcr.io', url: null, fix: null },
    { kind: 'application', state: 'waiting', summary: 'Synced, Progressing', url: 'http://argocd.local:8880/applications/argocd/shop-api', fix: null },
    { kind: 'pods', state: 'failed', summary: '0/1 ready in team-payments; ImagePullBackOff for ghcr.io/acme/shop-api:1a2b3c4: 401 Unauthorized', url: null, fix: 'the image is private and team-payments cannot pull it: `slipway up` refreshes the namespace’s pull Secret' },
    { kind: 'url', state: 'waiting', summary: 'the route exists, no ready pod answers behind it (HTTP 503)', url: 'http://shop-api.local:8880', fix: null },
  ],
});
