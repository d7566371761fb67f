// The rotation engine's public face. The engine lives in core/rotation/: record.ts (the journal entry), ports.ts
// (what it needs from the world), transitions.ts (every change of phase or status), machine.ts (the phase table and
// loop), steps/ (one module per phase), ownership.ts (keys a lost create may have made), abort.ts, failure.ts, and
// session.ts (plan, resume, adopt).
export * from './rotation/record.js';
export * from './rotation/ports.js';
export { runRotation, PHASE_RUNNERS } from './rotation/machine.js';
export { abortRotation, assertAbortable } from './rotation/abort.js';
export { nothingCreated } from './rotation/failure.js';
export { TRANSITIONS } from './rotation/transitions.js';
export { noEvidenceReason } from './rotation/steps/wait.js';
export { runJournaledHook } from './rotation/steps/hand-over.js';
