// The gitlab: and k8s: destinations (--to): what a CI job or a pod reads after a delivery, what keyrot refuses
// before any key is made, and what it says when the service refuses. Each runs against a local server held to the
// provider's API description (test/helpers/destination-servers.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTarget, TARGET_FORMS } from '../../src/destinations/index.js';
import { clusterAccess } from '../../src/destinations/k8s.js';
import { kubeconfigFor, useGitlabServer, useK8sServer } from '../helpers/destination-servers.js';
import { caught } from '../helpers/fixtures.js';

const KEY = 'NEWKEYABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

describe('gitlab:PROJECT#VAR', () => {
  const server = useGitlabServer();
  const env = () => ({ GITLAB_TOKEN: server().token, GITLAB_API_URL: server().url });

  it('creates the variable masked when it does not exist, by project path; a second delivery leaves it as one does', async () => {
    const gl = server();
    gl.project(42, 'acme/platform/api');
    const d = parseTarget('gitlab:acme/platform/api#VULTR_API_KEY', { env: env() });
    await d.preflight();
    await d.deliver(KEY);
    await d.deliver(KEY);
    expect(gl.variable('acme/platform/api', 'VULTR_API_KEY')).toMatchObject({ value: KEY, masked: true, protected: false });
    // The path travels URL-encoded, as one segment (https://docs.gitlab.com/api/rest/#namespaced-paths).
    expect(gl.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/v4/projects/acme%2Fplatform%2Fapi/variables/VULTR_API_KEY',
      'PUT /api/v4/projects/acme%2Fplatform%2Fapi/variables/VULTR_API_KEY',
      'POST /api/v4/projects/acme%2Fplatform%2Fapi/variables',
      'PUT /api/v4/projects/acme%2Fplatform%2Fapi/variables/VULTR_API_KEY',
    ]);
  });

  it('updates an existing variable by project id, masks it, and leaves protected and its scope as they were', async () => {
    const gl = server();
    gl.project(42, 'acme/api', [{ key: 'K', value: 'old-value-1', protected: true, environment_scope: 'production' }]);
    await parseTarget('gitlab:42#K', { env: { GITLAB_TOKEN: gl.token, CI_API_V4_URL: gl.url } }).deliver(KEY);
    expect(gl.variable('acme/api', 'K')).toMatchObject({ value: KEY, masked: true, protected: true, environment_scope: 'production' });
    expect(gl.requests.at(-1)!.body).toEqual({ value: KEY, masked: true });
  });

  it('a key GitLab cannot mask is refused before anything is sent, and the message does not hold it', async () => {
    const gl = server();
    gl.project(1, 'acme/api');
    for (const key of ['short', 'has a space in it', 'pipe|pipe|pipe']) {
      const err = await caught(parseTarget('gitlab:1#K', { env: env() }).deliver(key));
      expect(err.message).toMatch(/GitLab cannot mask this key/);
      expect(err.message).not.toContain(key);
    }
    expect(gl.requests).toEqual([]);
  });

  it.each([
    [401, { message: '401 Unauthorized' }, /HTTP 401: 401 Unauthorized/, /wrong, expired or revoked/],
    [403, { message: '403 Forbidden' }, /HTTP 403: 403 Forbidden/, /api scope and the Maintainer role/],
    [422, { message: 'Unprocessable' }, /HTTP 422: Unprocessable/, /^$/],
    [400, { message: { value: ['is invalid'] } }, /HTTP 400: \{"value":\["is invalid"\]\}/, /^$/],
  ])('GitLab answering %i to the write: one line naming the target, the token nowhere', async (status, body, said, hint) => {
    const gl = server();
    gl.project(1, 'acme/api', [{ key: 'K', value: 'old-value-1' }]);
    gl.failWhen('PUT', /variables\/K$/, status, body);
    const err = await caught(parseTarget('gitlab:acme/api#K', { env: env() }).deliver(KEY));
    expect(err.message).toMatch(/^--to gitlab:acme\/api#K: GitLab refused updating the variable/);
    expect(err.message).toMatch(said);
    expect((err as { hint?: string }).hint ?? '').toMatch(hint);
    expect(JSON.stringify(err)).not.toContain(gl.token);
    expect(gl.variable('acme/api', 'K')!.value).toBe('old-value-1');
  });

  it('a project that does not exist (or that the token cannot see) fails the preflight; a missing variable does not', async () => {
    const gl = server();
    gl.project(1, 'acme/api');
    await parseTarget('gitlab:acme/api#K', { env: env() }).preflight();
    const err = await caught(parseTarget('gitlab:acme/nope#K', { env: env() }).preflight());
    expect(err.message).toMatch(/GitLab refused reading the variable \(HTTP 404: 404 Project Not Found\)/);
  });

  it('refuses before any call: no token (CI_JOB_TOKEN cannot write variables), a bad key or project, plain http elsewhere', () => {
    expect(() => parseTarget('gitlab:1#K', { env: {} })).toThrow(/no GitLab token: set GITLAB_TOKEN/);
    const jobToken = (() => {
      try {
        parseTarget('gitlab:1#K', { env: { CI_JOB_TOKEN: 'x' } });
      } catch (err) {
        return (err as { hint?: string }).hint;
      }
    })();
    expect(jobToken).toMatch(/CI_JOB_TOKEN cannot write CI\/CD variables/);
    expect(() => parseTarget('gitlab:1#BAD-KEY', { env: env() })).toThrow(/not a GitLab variable key/);
    expect(() => parseTarget('gitlab:acme#K', { env: env() })).toThrow(/neither a project id nor a project path/);
    expect(() => parseTarget('gitlab:1', { env: env() })).toThrow(/expected gitlab:PROJECT#VAR/);
    expect(() => parseTarget('gitlab:1#K', { env: { GITLAB_TOKEN: 't', GITLAB_API_URL: 'http://gitlab.example.com/api/v4' } })).toThrow(/GITLAB_API_URL must be https/);
    expect(server().requests).toEqual([]);
  });
});

describe('k8s:NAMESPACE/SECRET#KEY', () => {
  const server = useK8sServer();
  let dir: string;
  beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), 'keyrot-k8s-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = async (text = kubeconfigFor(server())) => {
    const file = join(dir, 'config');
    await writeFile(file, text);
    return { KUBECONFIG: file };
  };

  it('creates the Secret when it does not exist, then patches only its key; a second delivery changes nothing more', async () => {
    const k8s = server();
    const env = await kubeconfig();
    const d = parseTarget('k8s:prod/vultr#api-key', { env });
    await d.preflight();
    await d.deliver(KEY);
    expect(k8s.data('prod', 'vultr')).toEqual({ 'api-key': KEY });
    k8s.secret('prod', 'vultr', { 'api-key': 'old', other: 'kept' });
    await d.deliver(KEY);
    await d.deliver(KEY);
    expect(k8s.data('prod', 'vultr')).toEqual({ 'api-key': KEY, other: 'kept' });
    const patch = k8s.requests.find((r) => r.method === 'PATCH')!;
    expect(patch.contentType).toBe('application/merge-patch+json');
    expect(patch.body).toEqual({ data: { 'api-key': Buffer.from(KEY).toString('base64') } });
  });

  it.each([
    [401, 'GET', /HTTP 401: Unauthorized/, /did not accept the credentials from .*context test/],
    [403, 'GET', /HTTP 403: secrets "vultr" is forbidden/, /get, patch and create on secrets/],
    [422, 'PATCH', /HTTP 422: Secret "vultr" is invalid/, /immutable/],
  ])('the API server answering %i (%s): one line naming the target, the token nowhere', async (status, method, said, hint) => {
    const k8s = server();
    k8s.secret('prod', 'vultr', { 'api-key': 'old' }, status === 422);
    if (status === 401) k8s.failWhen('GET', /secrets\/vultr$/, 401, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    if (status === 403)
      k8s.failWhen('GET', /secrets\/vultr$/, 403, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'secrets "vultr" is forbidden: User "system:serviceaccount:ci:keyrot" cannot get resource "secrets"',
        reason: 'Forbidden',
        details: { name: 'vultr', kind: 'secrets' },
        code: 403,
      });
    const err = await caught(parseTarget('k8s:prod/vultr#api-key', { env: await kubeconfig() }).deliver(KEY));
    expect(err.message).toMatch(/^--to k8s:prod\/vultr#api-key: Kubernetes refused/);
    expect(err.message).toMatch(said);
    expect((err as { hint?: string }).hint).toMatch(hint);
    expect(JSON.stringify(err)).not.toContain(k8s.token);
    expect(k8s.value('prod', 'vultr', 'api-key')).toBe('old');
    expect(k8s.requests.filter((r) => r.method !== 'GET').length).toBe(method === 'PATCH' ? 1 : 0);
  });

  it('a namespace that does not exist: 404 on create, said as such', async () => {
    const err = await caught(parseTarget('k8s:staging/vultr#k', { env: await kubeconfig() }).deliver(KEY));
    expect(err.message).toMatch(/Kubernetes refused creating the Secret \(HTTP 404: namespaces "staging" not found\)/);
    expect((err as { hint?: string }).hint).toMatch(/never a namespace/);
  });

  it('refuses malformed targets before any call', () => {
    for (const [target, why] of [
      ['k8s:prod#k', /expected k8s:NAMESPACE\/SECRET#KEY/],
      ['k8s:Prod/vultr#k', /not a namespace name/],
      ['k8s:prod/Vultr_Key#k', /not a Secret name/],
      ['k8s:prod/vultr#a/b', /not a Secret key/],
    ] as const) {
      expect(() => parseTarget(target, { env: {} }), target).toThrow(why);
    }
    expect(TARGET_FORMS).toEqual(expect.arrayContaining(['gitlab:PROJECT#VAR', 'k8s:NAMESPACE/SECRET#KEY']));
  });
});

describe('Kubernetes credentials (as kubectl finds them)', () => {
  let dir: string;
  beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), 'keyrot-kube-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('in a pod: the service account token and CA, the API server from KUBERNETES_SERVICE_HOST/PORT', async () => {
    await writeFile(join(dir, 'token'), 'sa-token\n');
    await writeFile(join(dir, 'ca.crt'), 'CA PEM');
    const access = await clusterAccess('t', { HOME: dir, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', KEYROT_K8S_SERVICE_ACCOUNT_DIR: dir });
    expect(access).toMatchObject({ server: new URL('https://10.96.0.1:443'), token: 'sa-token', ca: 'CA PEM', source: 'in-cluster service account' });
  });

  it('a kubeconfig: the current context, CA and client certificate from -data, a token file relative to the kubeconfig', async () => {
    await writeFile(join(dir, 'tok'), 'file-token\n');
    const config = join(dir, 'config');
    await writeFile(
      config,
      `current-context: b\ncontexts:\n- {name: a, context: {cluster: x, user: x}}\n- {name: b, context: {cluster: c1, user: u1}}\nclusters:\n- name: c1\n  cluster: {server: 'https://k8s.example.com:6443', certificate-authority-data: ${b64('CA')}}\nusers:\n- name: u1\n  user: {tokenFile: tok, client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')}}\n`,
    );
    const access = await clusterAccess('t', { KUBECONFIG: config, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' });
    expect(access).toMatchObject({ server: new URL('https://k8s.example.com:6443'), ca: 'CA', cert: 'CERT', key: 'KEY', token: 'file-token' });
  });

  it('refuses what it cannot use: a plugin user, no current-context, a missing KUBECONFIG, nothing at all, plain http elsewhere', async () => {
    const config = join(dir, 'config');
    const write = (text: string) => writeFile(config, text);
    await write('current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://x"}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n');
    await expect(clusterAccess('t', { KUBECONFIG: config })).rejects.toThrow(/from a plugin \(exec or auth-provider\), which keyrot does not run/);
    await write('clusters: []\n');
    await expect(clusterAccess('t', { KUBECONFIG: config })).rejects.toThrow(/no current-context/);
    await write(
      'current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "http://k8s.example.com"}}]\nusers: [{name: u, user: {token: t}}]\n',
    );
    await expect(clusterAccess('t', { KUBECONFIG: config })).rejects.toThrow(/must be https/);
    await expect(clusterAccess('t', { KUBECONFIG: join(dir, 'missing') })).rejects.toThrow(/cannot read the kubeconfig/);
    await expect(clusterAccess('t', { HOME: dir })).rejects.toThrow(/no Kubernetes credentials/);
  });
});

describe('the test servers hold keyrot to the documents', () => {
  it('a request or an answer the document does not allow is a violation', async () => {
    const { startGitlabServer, startK8sServer } = await import('../helpers/destination-servers.js');
    const k8s = await startK8sServer();
    const gl = await startGitlabServer();
    try {
      k8s.secret('prod', 'vultr', { k: 'v' });
      // A patch sent as plain JSON: not one of the four patch media types of patchCoreV1NamespacedSecret.
      await fetch(`${k8s.url}/api/v1/namespaces/prod/secrets/vultr`, { method: 'PATCH', headers: { authorization: `Bearer ${k8s.token}`, 'content-type': 'application/json' }, body: '{"data":{}}' });
      k8s.failWhen('GET', /vultr$/, 403, { message: 42 });
      await fetch(`${k8s.url}/api/v1/namespaces/prod/secrets/vultr`, { headers: { authorization: `Bearer ${k8s.token}` } });
      gl.project(1, 'a/b');
      await fetch(`${gl.url}/projects/1/variables`, { method: 'POST', headers: { 'private-token': gl.token, 'content-type': 'application/json' }, body: '{"key":"K","value":"12345678","mask":true}' });
      expect((await k8s.violations()).join('\n')).toMatch(/PATCH .*request[^]*GET .* → 403: answer/);
      expect(await gl.violations()).toEqual([expect.stringMatching(/POST \/api\/v4\/projects\/1\/variables: request .*additional/)]);
    } finally {
      await k8s.close();
      await gl.close();
    }
  });
});
