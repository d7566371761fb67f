// --to gitlab: and --to k8s:, end to end: the built CLI against the Vultr sandbox and local GitLab and Kubernetes
// API servers held to their API descriptions. The value a CI job or a pod would read is checked in the server;
// the token and the key appear nowhere in keyrot's output.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN, json } from '../helpers/e2e.js';
import { consumerCheck, rotationSetup } from '../helpers/consumer.js';
import { kubeconfigFor, useGitlabServer, useK8sServer, type GitlabServer, type K8sServer } from '../helpers/destination-servers.js';

const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };

describe.skipIf(!HAS_KEYCHAIN)('--to k8s: and --to gitlab:', () => {
  const k8sServer = useK8sServer();
  const gitlabServer = useGitlabServer();
  let k8s: K8sServer;
  let gl: GitlabServer;
  beforeEach(() => {
    k8s = k8sServer();
    gl = gitlabServer();
    gl.project(7, 'acme/api', [{ key: 'VULTR_API_KEY', value: 'placeholder-value', protected: true }]);
  });

  it('create --store none --to k8s: the Secret is made holding exactly the new key', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const kubeconfig = join(s.dir, 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigFor(k8s));
    const r = await s.run('create', ['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--to', 'k8s:prod/vultr#api-key', '--json'], {
      env: { ...NO_KEYCHAIN, KUBECONFIG: kubeconfig },
    });
    expect(r.code, r.stderr).toBe(0);
    const created = s.keys().find((k) => k.name === 'ci-key')!;
    expect(k8s.data('prod', 'vultr')).toEqual({ 'api-key': created.plaintext });
    expect(json(r)).toMatchObject({ keychain: null, deliveredTo: ['k8s:prod/vultr#api-key'] });
    for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(k8s.token);
  });

  it('create --to k8s: in a namespace that does not exist: the new key is deleted again, nobody holds it (exit 12)', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const kubeconfig = join(s.dir, 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigFor(k8s));
    const r = await s.main('create', ['create', '--user', s.user.email, '--name', 'ci-key', '--to', 'k8s:staging/vultr#api-key'], { env: { KUBECONFIG: kubeconfig } });
    expect(r.code).toBe(ExitCode.hookFailed);
    expect(r.stderr).toContain('--to k8s:staging/vultr#api-key: Kubernetes refused creating the Secret (HTTP 404: namespaces "staging" not found)');
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
  });

  it('rotate --to gitlab: --check --store none: the variable holds the new key (masked, still protected), the old key is revoked', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    // The job that uses the variable: reads it as GitLab would hand it to a job, and calls the API with it.
    const fromGitlab = join(s.dir, 'from-gitlab');
    const check = `curl -sf '${gl.url.replace(/\/api\/v4$/, '')}/_test/acme%2Fapi/VULTR_API_KEY' > '${fromGitlab}' && ${consumerCheck({ ...s, keyFile: fromGitlab })}`;
    const r = await s.run('rotate', ['rotate', '--user', s.user.email, '--to', 'gitlab:acme/api#VULTR_API_KEY', '--check', check, '--store', 'none', '--yes'], {
      env: { ...NO_KEYCHAIN, GITLAB_TOKEN: gl.token, GITLAB_API_URL: gl.url },
    });
    expect(r.code, r.stderr).toBe(0);
    const [fresh] = s.keys();
    expect(fresh!.name).toBe('ops-deploy-v2');
    expect(s.keys()).toHaveLength(1);
    expect(gl.variable('acme/api', 'VULTR_API_KEY')).toMatchObject({ value: fresh!.plaintext, masked: true, protected: true });
    for (const text of [r.stdout, r.stderr]) {
      expect(text).not.toContain(gl.token);
      expect(text).not.toContain(fresh!.plaintext);
    }
  });

  it('--abort gives gitlab: and k8s: the old key back (keyrot holds it in the keychain), then deletes the new key', async () => {
    const s = await rotationSetup();
    const kubeconfig = join(s.dir, 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigFor(k8s));
    const env = { GITLAB_TOKEN: gl.token, GITLAB_API_URL: gl.url, KUBECONFIG: kubeconfig };
    const started = await s.main('keep old', ['rotate', '--user', s.user.email, '--to', 'gitlab:7#VULTR_API_KEY', '--to', 'k8s:default/vultr#key', '--keep-old', '7d', '--yes'], { env });
    expect(started.code, started.stderr).toBe(0);
    const fresh = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
    expect(gl.variable('acme/api', 'VULTR_API_KEY')!.value).toBe(fresh.plaintext);
    expect(k8s.value('default', 'vultr', 'key')).toBe(fresh.plaintext);
    const aborted = await s.main('abort', ['rotate', '--user', s.user.email, '--abort', '--yes'], { env });
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(gl.variable('acme/api', 'VULTR_API_KEY')!.value).toBe(s.oldKey.plaintext);
    expect(k8s.value('default', 'vultr', 'key')).toBe(s.oldKey.plaintext);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
  });
});
