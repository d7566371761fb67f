// k8s:NAMESPACE/SECRET#KEY: one key of a Kubernetes Secret's data, through the API server's core/v1 operations
// readCoreV1NamespacedSecret (GET), patchCoreV1NamespacedSecret (PATCH, a JSON merge patch {"data": {KEY: base64}},
// which leaves every other key as it is) and createCoreV1NamespacedSecret (POST, when the Secret does not exist);
// excerpt of kubernetes/kubernetes api/openapi-spec/v3/api__v1_openapi.json in test/fixtures/k8s-openapi.json.
// Credentials as kubectl finds them: a kubeconfig (KUBECONFIG, else ~/.kube/config), else the pod's service
// account (https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/#directly-accessing-the-rest-api).
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { Agent } from '../providers/undici-core.js';
import { UsageError } from '../errors.js';
import { apiUrl, callJson, refused, under, type JsonAnswer } from './http.js';
import type { Destination, DestinationDeps } from './types.js';
import { say, displayText } from '../ui/display-text.js';

/** Where a pod's service account is mounted (the page above). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How keyrot reaches the API server: its URL, what proves who keyrot is, and whom to trust. */
export interface ClusterAccess {
  server: URL;
  /** Where the access came from (a kubeconfig's path and context, or "in-cluster"), for messages. */
  source: string;
  token?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

// Names as the API server validates them (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/):
// a namespace is a DNS label, a Secret a DNS subdomain; a data key (https://kubernetes.io/docs/concepts/configuration/secret/)
// is letters, digits, -, _ and . .
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DATA_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

export function k8sDestination(target: string, namespace: string, secretName: string, key: string, deps: DestinationDeps): Destination {
  if (!LABEL.test(namespace)) throw new UsageError(say`--to ${displayText(target)}: "${displayText(namespace)}" is not a namespace name (lower-case letters, digits and -).`);
  if (!SUBDOMAIN.test(secretName)) throw new UsageError(say`--to ${displayText(target)}: "${displayText(secretName)}" is not a Secret name (lower-case letters, digits, - and .).`);
  if (!DATA_KEY.test(key)) throw new UsageError(say`--to ${displayText(target)}: "${displayText(key)}" is not a Secret key (letters, digits, -, _ and .).`);
  const collection = `/api/v1/namespaces/${namespace}/secrets`;
  const item = `${collection}/${secretName}`;
  let connection: Promise<{ access: ClusterAccess; dispatcher: Dispatcher | undefined }> | undefined;
  const connect = () => (connection ??= clusterAccess(target, deps.env).then((access) => ({ access, dispatcher: deps.dispatcher ?? tlsAgent(access) })));

  async function call(method: 'GET' | 'PATCH' | 'POST', path: string, body?: unknown, contentType?: string): Promise<JsonAnswer> {
    const { access, dispatcher } = await connect();
    const headers: Record<string, string> = access.token ? { authorization: `Bearer ${access.token}` } : {};
    return callJson(target, { method, url: under(target, access.server, path), headers, body, ...(contentType ? { contentType } : {}) }, dispatcher, deps.signal);
  }

  return {
    target,
    async preflight() {
      const answer = await call('GET', item);
      // 404: the Secret (or its namespace) does not exist yet; deliver creates the Secret, and says so if it cannot.
      if (answer.status !== 200 && answer.status !== 404) await fail(target, answer, 'reading the Secret', connect);
    },
    async deliver(secret) {
      const data = { [key]: Buffer.from(secret, 'utf8').toString('base64') };
      const read = await call('GET', item);
      if (read.status === 200) return patch();
      if (read.status !== 404) return fail(target, read, 'reading the Secret', connect, [secret, data[key]!]);
      const created = await call('POST', collection, { apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, namespace }, type: 'Opaque', data });
      if (created.status === 201 || created.status === 200) return;
      // 409 AlreadyExists: made by someone else between the read and the create; the patch then sets the key.
      if (created.status === 409) return patch();
      return fail(target, created, 'creating the Secret', connect, [secret, data[key]!]);

      async function patch(): Promise<void> {
        const patched = await call('PATCH', item, { data }, 'application/merge-patch+json');
        if (patched.status !== 200) await fail(target, patched, 'updating the Secret', connect, [secret, data[key]!]);
      }
    },
  };
}

