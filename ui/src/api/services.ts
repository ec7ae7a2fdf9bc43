import { invoke, invokeWithProgress } from './ipc';
import type { Created } from './generated/Created';
import type { FieldProblems } from './generated/FieldProblems';
import type { ServiceEntry } from './generated/ServiceEntry';
import type { ServiceStatus } from './generated/ServiceStatus';
import type { TeamSummary } from './generated/TeamSummary';
import type { ProgressEvent } from './types';

export type { Created } from './generated/Created';
export type { FieldProblems } from './generated/FieldProblems';
export type { ServiceEntry } from './generated/ServiceEntry';
export type { ServiceStatus } from './generated/ServiceStatus';
export type { Link as ChainLink } from './generated/Link';
export type { TeamSummary } from './generated/TeamSummary';

export const TEMPLATES = [{ id: 'nodejs-v24', label: 'Node.js v24' }];

export const serviceCheck = (name: string, team: string) => invoke<FieldProblems>('service_check', { name, team });
export const serviceCreate = (name: string, team: string, template: string, onEvent: (e: ProgressEvent) => void) =>
  invokeWithProgress<Created>('service_create', { name, team, template }, onEvent);
export const serviceRollback = (name: string) => invoke<string[]>('service_rollback', { name });
export const servicesList = () => invoke<ServiceEntry[]>('services_list');
export const serviceStatus = (name: string) => invoke<ServiceStatus>('service_status', { name });
export const teamsList = () => invoke<TeamSummary[]>('teams_list');

/// `used/hard` of one quota resource of a team, if the namespace has that quota.
export function quotaUse(team: TeamSummary | undefined, resource: string): string | null {
  const q = team?.quota.find((x) => x.resource === resource);
  return q ? `${q.used}/${q.hard}` : null;
}

/// What each link of the chain is called on screen.
export const LINK_LABELS: Record<string, string> = {
  repository: 'Repository',
  ci: 'CI',
  image: 'Image',
  application: 'Argo CD',
  pods: 'Pods',
  url: 'URL',
};
