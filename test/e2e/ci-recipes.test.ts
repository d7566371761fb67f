// The recipes of docs/ci.md, read out of the page and run step by step as a runner would (test/helpers/workflow.ts)
// against the sandbox and a local GitHub: the page cannot show a workflow that does not pass.
import { afterEach, describe, expect, it } from 'vitest';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HAS_KEYCHAIN, harness, type Harness } from '../helpers/e2e.js';
import { useGithubServer } from '../helpers/github-server.js';
import { recipe, startRunner, type Runner, type StepResult } from '../helpers/workflow.js';

const runners: Runner[] = [];
afterEach(async () => {
  while (runners.length) await runners.pop()!.close();
});

/** A consumer's smoke test: the key it would deploy (read by `KEY_SOURCE`, a shell snippet) authenticates. */
const SMOKE_TEST = (keySource: string) => `#!/bin/sh
key=$(${keySource})
exec node -e 'fetch(process.env.VULTR_API_URL + "/account", { headers: { authorization: "Bearer " + process.argv[1] } }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(2))' "$key"
`;

async function script(runner: Runner, name: string, text: string): Promise<void> {
  const path = join(runner.workspace, 'scripts', name);
  await writeFile(path, text);
  await chmod(path, 0o755);
}

/** The sandbox's ops@ user renamed deploy@, the user the recipes rotate. */
async function deployUser(h: Harness): Promise<string> {
  const id = h.userId('ops@example.com');
  const res = await fetch(`${h.sandbox.controlUrl}/users/${id}`, { method: 'POST', body: JSON.stringify({ email: 'deploy@example.com' }) });
  expect(res.ok).toBe(true);
  return id;
}

function passed(results: StepResult[], steps: number): StepResult[] {
  for (const r of results) expect(r.code, `step "${r.step.name ?? r.step.run}":\n${r.stdout}\n${r.stderr}`).toBe(0);
  expect(results).toHaveLength(steps);
  return results;
}

const keysOf = (h: Harness, id: string) => h.sandbox.snapshot().users.find((u) => u.id === id)!.keys;

describe.skipIf(!HAS_KEYCHAIN)('docs/ci.md recipes, as written', () => {
  const github = useGithubServer();

  async function setup(h: Harness): Promise<Runner> {
    const gh = github();
    const runner = await startRunner({ VULTR_ADMIN_KEY: h.sandbox.adminKey, SECRETS_WRITER_TOKEN: gh.token }, { VULTR_API_URL: h.sandbox.url, GITHUB_API_URL: gh.url });
    runners.push(runner);
    // What the deployed app would read: the repository secret keyrot wrote.
    await script(runner, 'smoke-test.sh', SMOKE_TEST(`node -e 'fetch("${gh.url}/_test/secret/repos/acme/app/VULTR_DEPLOY_KEY").then((r) => r.text()).then((t) => process.stdout.write(t))'`));
    return runner;
  }

  it('recipe 1: one rotation handed to a GitHub secret and proven by a check', async () => {
    const h = await harness();
    const id = await deployUser(h);
    const oldKey = keysOf(h, id)[0]!;
    const runner = await setup(h);
    const results = passed(await runner.runJob((await recipe('single-rotation')).rotate!.steps), 2);
    const [fresh] = keysOf(h, id);
    expect(keysOf(h, id).map((k) => k.name)).toEqual([`${oldKey.name}-v2`]);
    expect(github().secret('repos/acme/app', 'VULTR_DEPLOY_KEY')).toBe(fresh!.plaintext);
    expect(results[1]!.stdout).toBe(`rotated to ${fresh!.name} (${fresh!.id}), old key ${oldKey.id}\n`);
    for (const r of results) expect(r.stdout + r.stderr).not.toContain(github().token);
  });

  it('recipe 2: a nightly policy run rotates what is due, and a night with nothing due is green', async () => {
    const h = await harness({ users: 10, keysPerUser: 1 });
    const runner = await setup(h);
    await script(runner, 'store-key.sh', '#!/bin/sh\nmkdir -p keys\ncat > "keys/$KEYROT_KEY_NAME"\n');
    await script(runner, 'smoke-test.sh', SMOKE_TEST('cat "keys/$KEYROT_KEY_NAME"'));
    const steps = (await recipe('nightly'))['rotate-due-keys']!.steps;
    const first = passed(await runner.runJob(steps), 2);
    expect(first[1]!.stdout).toMatch(/^done: ([1-9]\d*) of \1 keys rotated\n$/);
    const second = passed(await runner.runJob(steps), 2);
    expect(second[1]!.stdout).toBe('nothing-selected: 0 of 0 keys rotated\n');
  });

  it('recipe 3: a --keep-old rotation started in one job and finished in a later one', async () => {
    const h = await harness();
    const id = await deployUser(h);
    const oldKey = keysOf(h, id)[0]!;
    const runner = await setup(h);
    const jobs = await recipe('keep-old');
    passed(await runner.runJob(jobs.start!.steps), 1);
    const both = keysOf(h, id);
    expect(both.map((k) => k.name).sort()).toEqual([oldKey.name, `${oldKey.name}-v2`]);
    const fresh = both.find((k) => k.id !== oldKey.id)!;
    expect(github().secret('repos/acme/app', 'VULTR_DEPLOY_KEY')).toBe(fresh.plaintext);
    const finish = passed(await runner.runJob(jobs.finish!.steps), 1);
    expect(finish[0]!.stdout + finish[0]!.stderr).toContain(fresh.name);
    expect(keysOf(h, id).map((k) => k.id)).toEqual([fresh.id]);
  });
});
