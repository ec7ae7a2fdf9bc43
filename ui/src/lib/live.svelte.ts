// What the sidebar's status dots show, whichever view is open: the platform's last status, the
// services' last list, the port-forwards. Views write what they read; the app polls the rest.
import type { ForwardInfo } from '../api/helpers';
import type { PlatformStatus } from '../api/platform';
import type { ServiceEntry } from '../api/services';
import { serviceTone } from './tones';

export type Tone = 'ok' | 'warn' | 'bad' | 'busy' | 'idle';

interface Live {
  platform: PlatformStatus | null;
  /** A start, stop or delete is running. */
  running: 'start' | 'stop' | 'delete' | null;
  services: ServiceEntry[] | null;
  forwards: ForwardInfo[];
}

const initial = (): Live => ({ platform: null, running: null, services: null, forwards: [] });

export const live = $state<Live>(initial());

/** Back to nothing known (each component test starts from there). */
export function forget() {
  Object.assign(live, initial());
}

export interface Dot {
  tone: Tone;
  /** Said to screen readers and as the tooltip. */
  label: string;
}

export function platformDot(s: PlatformStatus | null, running: string | null): Dot {
  if (running) return { tone: 'busy', label: `${running === 'start' ? 'starting' : running === 'stop' ? 'stopping' : 'deleting'}` };
  if (!s) return { tone: 'idle', label: 'not checked yet' };
  if (!s.exists) return { tone: 'idle', label: 'not created' };
  if (s.problems.length === 0) return { tone: 'ok', label: 'healthy' };
  if (s.nodes.length && s.nodes.every((n) => n.state === 'stopped')) return { tone: 'idle', label: 'stopped' };
  const progressing = s.components.some((c) => c.health === 'Progressing');
  return progressing ? { tone: 'busy', label: 'starting up' } : { tone: 'bad', label: `${s.problems.length} problem${s.problems.length > 1 ? 's' : ''}` };
}

export function servicesDot(services: ServiceEntry[] | null): Dot {
  if (!services || services.length === 0) return { tone: 'idle', label: services ? 'none yet' : 'not listed yet' };
  const failing = services.filter((s) => serviceTone(s) === 'bad');
  if (failing.length) return { tone: 'bad', label: `${failing.map((s) => s.name).join(', ')} failing` };
  if (services.some((s) => serviceTone(s) !== 'ok')) return { tone: 'busy', label: 'deploying' };
  return { tone: 'ok', label: `${services.length} healthy` };
}

export function helpersDot(forwards: ForwardInfo[]): Dot {
  if (forwards.some((f) => f.state.state === 'failed')) return { tone: 'bad', label: 'a forward failed' };
  if (forwards.some((f) => f.state.state === 'reconnecting' || f.state.state === 'connecting')) return { tone: 'warn', label: 'a forward is reconnecting' };
  if (forwards.length) return { tone: 'ok', label: `${forwards.length} forward${forwards.length > 1 ? 's' : ''} ready` };
  return { tone: 'idle', label: 'no forwards' };
}
