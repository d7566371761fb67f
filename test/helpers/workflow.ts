// The GitHub Actions recipes of docs/ci.md, run as a runner would run them, one step after another, against the
// sandbox and a local GitHub: each `run:` through bash -eo pipefail with the step's env, ${{ }} expressions
// filled in, $GITHUB_OUTPUT read back as step outputs, and actions/cache carrying a folder from one job to the
// next. keyrot is the built CLI on the PATH (the "Install keyrot" step is what put it there on a real runner).
import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BIN, ROOT } from './e2e.js';
import { parseOutputs } from './github-server.js';

export interface WorkflowStep {
  name?: string;
  id?: string;
  uses?: string;
  if?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
  run?: string;
}

export interface StepResult {
  step: WorkflowStep;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The jobs of the recipe marked `<!-- recipe: NAME -->` in docs/ci.md, as written there. */
export async function recipe(name: string): Promise<Record<string, { steps: WorkflowStep[] }>> {
  const doc = await readFile(join(ROOT, 'docs', 'ci.md'), 'utf8');
  const m = new RegExp(`<!-- recipe: ${name} -->\\n\`\`\`yaml\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
  if (!m) throw new Error(`docs/ci.md has no recipe "${name}"`);
  return (parseYaml(m[1]!) as { jobs: Record<string, { steps: WorkflowStep[] }> }).jobs;
}

export interface Runner {
  /** The repository checkout the steps run in (put scripts/ here). */
  workspace: string;
  /** Runs a job's steps in order on a fresh runner; stops at the first that fails, as a runner does. */
  runJob(steps: WorkflowStep[]): Promise<StepResult[]>;
  close(): Promise<void>;
}

/** `secrets` fill ${{ secrets.X }}; `env` is what every step sees besides its own (the sandbox's URLs). */
export async function startRunner(secrets: Record<string, string>, env: Record<string, string>): Promise<Runner> {
  const root = await mkdtemp(join(tmpdir(), 'keyrot-runner-'));
  const workspace = join(root, 'workspace');
  const cache = join(root, 'cache');
  const bin = join(root, 'bin');
  await mkdir(join(workspace, 'scripts'), { recursive: true });
  await mkdir(bin);
  await writeFile(join(bin, 'keyrot'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  await chmod(join(bin, 'keyrot'), 0o755);
  let runId = 1000;
  return {
    workspace,
    async runJob(steps) {
      runId++;
      // A fresh runner: nothing of an earlier job but the checkout and what a cache restores.
      const home = await mkdtemp(join(root, 'home-'));
      await rm(join(workspace, '.keyrot-state'), { recursive: true, force: true });
      const outputs: Record<string, Record<string, string>> = {};
      const results: StepResult[] = [];
      const expand = (text: string) =>
        text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
          const [scope, a, b, c] = expr.split('.');
          if (scope === 'secrets') return secrets[a!] ?? '';
          if (scope === 'github' && a === 'workspace') return workspace;
          if (scope === 'github' && a === 'run_id') return String(runId);
          if (scope === 'steps' && b === 'outputs') return outputs[a!]?.[c!] ?? '';
          throw new Error(`the test runner does not know \${{ ${expr} }}`);
        });
      let failed = false;
      for (const step of steps) {
        // After a failure only `if: always()` steps run, as on a runner.
        if (failed && step.if !== 'always()') continue;
        if (step.uses) {
          await useAction(step, expand, workspace, cache);
          continue;
        }
        if (step.name === 'Install keyrot') continue;
        const outputFile = join(home, `output-${results.length}`);
        await writeFile(outputFile, '');
        const stepEnv: Record<string, string> = {
          PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
          HOME: home,
          XDG_STATE_HOME: join(home, '.local', 'state'),
          CI: 'true',
          GITHUB_ACTIONS: 'true',
          GITHUB_WORKSPACE: workspace,
          GITHUB_OUTPUT: outputFile,
          GITHUB_STEP_SUMMARY: join(home, 'summary.md'),
          NO_COLOR: '1',
          // A runner has no Secret Service: the recipes must work without a keychain.
          DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus',
          ...env,
          ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(String(v))])),
        };
        const result = await sh(expand(step.run ?? ''), workspace, stepEnv);
        results.push({ step, ...result });
        if (step.id) outputs[step.id] = parseOutputs(await readFile(outputFile, 'utf8'));
        if (result.code !== 0) failed = true;
      }
      return results;
    },
    close: () => rm(root, { recursive: true, force: true }),
  };
}

/** actions/checkout is the workspace as it is; actions/cache/save and /restore copy `path` by key prefix. */
async function useAction(step: WorkflowStep, expand: (text: string) => string, workspace: string, cache: string): Promise<void> {
  const action = step.uses!.split('@')[0];
  if (action === 'actions/checkout') return;
  const path = join(workspace, expand(step.with?.path ?? ''));
  if (action === 'actions/cache/save') {
    const { existsSync } = await import('node:fs');
    // A path that does not exist is a warning on a runner, not a failure: nothing is saved.
    if (existsSync(path)) await cp(path, join(cache, expand(step.with!.key!)), { recursive: true });
    return;
  }
  if (action === 'actions/cache/restore') {
    const { readdir } = await import('node:fs/promises');
    const prefix = expand(step.with?.['restore-keys'] ?? step.with!.key!);
    const hit = (await readdir(cache).catch(() => [] as string[]))
      .filter((k) => k.startsWith(prefix))
      .sort()
      .at(-1);
    if (hit) await cp(join(cache, hit), path, { recursive: true });
    return;
  }
  throw new Error(`the test runner does not know ${step.uses}`);
}

/** A `run:` as GitHub runs it on Linux: bash --noprofile --norc -eo pipefail. */
function sh(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
