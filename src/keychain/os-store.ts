// The platform keychain through @napi-rs/keyring: macOS Keychain, Windows Credential Manager, and on Linux
// the Secret Service (gnome-keyring, KeePassXC). The native binding is loaded on first use only.
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeychainError } from '../errors.js';
import { KEYCHAIN_SERVICE, probeAccount, type SecretStore } from './secret-store.js';
import { say, displayText, type DisplayText } from '../ui/display-text.js';

type KeyringModule = typeof import('@napi-rs/keyring');

// The binding is CommonJS. Loaded with require(), not import(): an import() of CommonJS first runs Node's export
// lexer (WebAssembly) over it, which costs about 4 MB of memory for the whole run (bench/audit.mjs).
const requireCjs = createRequire(import.meta.url);

const OP_TIMEOUT_MS = 10_000;

export class OsSecretStore implements SecretStore {
  readonly kind = 'os' as const;
  readonly description: string;
  #module: KeyringModule | undefined;
  // Constructing an entry opens a Secret Service session (~7 ms, on the main thread); using one is cheap.
  // One entry per account, for the life of the process.
  readonly #entries = new Map<string, InstanceType<KeyringModule['AsyncEntry']>>();

  constructor(
    private readonly platform: NodeJS.Platform = process.platform,
    /** The binding; tests give a stand-in for what the real Secret Service cannot be made to do on cue. */
    private readonly binding: () => KeyringModule = () => requireCjs('@napi-rs/keyring') as KeyringModule,
  ) {
    this.description = platform === 'darwin' ? 'the macOS Keychain' : platform === 'win32' ? 'the Windows Credential Manager' : 'the Secret Service keychain';
  }

  async get(account: string): Promise<string | null> {
    return this.#run('read', account, (entry, signal) => entry.getPassword(signal));
  }

  async set(account: string, secret: string): Promise<void> {
    await this.#run('write', account, (entry, signal) => entry.setPassword(secret, signal));
    const back = await this.get(account);
    if (back !== secret) {
      throw new KeychainError(say`The keychain did not keep what keyrot wrote (${displayText(this.description)}).`, {
        hint: say`Check that the keychain is unlocked and not full.`,
      });
    }
  }

  async delete(account: string): Promise<boolean> {
    // A delete cut off may have landed before the Secret Service went away: a later try that finds nothing then
    // means it is gone, not that it never was.
    return this.#run(
      'delete',
      account,
      (entry, signal) => entry.deleteCredential(signal),
      () => true,
    );
  }

  async list(): Promise<string[]> {
    // findCredentials cannot be pinned to a store; a read through a pinned entry first makes an unreachable
    // Secret Service an error rather than an empty (and misleading) list.
    await this.get(probeAccount());
    const mod = await this.#load();
    // A listing races with entries deleted meanwhile (another keyrot's probe entry, a rotation finishing): the Secret
    // Service then answers "No such interface … Item" or "Object does not exist at path …". Such a listing is simply
    // taken again, after a moment.
    for (let attempt = 1; ; attempt++) {
      try {
        const found = await mod.findCredentialsAsync(KEYCHAIN_SERVICE, null, AbortSignal.timeout(OP_TIMEOUT_MS));
        return found.map((c) => c.account);
      } catch (err) {
        if (attempt >= 5 || !/No such (interface|object)|does not exist/i.test(String((err as Error)?.message))) throw this.#wrap('list', err);
        await sleep(20 * attempt);
      }
    }
  }

  async #load(): Promise<KeyringModule> {
    if (!this.#module) {
      try {
        this.#module = this.binding();
      } catch (err) {
        throw new KeychainError(say`The keychain library could not be loaded on this platform.`, {
          hint: say`Reinstall keyrot (npm ci) so the prebuilt @napi-rs/keyring binary for this platform is present.`,
          cause: err,
        });
      }
    }
    return this.#module;
  }

  async #run<T>(
    op: string,
    account: string,
    fn: (entry: InstanceType<KeyringModule['AsyncEntry']>, signal: AbortSignal) => Promise<T>,
    /** What a try after one that was cut off answers with, where the cut-off one may have done the work. */
    afterCut: (answer: T) => T = (answer) => answer,
  ): Promise<T> {
    const mod = await this.#load();
    for (let attempt = 1; ; attempt++) {
      try {
        // On Linux, pin the Secret Service: the library's default falls back to the kernel keyring, which
        // forgets everything at logout — a rotated key stored there would be lost.
        const options = this.platform === 'linux' ? { linux: { store: 'secret-service' as const } } : undefined;
        let entry = this.#entries.get(account);
        if (!entry) this.#entries.set(account, (entry = new mod.AsyncEntry(KEYCHAIN_SERVICE, account, options)));
        const answer = await fn(entry, AbortSignal.timeout(OP_TIMEOUT_MS));
        return attempt > 1 ? afterCut(answer) : answer;
      } catch (err) {
        // The Secret Service went away mid-call (gnome-keyring ended and was started again, by the session or by
        // hand): the entry's connection is dead, so a new one is opened and the call made again, a few times.
        // Every call here may be made twice: a read, a delete, or a write of the same value (read back after).
        if (attempt >= 4 || !GONE_AWAY.test(String((err as Error)?.message))) throw this.#wrap(op, err);
        this.#entries.delete(account);
        await sleep(250 * attempt);
      }
    }
  }

  #wrap(op: string, err: unknown): KeychainError {
    if (err instanceof KeychainError) return err;
    const raw = err instanceof Error ? err.message : String(err);
    // No session bus at all (DBUS_SESSION_BUS_ADDRESS unset, or a socket that is not there): libdbus's own text
    // ("Using X11 for dbus-daemon autolaunch was disabled…") names no keychain; the raw text stays in the cause.
    const reason = this.platform === 'linux' && NO_BUS.test(raw) ? 'no D-Bus session bus to reach it (DBUS_SESSION_BUS_ADDRESS is unset or points nowhere)' : firstLine(raw);
    return new KeychainError(say`Could not ${displayText(op)} ${displayText(this.description)}: ${displayText(reason)}`, {
      hint: keychainHint(this.platform, raw),
      cause: err,
    });
  }
}

/**
 * The Secret Service's process ended while a call was under way (D-Bus names the recipient gone). Not a reply that
 * timed out (NoReply): a keychain still running behind an unanswered unlock prompt would only ask again.
 */
const GONE_AWAY = /recipient disconnected/i;

const NO_BUS = /autolaunch|Failed to connect to socket|DBUS_SESSION_BUS_ADDRESS|Unable to autolaunch|Connection refused/i;

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').slice(0, 200);
}

function keychainHint(platform: NodeJS.Platform, raw: string): DisplayText {
  if (/abort|timeout|timed out/i.test(raw)) return say`The keychain did not answer: unlock it (an unlock prompt may be waiting) and try again.`;
  if (/locked/i.test(raw)) return say`Unlock the keychain and try again.`;
  if (platform === 'linux') {
    return say`keyrot needs a running, unlocked Secret Service (gnome-keyring or KeePassXC) on the D-Bus session bus. On a headless machine, start one (dbus-run-session, then gnome-keyring-daemon --unlock --components=secrets).`;
  }
  return say`Unlock the keychain and try again.`;
}
