// Seed data for the sandbox: a small cast of users covering the cases keyrot must handle (an admin, a user
// with one key, a service user with two, a user without manage_users), padded with key-less users so lists
// need several pages. Times are relative to the sandbox's start so "recent" stays recent.
import { randomBytes, randomUUID } from 'node:crypto';

/** How a key that never expires shows `date_expire`; the public sources disagree, so the sandbox uses all three. */
export type NoExpiryForm = 'absent' | 'empty' | 'null';

export interface KeyRecord {
  readonly id: string;
  /** Kept in clear because this is a test double: tests and the demo must be able to use every key. */
  readonly plaintext: string;
  name: string;
  expire: boolean;
  /** Set only while `expire` is true. */
  dateExpire: Date | null;
  readonly noExpiryForm: NoExpiryForm;
  /** Source IPs the key may be used from; empty means any. */
  allowedIps: string[];
}

export interface UserRecord {
  readonly id: string;
  email: string;
  firstName: string;
  readonly lastName: string;
  readonly apiEnabled: boolean;
  readonly serviceUser: boolean;
  readonly acls: readonly string[];
  readonly invitedBy: string;
  readonly invitedOn: Date;
  readonly inviteAccepted: boolean;
  /** Alternates between the two shapes seen in the wild: the documented string and an example's boolean. */
  readonly status: 'active' | true;
  lastActivity: Date | null;
  readonly keys: KeyRecord[];
}

export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_KEY_NAME = 'keyrot-sandbox-admin';

interface FixtureUser {
  email: string;
  firstName: string;
  lastName: string;
  serviceUser: boolean;
  acls: string[];
  /** null: no activity in the past year (Vultr then reports ""). */
  lastActiveAgoMs: number | null;
  /** The admin's first key is always the admin key, whose plaintext the caller may choose. */
  keys: Array<{ name: string; expiresInMs?: number }>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const FIXTURE_USERS: readonly FixtureUser[] = [
  {
    email: ADMIN_EMAIL,
    firstName: 'Alex',
    lastName: 'Admin',
    serviceUser: false,
    acls: ['manage_users', 'subscriptions', 'provisioning', 'billing', 'support', 'dns', 'firewall', 'alerts'],
    lastActiveAgoMs: HOUR,
    keys: [{ name: ADMIN_KEY_NAME }],
  },
  {
    email: 'ops@example.com',
    firstName: 'Olivia',
    lastName: 'Ops',
    serviceUser: false,
    acls: ['subscriptions', 'provisioning', 'dns', 'firewall'],
    lastActiveAgoMs: 2 * DAY,
    keys: [{ name: 'ops-deploy' }],
  },
  {
    email: 'ci@example.com',
    firstName: 'CI',
    lastName: 'Runner',
    serviceUser: true,
    acls: ['provisioning', 'objstore'],
    lastActiveAgoMs: 10 * MINUTE,
    keys: [{ name: 'ci-runner' }, { name: 'ci-backup', expiresInMs: 365 * DAY }],
  },
  {
    email: 'viewer@example.com',
    firstName: 'Vera',
    lastName: 'Viewer',
    serviceUser: false,
    acls: ['dns', 'billing'],
    lastActiveAgoMs: null,
    keys: [{ name: 'viewer' }],
  },
];

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const KEY_LENGTH = 36;

/** 36 random characters of A-Z2-7, the shape of Vultr's example keys. */
export function generateKeyPlaintext(): string {
  // 32 symbols divide 256 evenly, so masking a random byte keeps every symbol equally likely.
  return Array.from(randomBytes(KEY_LENGTH), (byte) => KEY_ALPHABET[byte & 31]).join('');
}

export interface NewKeyInput {
  name: string;
  expire: boolean;
  dateExpire: Date | null;
  /** Default: a fresh random plaintext. */
  plaintext?: string;
}

/** Makes key records, rotating the no-expiry representation so every client meets all three. */
export class KeyFactory {
  private readonly forms: readonly NoExpiryForm[] = ['absent', 'empty', 'null'];
  private nonExpiring = 0;