/** A dispatcher trusting the cluster's CA and presenting its client certificate; none for plain http. */
function tlsAgent(access: ClusterAccess): Dispatcher | undefined {
  if (access.server.protocol !== 'https:') return undefined;
  return new Agent({
    connect: {
      ...(access.ca ? { ca: access.ca } : {}),
      ...(access.cert && access.key ? { cert: access.cert, key: access.key } : {}),
      ...(access.insecure ? { rejectUnauthorized: false } : {}),
    },
  });
}

/** The credentials kubectl would use: KUBECONFIG's files, else ~/.kube/config, else the pod's service account. */
export async function clusterAccess(target: string, env: NodeJS.ProcessEnv): Promise<ClusterAccess> {
  const files = env.KUBECONFIG ? env.KUBECONFIG.split(delimiter).filter(Boolean) : [join(env.HOME || homedir(), '.kube', 'config')];
  const configs: Array<{ path: string; doc: KubeConfig }> = [];
  for (const path of files) {
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && !env.KUBECONFIG) return undefined;
      throw new UsageError(say`--to ${displayText(target)}: cannot read the kubeconfig ${displayText(path)} (${displayText(err.code ?? err.message)}).`);
    });
    if (text !== undefined) configs.push({ path, doc: await parseKubeconfig(target, path, text) });
  }
  if (configs.length) return fromKubeconfig(target, configs);
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return inCluster(target, env);
  throw new UsageError(say`--to ${displayText(target)}: no Kubernetes credentials: no kubeconfig (KUBECONFIG, ~/.kube/config) and not in a pod.`);
}

async function inCluster(target: string, env: NodeJS.ProcessEnv): Promise<ClusterAccess> {
  const dir = env.KEYROT_K8S_SERVICE_ACCOUNT_DIR || SERVICE_ACCOUNT_DIR;
  const read = (name: string) =>
    readFile(join(dir, name), 'utf8').catch(() => {
      throw new UsageError(say`--to ${displayText(target)}: in a pod without a service account token (${displayText(join(dir, name))} cannot be read).`, {
        hint: say`Mount the service account token (automountServiceAccountToken) or give a kubeconfig.`,
      });
    });
  const host = env.KUBERNETES_SERVICE_HOST!.includes(':') ? `[${env.KUBERNETES_SERVICE_HOST}]` : env.KUBERNETES_SERVICE_HOST;
  return {
    server: apiUrl(target, 'KUBERNETES_SERVICE_HOST', `https://${host}:${env.KUBERNETES_SERVICE_PORT}`),
    source: 'in-cluster service account',
    token: (await read('token')).trim(),
    ca: await read('ca.crt'),
  };
}

/** The parts of a kubeconfig keyrot reads (https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/). */
interface KubeConfig {
  'current-context'?: string;
  contexts?: Array<{ name?: string; context?: { cluster?: string; user?: string } }>;
  clusters?: Array<{ name?: string; cluster?: Record<string, unknown> }>;
  users?: Array<{ name?: string; user?: Record<string, unknown> }>;
}

async function parseKubeconfig(target: string, path: string, text: string): Promise<KubeConfig> {
  // Loaded only here: most runs of keyrot never read a kubeconfig. yaml's Node entry is CommonJS, so once bundled
  // its functions sit on the default export.
  const yaml = (await import('yaml')) as typeof import('yaml') & { default?: typeof import('yaml') };
  const parse = yaml.parse ?? yaml.default!.parse;
  try {
    const doc = parse(text) as unknown;
    return doc && typeof doc === 'object' ? (doc as KubeConfig) : {};
  } catch {
    throw new UsageError(say`--to ${displayText(target)}: the kubeconfig ${displayText(path)} is not YAML.`);
  }
}

