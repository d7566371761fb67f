// keyrot's records in an S3 bucket (--state-dir s3://BUCKET/PREFIX), shared by every runner that names it.
//
// What the store must guarantee, and keyrot checks before first use (probe): a PUT with `If-None-Match: *` fails
// (412) when the object exists, and a PUT with `If-Match: <etag>` fails (412) when the object's ETag differs.
// AWS documents both for PutObject (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html,
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html: "If-None-Match … Uploads the object only if
// the object key name does not already exist", "If-Match … Uploads the object only if the ETag … matches";
// 412 Precondition Failed otherwise, 409 ConditionalRequestConflict when a concurrent write raced: retry).
// Ceph RGW honours both on PUT but compares If-Match with the ETag without its quotes, and ignores conditions on
// DELETE: so keyrot never relies on a conditional DELETE. A record is "removed" under a condition by a conditional
// PUT of an empty object (a tombstone), which every reader takes for "no record".
import { s3ErrorCode, xmlText } from './s3-xml.js';
import type { Dispatcher } from 'undici';
import { isLoopback } from '../core/base-url.js';
import { RotationConflictError, StateError, UsageError } from '../errors.js';
import type { LocalStore } from './local.js';
import type { S3Response, S3Target, s3Request as S3Request } from './s3-client.js';
import type { StateStore, StoredRecord } from './store.js';
import { say, displayText } from '../ui/display-text.js';
import { randomBytes } from '../random.js';

/** The answer every S3 failure turns into: one line naming the store and what it said; nothing was changed. */
function storeError(root: string, what: string, answer?: S3Response): StateError {
  const code = answer ? s3ErrorCode(answer.body) : '';
  const said = answer ? ` (HTTP ${answer.status}${code ? ` ${code}` : ''})` : '';
  return new StateError(say`The state bucket ${displayText(root)} ${displayText(what)}${displayText(said)}.`, {
    hint: answer?.status === 403 ? say`Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN, AWS_REGION). Nothing was changed.` : say`Nothing was changed.`,
    data: { stateDir: root, status: answer?.status ?? null, code: code || null },
  });
}

/**
 * AWS refuses a request signed more than 15 minutes from its own clock (403 RequestTimeTooSkewed,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html): this machine's clock is wrong, not its keys.
 * The store's Date header (or the ServerTime in the error body) says by how much.
 */
function skewError(root: string, answer: S3Response): StateError {
  const server = Date.parse(answer.headers['date'] ?? '') || Date.parse(xmlText(/<ServerTime>([^<]*)</.exec(answer.body)?.[1] ?? ''));
  const minutes = Number.isFinite(server) ? Math.round((Date.now() - server) / 60_000) : null;
  const by = minutes === null ? 'by more than 15 minutes' : `by ${Math.abs(minutes)} minutes (this machine is ${minutes > 0 ? 'ahead' : 'behind'})`;
  return new StateError(say`The state bucket ${displayText(root)} refused the request because this machine's clock differs from the store's ${displayText(by)} (HTTP 403 RequestTimeTooSkewed).`, {
    hint: say`Set the clock right (NTP: timedatectl set-ntp true), then run the command again. The credentials are not at fault. Nothing was changed.`,
    data: { stateDir: root, status: 403, code: 'RequestTimeTooSkewed', skewMinutes: minutes },
  });
}

/** A fenced write the store refused: another runner wrote the record since this one last read it. */
export function fencedError(where: string): RotationConflictError {
  return new RotationConflictError(say`${displayText(where)} was changed by another keyrot runner (this run's lock lapsed and was taken over): this run stops here, before changing any key.`, {
    hint: say`The runner that took the lock over carries the rotation on; see keyrot status.`,
    data: { record: where },
  });
}

