// Built-in destinations (--to TARGET): places a new key is handed to without a hand-written hook. Each one
// writes a secret it is given and nothing else; it never prints, logs or keeps the secret, and the errors it
// throws name the target, never a token or a key.
import type { Dispatcher } from 'undici';

export interface DestinationDeps {
  /** The environment the tokens and API URLs are read from (GH_TOKEN, GITHUB_API_URL…). */
  env: NodeJS.ProcessEnv;
  /** HTTP dispatcher for the destination's API (a local test server is reached through the default one). */
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
}

export interface Destination {
  /** The target as the user wrote it (`github:acme/api#VULTR_API_KEY`): holds no secret, safe to print. */
  readonly target: string;
  /**
   * Checks, changing nothing, that a later `deliver` can work (a token is set, a file's folder exists, the
   * secret to update exists where it must). Throws UsageError when the target can never work as given.
   */
  preflight(): Promise<void>;
  /**
   * Writes `secret` so that consumers of the destination read exactly it. Idempotent: delivering the same
   * secret twice leaves the destination as one delivery does (a --resume may deliver again). Throws
   * DestinationError when the destination refuses or cannot be reached; the secret is then either the one
   * delivered before or the new one, never a mix.
   */
  deliver(secret: string): Promise<void>;
}
