import { invoke, invokeWithProgress } from './ipc';
import type { ProgressEvent } from './types';

export interface FieldProblems {
  name: string | null;
  team: string | null;
}

export interface Created {
  repoUrl: string;
  catalogEntity: string;
  serviceUrl: string;
  application: [string, string] | null;
}

export interface DeployedService {
  name: string;
  namespace: string;
  sync: string;
  health: string;
  repoUrl: string;
  catalogUrl: string;
  argocdUrl: string;
  serviceUrl: string;
}

export const TEMPLATES = [{ id: 'nodejs-v24', label: 'Node.js v24' }];

export const serviceCheck = (name: string, team: string) => invoke<FieldProblems>('service_check', { name, team });
export const serviceCreate = (name: string, team: string, template: string, onEvent: (e: ProgressEvent) => void) =>
  invokeWithProgress<Created>('service_create', { name, team, template }, onEvent);
export const serviceRollback = (name: string) => invoke<string[]>('service_rollback', { name });
export const servicesList = () => invoke<DeployedService[]>('services_list');