/** The current context's cluster and user, merged across files as kubectl does: the first file to set a thing wins. */
async function fromKubeconfig(target: string, configs: Array<{ path: string; doc: KubeConfig }>): Promise<ClusterAccess> {
  const current = configs.map((c) => c.doc['current-context']).find(Boolean);
  if (!current) throw new UsageError(say`--to ${displayText(target)}: the kubeconfig has no current-context.`, { hint: say`kubectl config use-context NAME` });
  const find = <K extends 'contexts' | 'clusters' | 'users'>(list: K, name: string | undefined) => {
    for (const { path, doc } of configs) {
      const entry = (doc[list] as Array<{ name?: string }> | undefined)?.find((e) => e?.name === name);
      if (entry) return { path, entry: entry as NonNullable<KubeConfig[K]>[number] };
    }
    throw new UsageError(say`--to ${displayText(target)}: the kubeconfig's ${displayText(list.slice(0, -1))} "${displayText(name ?? '')}" is not defined.`);
  };
  const context = find('contexts', current).entry.context ?? {};
  const { path: clusterFile, entry: clusterEntry } = find('clusters', context.cluster);
  const { path: userFile, entry: userEntry } = find('users', context.user);
  const cluster = clusterEntry.cluster ?? {};
  const user = userEntry.user ?? {};
  const str = (o: Record<string, unknown>, k: string) => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
  // Files named in a kubeconfig are relative to the kubeconfig itself (kubectl's rule).
  const file = async (from: string, p: string) => {
    const full = isAbsolute(p) ? p : resolve(dirname(from), p);
    return readFile(full, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(say`--to ${displayText(target)}: cannot read ${displayText(full)}, named in the kubeconfig (${displayText(err.code ?? err.message)}).`);
    });
  };
  const data = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
  const either = async (o: Record<string, unknown>, from: string, k: string) => (str(o, `${k}-data`) ? data(str(o, `${k}-data`)!) : str(o, k) ? await file(from, str(o, k)!) : undefined);

  if (user.exec || user['auth-provider']) {
    throw new UsageError(
      say`--to ${displayText(target)}: the kubeconfig's user "${displayText(`${context.user}`)}" gets its credentials from a plugin (exec or auth-provider), which keyrot does not run.`,
      {
        hint: say`Give keyrot a kubeconfig with a token or a client certificate (for example a service account token), or run it in a pod.`,
      },
    );
  }
  const server = str(cluster, 'server');
  if (!server) throw new UsageError(say`--to ${displayText(target)}: the kubeconfig's cluster "${displayText(`${context.cluster}`)}" has no server.`);
  const access: ClusterAccess = { server: apiUrl(target, 'the kubeconfig server', server), source: `${clusterFile} (context ${current})` };
  const ca = await either(cluster, clusterFile, 'certificate-authority');
  if (ca) access.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) access.insecure = true;
  const token = str(user, 'token') ?? (str(user, 'tokenFile') ? (await file(userFile, str(user, 'tokenFile')!)).trim() : undefined);
  if (token) access.token = token;
  const cert = await either(user, userFile, 'client-certificate');
  const key = await either(user, userFile, 'client-key');
  if (cert && key) Object.assign(access, { cert, key });
  if (!access.token && !access.cert) throw new UsageError(say`--to ${displayText(target)}: the kubeconfig's user "${displayText(`${context.user}`)}" has neither a token nor a client certificate.`);
  return access;
}

/** `secrets`: what no error text may quote besides the token (while delivering, the key). */
async function fail(target: string, answer: JsonAnswer, doing: string, connect: () => Promise<{ access: ClusterAccess }>, secrets: readonly string[] = []): Promise<never> {
  const { access } = await connect();
  // The API server's failures are a Status object ({kind: "Status", code, reason, message}).
  return refused(
    target,
    'Kubernetes',
    doing,
    answer,
    {
      401: say`The API server did not accept the credentials from ${displayText(access.source)}: expired or wrong.`,
      403: say`The credentials may not do this: they need get, patch and create on secrets in the namespace (a Role and RoleBinding).`,
      404: say`The namespace does not exist (keyrot creates the Secret, never a namespace).`,
      422: say`The API server refused the Secret as given (an immutable Secret cannot be changed: replace it by hand once).`,
    },
    [access.token ?? '', ...secrets],
  );
}
