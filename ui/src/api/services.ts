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

/** A repository with the topic idp-managed, and its Argo CD Application's state if any. */
export interface ServiceEntry {
  name: string;
  team: string | null;
  sync: string | null;
  health: string | null;
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
export const servicesList = () => invoke<ServiceEntry[]>('services_list');