const unquote = (etag: string | undefined) => (etag ?? '').replace(/^W\//, '').replace(/"/g, '');

export class S3Store implements StateStore {
  readonly root: string;
  readonly shared = true;
  readonly local: LocalStore;
  readonly bucket: string;
  readonly target: S3Target;
  readonly #prefix: string;
  /** The version (ETag, unquoted) this process last read or wrote of each record; null: it knew there was none. */
  readonly #versions = new Map<string, string | null>();
  #ready: Promise<void> | undefined;

  /** `root` is normalised (normaliseS3Root); `local` holds what never leaves this machine (rescue files). */
  constructor(root: string, env: NodeJS.ProcessEnv, local: LocalStore, dispatcher?: Dispatcher) {
    this.root = root;
    this.local = local;
    const [bucket = '', ...prefix] = root.slice('s3://'.length).split('/');
    this.bucket = bucket;
    this.#prefix = prefix.length ? `${prefix.join('/')}/` : '';
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new UsageError(say`--state-dir ${displayText(root)} needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`, {
        hint: say`Set them (and AWS_REGION, and AWS_ENDPOINT_URL_S3 for a store other than AWS).`,
      });
    }
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
    const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
    let bucketUrl: URL;
    if (endpoint) {
      const source = env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : 'AWS_ENDPOINT_URL';
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        // Not echoed: an endpoint URL may carry user info (a key and its secret), and this line goes to CI logs.
        throw new UsageError(say`${displayText(`${source}`)} is not a URL (its value is not shown: it may hold credentials).`, {
          hint: say`Set it to the store's https:// address, e.g. https://s3.example.com.`,
        });
      }
      if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
        throw new UsageError(say`${displayText(`${source}`)}: plain http:// is refused for ${displayText(url.hostname)}: keyrot's records and S3 credentials would cross the network unencrypted.`, {
          hint: say`Use https://, or http:// only to a loopback address (127.0.0.1, ::1, localhost).`,
        });
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(say`${displayText(`${source}`)}: "${displayText(url.protocol)}" URLs are not supported; use https://.`);
      // An endpoint given: path-style addressing (endpoint/bucket/key), which every S3-compatible store answers.
      bucketUrl = new URL(`${url.origin}${url.pathname.replace(/\/+$/, '')}/${bucket}/`);
    } else {
      bucketUrl = new URL(`https://${bucket}.s3.${region}.amazonaws.com/`);
    }
    this.target = { bucketUrl, region, credentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined }, dispatcher };
  }

  where(key: string): string {
    return `${this.root}/${key}`;
  }

  /** One request; a store that cannot be reached, refuses the credentials or has no such bucket is one StateError. */
  async call(method: 'GET' | 'PUT' | 'DELETE', key: string, options: Parameters<typeof S3Request>[3] = {}): Promise<S3Response & { retried: boolean }> {
    // Loaded on first use: undici stays out of the start-up of commands that never touch a bucket.
    const { s3Request } = await import('./s3-client.js');
    // A 5xx may answer a request the store applied (a 409 conflict was not applied): a retry can meet it.
    let afterServerError = false;
    for (let attempt = 0; ; attempt++) {
      let answer: S3Response;
      try {
        answer = await s3Request(this.target, method, key === '' ? '' : this.#prefix + key, options);
      } catch (err) {
        throw storeError(this.root, `could not be reached at ${this.target.bucketUrl.origin}: ${(err as Error).message}`);
      }
      // AWS: "409 ConditionalRequestConflict … retry"; 500/503 (SlowDown): retry a few times, then say so.
      const retry = (answer.status === 409 && s3ErrorCode(answer.body) === 'ConditionalRequestConflict') || answer.status === 500 || answer.status === 503;
      if (retry && attempt < 4) {
        afterServerError ||= answer.status >= 500;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt + Math.random() * 100));
        continue;
      }
      if (answer.status === 403 && s3ErrorCode(answer.body) === 'RequestTimeTooSkewed') throw skewError(this.root, answer);
      if (answer.status === 403) throw storeError(this.root, "refused keyrot's credentials", answer);
      if (answer.status === 404 && s3ErrorCode(answer.body) === 'NoSuchBucket') throw storeError(this.root, `does not exist at ${this.target.bucketUrl.origin}`, answer);
      if (answer.status === 301 || answer.status === 400 || answer.status >= 500) throw storeError(this.root, 'answered with an error', answer);
      return { ...answer, retried: afterServerError };
    }
  }

  /**
   * Probes, once, that the store honours conditional writes: a second create of one object must fail, and a write
   * over a version that is not the object's must fail. A store that ignores them is refused (one lock that does not
   * lock is worse than none), naming what it answered. The probe object is deleted afterwards.
   */
  ready(): Promise<void> {
    return (this.#ready ??= (async () => {
      const key = `.keyrot-probe/${randomBytes(8).toString('hex')}`;
      const first = await this.call('PUT', key, { body: 'probe', headers: { 'if-none-match': '*' } });
      if (first.status !== 200) throw storeError(this.root, 'refused to store a record', first);
      try {
        const second = await this.call('PUT', key, { body: 'probe 2', headers: { 'if-none-match': '*' } });
        if (second.status !== 412) {
          throw new StateError(
            say`The S3 store at ${displayText(this.target.bucketUrl.origin)} ignores conditional writes: a second create of one object with If-None-Match: * answered HTTP ${second.status}, not 412. keyrot keeps no shared locks where a lock does not lock.`,
            {
              hint: say`Use a store that honours S3 conditional writes (AWS S3, Ceph RGW, MinIO, Cloudflare R2), or a local --state-dir. Nothing was changed.`,
              data: { stateDir: this.root, status: second.status },
            },
          );
        }
        const stale = await this.call('PUT', key, { body: 'probe 3', headers: { 'if-match': '0123456789abcdef0123456789abcdef' } });
        if (stale.status !== 412) {
          throw new StateError(
            say`The S3 store at ${displayText(this.target.bucketUrl.origin)} ignores conditional writes: a write with a stale If-Match answered HTTP ${stale.status}, not 412. keyrot keeps no shared locks where a lock does not lock.`,
            {
              hint: say`Use a store that honours S3 conditional writes (AWS S3, Ceph RGW, MinIO, Cloudflare R2), or a local --state-dir. Nothing was changed.`,
              data: { stateDir: this.root, status: stale.status },
            },
          );
        }
      } finally {
        await this.call('DELETE', key).catch(() => undefined);
      }
    })());
  }

  async read(key: string): Promise<StoredRecord | null> {
    const found = await this.readRaw(key);
    return found && found.text !== '' ? found : null;
  }

  /** The object at `key` as it is (a tombstone is ''), with its version, and remembered as the version last seen. */
  async readRaw(key: string): Promise<(StoredRecord & { version: string; lastModified: string; date: string }) | null> {
    await this.ready();
    const answer = await this.call('GET', key);
    if (answer.status === 404) {
      this.#versions.set(key, null);
      return null;
    }
    if (answer.status !== 200) throw storeError(this.root, `did not give ${key}`, answer);
    const version = unquote(answer.headers['etag']);
    this.#versions.set(key, version);
    return { text: answer.body, version, lastModified: answer.headers['last-modified'] ?? '', date: answer.headers['date'] ?? '' };
  }

  /**
   * Writes `text` at `key` only if the object is still `expected` (its ETag; null: no object). True when written,
   * false when the store refused (412). A lost answer is settled by reading the object back. `retried`: the refusal
   * answered a retry, so it may be this run's own first attempt, applied but answered 5xx (see settleRetried).
   */
  async putIf(key: string, text: string, expected: string | null): Promise<{ written: boolean; version: string; retried?: boolean }> {
    await this.ready();
    // Ceph RGW compares If-Match with the ETag without quotes; AWS accepts it so too.
    const headers: Record<string, string> = expected === null ? { 'if-none-match': '*' } : { 'if-match': expected };
    let answer: S3Response & { retried: boolean };
    try {
      answer = await this.call('PUT', key, { body: text, headers });
    } catch (err) {
      const back = await this.readRaw(key).catch(() => null);
      if (back && back.text === text) return { written: true, version: back.version };
      throw err;
    }
    // AWS answers an If-Match on a key that does not exist with 404 NoSuchKey: not written, as for 412.
    const refused =
      answer.status === 412 ||
      (answer.status === 409 && s3ErrorCode(answer.body) === 'ConditionalRequestConflict') ||
      (answer.status === 404 && expected !== null && s3ErrorCode(answer.body) === 'NoSuchKey');
    if (refused) return answer.retried ? { written: false, version: '', retried: true } : { written: false, version: '' };
    if (answer.status !== 200) throw storeError(this.root, `refused to store ${key}`, answer);
    const version = unquote(answer.headers['etag']);
    this.#versions.set(key, version);
    return { written: true, version };
  }

  async write(key: string, text: string, options: { fenced?: boolean } = {}): Promise<void> {
    if (!options.fenced) {
      await this.ready();
      const answer = await this.call('PUT', key, { body: text });
      if (answer.status !== 200) throw storeError(this.root, `refused to store ${key}`, answer);
      this.#versions.set(key, unquote(answer.headers['etag']));
      return;
    }
    let expected = this.#versions.get(key);
    if (expected === undefined) {
      // Never seen in this run: only a record that does not exist (or was removed) may be written over.
      const now = await this.readRaw(key);
      if (now && now.text !== '') throw fencedError(this.where(key));
      expected = now ? now.version : null;
    }
    const put = await this.settleRetried(key, text, await this.putIf(key, text, expected));
    if (!put.written) throw fencedError(this.where(key));
  }

  /**
   * A conditional write refused on a retry may have met its own first attempt (applied, answered 503): the object
   * then holds exactly `text`, which is this run's write, not another runner's. Read back to tell them apart.
   */
  async settleRetried(key: string, text: string, put: { written: boolean; version: string; retried?: boolean }): Promise<{ written: boolean; version: string }> {
    if (put.written || !put.retried) return put;
    const back = await this.readRaw(key).catch(() => null);
    return back && back.text === text ? { written: true, version: back.version } : put;
  }

  async remove(key: string, options: { fenced?: boolean } = {}): Promise<void> {
    if (options.fenced) {
      await this.write(key, '', options);
      return;
    }
    await this.ready();
    const answer = await this.call('DELETE', key);
    if (answer.status !== 204 && answer.status !== 200 && answer.status !== 404) throw storeError(this.root, `refused to remove ${key}`, answer);
    this.#versions.set(key, null);
  }

  async list(folder: string): Promise<string[]> {
    await this.ready();
    const prefix = `${this.#prefix}${folder}/`;
    const names: string[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix, delimiter: '/' };
      if (token) query['continuation-token'] = token;
      const answer = await this.call('GET', '', { query });
      if (answer.status !== 200) throw storeError(this.root, `did not list ${folder}/`, answer);
      for (const m of answer.body.matchAll(/<Contents>[\s\S]*?<Key>([^<]*)<\/Key>[\s\S]*?<\/Contents>/g)) names.push(xmlText(m[1]!).slice(prefix.length));
      token = /<IsTruncated>true<\/IsTruncated>/.test(answer.body) ? xmlText(/<NextContinuationToken>([^<]*)</.exec(answer.body)?.[1] ?? '') : undefined;
    } while (token);
    return names.filter((n) => n !== '');
  }

  async move(from: string, to: string): Promise<void> {
    const seen = this.#versions.get(from);
    const now = await this.readRaw(from);
    if (!now || now.text === '' || (seen !== undefined && seen !== now.version)) throw fencedError(this.where(from));
    await this.write(to, now.text);
    await this.remove(from, { fenced: true });
  }
}
