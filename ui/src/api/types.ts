// The shapes the backend sends are generated from the Rust types (ts-rs, `cargo test`) into
// ./generated; CI fails when they are stale. Secrets never appear in them.
import type { ErrorKind } from './generated/ErrorKind';
import type { ErrorReport } from './generated/ErrorReport';

export type { ErrorKind } from './generated/ErrorKind';
export type { ErrorReport } from './generated/ErrorReport';
export type { ProgressEvent } from './generated/ProgressEvent';
export type { StepOutcome } from './generated/StepOutcome';

const KINDS: readonly ErrorKind[] = [
  'invalid', 'settings', 'docker', 'cluster', 'gitHubNotConnected', 'gitHubAuth', 'unavailable',
  'keyring', 'busy', 'io', 'conflict', 'needsPerson', 'step', 'internal',
];

/** A rejected invoke as the backend's ErrorReport, whatever was thrown. */
export function asErrorReport(e: unknown): ErrorReport {
  if (e && typeof e === 'object' && 'message' in e) {
    const r = e as Partial<ErrorReport>;
    const kind = KINDS.includes(r.kind as ErrorKind) ? (r.kind as ErrorKind) : 'internal';
    return { kind, message: String(r.message), step: r.step ?? null };
  }
  return { kind: 'internal', message: String(e), step: null };
}
