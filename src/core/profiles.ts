// Profiles: several accounts, one [section] each, in a small hand-edited file
// ($XDG_CONFIG_HOME/keyrot/config, default ~/.config/keyrot/config):
//
//   # keyrot profiles
//   [default]
//   api-url = https://api.vultr.com/v2
//
//   [staging]
//   provider = vultr
//   api-url = https://api.vultr.com/v2
//
// Parsing is strict and every error names the file and the line, so a typo never silently points keyrot at the
// wrong account.
import { UsageError } from '../errors.js';
import { say, displayText } from './display-text.js';

export interface ProfileSettings {
  name: string;
  /** The API base URL, as written (validated by the caller, which knows the provider). */
  apiUrl?: string;
  provider?: string;
  /** A declarative provider definition (a JSON file), instead of a built-in provider. */
  providerFile?: string;
  /** The profile's own state folder or bucket (s3://BUCKET/PREFIX), as written. */
  stateDir?: string;
  /** Where the section starts, and where each setting is, for messages. */
  line: number;
  lines: { apiUrl?: number; provider?: number; providerFile?: number; stateDir?: number };
}

export const DEFAULT_PROFILE = 'default';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const SETTINGS = { 'api-url': 'apiUrl', provider: 'provider', 'provider-file': 'providerFile', 'state-dir': 'stateDir' } as const;

/** Checks a profile name from a flag or the environment; `source` names where it came from. */
export function validateProfileName(name: string, source: string): string {
  if (!NAME.test(name)) throw new UsageError(say`${displayText(source)}: "${displayText(name.slice(0, 64))}" is not a profile name (letters, digits, - and _, up to 64).`);
  return name;
}

/** The profiles in `text` (the contents of `file`), by name. Throws UsageError "<file>:<line>: …". */
export function parseProfiles(text: string, file: string): Map<string, ProfileSettings> {
  const profiles = new Map<string, ProfileSettings>();
  let current: ProfileSettings | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const fail = (why: string): never => {
      throw new UsageError(say`${displayText(file)}:${line}: ${displayText(why)}`, { hint: say`See "Profiles" in keyrot's docs/usage.md for the format.` });
    };
    const text = raw.trim();
    if (text === '' || text.startsWith('#') || text.startsWith(';')) return;
    const section = /^\[(.*)\]$/.exec(text);
    if (section) {
      const name = (section[1] ?? '').trim();
      if (!NAME.test(name)) fail(`"${name.slice(0, 64)}" is not a profile name (letters, digits, - and _, up to 64).`);
      if (profiles.has(name)) fail(`profile [${name}] is defined twice (first at line ${profiles.get(name)?.line}).`);
      current = { name, line, lines: {} };
      profiles.set(name, current);
      return;
    }
    const setting = /^([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*)$/.exec(text);
    if (!setting) fail('expected [profile] or "setting = value".');
    const key = setting?.[1] ?? '';
    const value = (setting?.[2] ?? '').trim();
    if (!current) fail(`"${key}" comes before any [profile] section.`);
    if (!Object.hasOwn(SETTINGS, key))
      fail(
        `unknown setting "${key}" (expected ${Object.keys(SETTINGS)
          .join(', ')
          .replace(/, ([^,]*)$/, ' or $1')}).`,
      );
    const field = SETTINGS[key as keyof typeof SETTINGS];
    const profile = current as unknown as ProfileSettings;
    if (profile[field] !== undefined) fail(`"${key}" is set twice in [${profile.name}].`);
    if (value === '') fail(`"${key}" has no value.`);
    profile[field] = value;
    profile.lines[field] = line;
    if (profile.provider !== undefined && profile.providerFile !== undefined) fail(`[${profile.name}] sets both provider and provider-file: pick one.`);
  });
  return profiles;
}
