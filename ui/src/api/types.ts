// Shapes the backend sends (serde camelCase). Secrets never appear here.

export interface CommandError {
  code: string;
  message: string;
  step: string | null;
}

export type StepOutcome =
  | { status: 'changed'; detail: string }
  | { status: 'upToDate'; detail: string }
  | { status: 'failed'; error: string };

export type ProgressEvent =
  | { type: 'stepStarted'; id: string; title: string; attempt: number; at: string }
  | { type: 'stepDetail'; id: string; message: string; at: string }
  | { type: 'stepFinished'; id: string; outcome: StepOutcome; attempt: number; at: string }
  | { type: 'warning'; id: string; message: string; at: string };

/** A rejected invoke as a CommandError, whatever was thrown. */
export function asCommandError(e: unknown): CommandError {
  if (e && typeof e === 'object' && 'message' in e) {
    const c = e as Partial<CommandError>;
    return { code: c.code ?? 'unknown', message: String(c.message), step: c.step ?? null };
  }
  return { code: 'unknown', message: String(e), step: null };
}
