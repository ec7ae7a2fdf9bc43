// Which state colour each thing the window shows gets: one mapping, used by every view.
import type { ComponentStatus, NodeStatus } from '../api/platform';
import type { ServiceEntry } from '../api/services';
import type { Tone } from './live.svelte';

/** Argo CD's health and sync as a tone: Healthy but OutOfSync is a warning, not a success. */
export function componentTone(c: Pick<ComponentStatus, 'health' | 'sync'>): Tone {
  if (c.health === 'Healthy') return c.sync === 'OutOfSync' ? 'warn' : 'ok';
  if (c.health === 'Progressing') return 'busy';
  if (c.health === 'Degraded' || c.health === 'Missing') return 'bad';
  return 'warn';
}

export function nodeTone(n: Pick<NodeStatus, 'state' | 'ready'>): Tone {
  if (n.state === 'stopped') return 'idle';
  if (n.state !== 'running') return 'bad';
  return n.ready === false ? 'busy' : 'ok';
}

/** A service not deployed yet is idle, not failing: Argo CD finds it within minutes. */
export function serviceTone(s: Pick<ServiceEntry, 'health' | 'sync'>): Tone {
  if (!s.health) return 'idle';
  return componentTone({ health: s.health, sync: s.sync ?? 'Unknown' });
}