  create(input: NewKeyInput): KeyRecord {
    const form = input.expire ? 'absent' : (this.forms[this.nonExpiring++ % this.forms.length] ?? 'absent');
    return {
      id: randomUUID(),
      plaintext: input.plaintext ?? generateKeyPlaintext(),
      name: input.name,
      expire: input.expire,
      dateExpire: input.expire ? input.dateExpire : null,
      noExpiryForm: form,
      allowedIps: [],
    };
  }
}

export interface SeedOptions {
  /** Total users, at least FIXTURE_USERS.length. */
  users: number;
  /** Keys of each generated user (user5@ onwards); default 0. */
  keysPerUser?: number;
  adminKey: string;
  now: Date;
  keys: KeyFactory;
}

/**
 * The fixture users in order, then user5@example.com, user6@example.com … up to `users`, each with `keysPerUser` keys
 * (none by default) whose expiries cover what an audit looks for: expired, due within a month, later, never.
 */
export function seedUsers({ users, keysPerUser = 0, adminKey, now, keys }: SeedOptions): UserRecord[] {
  const ago = (ms: number): Date => new Date(now.getTime() - ms);
  const seeded: UserRecord[] = FIXTURE_USERS.map((fixture, index) => ({
    id: randomUUID(),
    email: fixture.email,
    firstName: fixture.firstName,
    lastName: fixture.lastName,
    apiEnabled: true,
    serviceUser: fixture.serviceUser,
    acls: [...fixture.acls],
    invitedBy: fixture.email === ADMIN_EMAIL ? '' : ADMIN_EMAIL,
    invitedOn: ago((400 - index) * DAY),
    inviteAccepted: true,
    status: statusFor(index),
    lastActivity: fixture.lastActiveAgoMs === null ? null : ago(fixture.lastActiveAgoMs),
    keys: fixture.keys.map((key, keyIndex) =>
      keys.create({
        name: key.name,
        expire: key.expiresInMs !== undefined,
        dateExpire: key.expiresInMs === undefined ? null : new Date(now.getTime() + key.expiresInMs),
        ...(fixture.email === ADMIN_EMAIL && keyIndex === 0 ? { plaintext: adminKey } : {}),
      }),
    ),
  }));
  for (let n = seeded.length + 1; n <= users; n++) {
    seeded.push({
      id: randomUUID(),
      email: `user${n}@example.com`,
      firstName: 'User',
      lastName: String(n),
      apiEnabled: true,
      serviceUser: false,
      acls: ['subscriptions_view'],
      invitedBy: ADMIN_EMAIL,
      invitedOn: ago(30 * DAY),
      inviteAccepted: true,
      status: statusFor(n - 1),
      // Every other padding user has been idle for over a year, so clients meet "" in bulk as well.
      lastActivity: n % 2 === 1 ? null : ago(n * HOUR),
      keys: Array.from({ length: keysPerUser }, (_, k) => {
        const expiresInMs = generatedExpiry(n + k);
        return keys.create({
          name: `user${n}-deploy${k === 0 ? '' : `-${k + 1}`}`,
          expire: expiresInMs !== null,
          dateExpire: expiresInMs === null ? null : new Date(now.getTime() + expiresInMs),
        });
      }),
    });
  }
  return seeded;
}

/** A generated key's expiry from now (null: never), in turn: expired, due within 30 days, in a year, never (twice). */
function generatedExpiry(n: number): number | null {
  switch (n % 5) {
    case 0:
      return -((n % 20) + 1) * DAY;
    case 1:
      return ((n % 29) + 1) * DAY;
    case 2:
      return 365 * DAY;
    default:
      return null;
  }
}

function statusFor(index: number): 'active' | true {
  return index % 2 === 0 ? 'active' : true;
}
