// GitHub Actions integration: mask a secret before it is handed on (so no later step can echo it into the
// log), and append a human summary of a rotation to the job's step summary. Neither ever holds a plaintext
// except the ::add-mask:: line itself, which the runner consumes and never shows.
import { appendFile } from 'node:fs/promises';
import { formatDuration } from '../core/duration.js';
import { maskFromLastChars, sanitizeForTerminal } from '../core/mask.js';
import type { RotationRecord } from '../core/rotation.js';
import { PHASE_LABELS } from '../core/rotation.js';
import { randomUUID } from '../random.js';

export function inGithubActions(env: NodeJS.ProcessEnv): boolean {
  return env.GITHUB_ACTIONS === 'true';
}

/** The workflow command that tells the runner to mask `secret` in all later log output. */
export function addMaskLine(secret: string): string {
  return `::add-mask::${secret}`;
}

/**
 * Text from a provider, inert in Markdown (a table cell or a heading): a code span, where nothing is markup,
 * HTML or a link (GitHub autolinks bare URLs and e-mail addresses in plain text, so a key name could otherwise
 * put a clickable phishing link in the job summary). The fence is longer than any run of backticks inside;
 * `|` is escaped, as GitHub tables require even in code spans.
 */
export function markdownText(text: string): string {
  const flat = sanitizeForTerminal(text).replace(/[\r\n\t]+/g, ' ');
  if (flat === '') return '';
  const fence = '`'.repeat(Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length)) + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${flat.replace(/\|/g, '\\|')}${pad}${fence}`;
}

export function rotationSummaryMarkdown(record: RotationRecord): string {
  const rows = record.steps.map((s) => `| ${PHASE_LABELS[s.phase]} | ${s.outcome} | ${formatDuration(s.durationMs)} |`);
  return [
    `### keyrot: ${record.status === 'done' ? 'rotated' : record.status} ${markdownText(record.userEmail)}`,
    '',
    '| key | name | id | key (masked) |',
    '| --- | --- | --- | --- |',
    `| new | ${markdownText(record.newKey.name)} | ${markdownText(record.newKey.id ?? '-')} | \`${maskFromLastChars(record.newKey.lastChars)}\` |`,
    `| old | ${markdownText(record.oldKey.name)} | ${markdownText(record.oldKey.id)} | \`${maskFromLastChars(record.oldKey.lastChars)}\` |`,
    '',
    '| step | result | time |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/**
 * Where a run finds the files GitHub Actions reads after the step (its environment), and where it notes one it could
 * not write (a full disk, a folder that is gone). The work goes on to its end, as with a stdout on a full disk; the run
 * then ends with exit 20 (main.ts), since a later step would read outputs that are missing.
 */
export interface GithubFiles {
  readonly env: NodeJS.ProcessEnv;
  readonly lostOutputs: string[];
}

async function appendForLaterSteps(to: GithubFiles, variable: 'GITHUB_OUTPUT' | 'GITHUB_STEP_SUMMARY', text: string): Promise<void> {
  const path = to.env[variable];
  if (!path) return;
  try {
    await appendFile(path, text);
  } catch (err) {
    to.lostOutputs.push(`keyrot could not write $${variable} (${(err as Error).message})`);
  }
}

/** Appends to $GITHUB_STEP_SUMMARY when it is set; a no-op elsewhere. */
export function appendStepSummary(to: GithubFiles, markdown: string): Promise<void> {
  return appendForLaterSteps(to, 'GITHUB_STEP_SUMMARY', `${markdown}\n`);
}

/**
 * A step's outputs as GitHub reads them from $GITHUB_OUTPUT: each value between a random delimiter, so no value (a
 * provider's key name may hold a line break) can end early or add an output of its own. This is the multiline form
 * of https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands#multiline-strings, as
 * actions/toolkit's core.setOutput writes it (packages/core/src/file-command.ts, prepareKeyValueMessage).
 */
export function jobOutputText(outputs: Readonly<Record<string, string>>): string {
  const delimiter = `ghadelimiter_${randomUUID()}`;
  return Object.entries(outputs)
    .map(([name, value]) => `${name}<<${delimiter}\n${value}\n${delimiter}\n`)
    .join('');
}

/**
 * Appends `outputs` to $GITHUB_OUTPUT when it is set (under GitHub Actions); a no-op elsewhere. Callers pass ids,
 * names and outcomes only: never a plaintext key.
 */
export function writeJobOutputs(to: GithubFiles, outputs: Readonly<Record<string, string>>): Promise<void> {
  return appendForLaterSteps(to, 'GITHUB_OUTPUT', jobOutputText(outputs));
}

/** The outputs of one rotation (rotate): who, which keys, how it ended. */
export function rotationOutputs(record: RotationRecord): Record<string, string> {
  return {
    'user-id': record.userId,
    'user-email': record.userEmail,
    'new-key-id': record.newKey.id ?? '',
    'new-key-name': record.newKey.name,
    'old-key-id': record.oldKey.id,
    outcome: record.status === 'done' ? 'rotated' : record.status,
  };
}
