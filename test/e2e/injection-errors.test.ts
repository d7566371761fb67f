// Error messages, their hints and the end-of-run summaries are display-safe by construction (a KeyrotError takes
// DisplayText; Output's line and summary methods take DisplayText): a hostile key name, user name or provider error
// body reaches neither the terminal nor the --json error object with its escape sequences, even parsed.
import { describe, expect, it } from 'vitest';
import { rotationSetup } from '../helpers/consumer.js';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';

// CSI, OSC 8 hyperlink, OSC title with BEL, a C1 CSI, bidi override, zero-width space and joiner, a line break.
const HOSTILE = 'ops\x1b[2J\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\x1b]0;pwned\x07\x9b31m\u202Eyek\u200b\u200d-deploy\u0007\nline2';
const HOSTILE_EMAIL = 'ops\x1b[31m\u202E\u2066@example.com';
const OWN_STYLE = /\x1b\[(?:1|2|22|31|32|33|36|39)m/g;

/** What in `text` could act on a terminal: escapes, controls other than line breaks, bidi and zero-width characters. */
function active(text: string, allowLineBreaks = true): string[] {
  const rest = text.replace(OWN_STYLE, '');
  const found: string[] = [];
  if (/\x1b/.test(rest)) found.push('ESC');
  if ((allowLineBreaks ? /[\x00-\x08\x0b-\x1f\x7f-\x9f]/ : /[\x00-\x1f\x7f-\x9f]/).test(rest)) found.push('control');
  if (/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(rest)) found.push('bidi');
  if (/[\u200b-\u200d\u2060\ufeff]/.test(rest)) found.push('zero-width');
  return found;
}

describe.skipIf(!HAS_KEYCHAIN)('errors and summaries carry no raw provider text', () => {
  it('not-found errors that list hostile key names: stderr and the parsed --json error object', async () => {
    const s = await rotationSetup();
    const user = s.user;
    await fetch(`${s.h.sandbox.controlUrl}/keys/${s.oldKey.id}`, { method: 'POST', body: JSON.stringify({ name: HOSTILE }) });
    await fetch(`${s.h.sandbox.controlUrl}/users/${user.id}`, { method: 'POST', body: JSON.stringify({ email: HOSTILE_EMAIL, first_name: HOSTILE }) });
    for (const args of [
      ['revoke', '--user', user.id, '--key', 'nope', '--yes'],
      ['verify', '--user', user.id, '--key', 'nope'],
      ['rotate', '--user', user.id, '--key', 'nope', '--no-wait', '--yes'],
      ['list-keys', '--user', 'nobody@example.com'],
    ]) {
      const plain = await s.main(args.join(' '), args);
      expect(plain.code, plain.stderr).not.toBe(0);
      expect(active(plain.stderr), `${args.join(' ')} stderr`).toEqual([]);
      const json = await s.main(`${args.join(' ')} --json`, [...args, '--json']);
      expect(json.code).toBe(plain.code);
      const { error } = JSON.parse(json.stdout) as { error: { message: string; hint?: string } };
      // Parsed, not only as JSON text: the message and hint themselves hold no control, escape or invisible mark.
      expect(active(error.message, false), `${args.join(' ')} --json message`).toEqual([]);
      expect(active(error.hint ?? '', false), `${args.join(' ')} --json hint`).toEqual([]);
    }
    // The names are shown, cleaned: the key's visible text survives.
    const r = await s.main('revoke', ['revoke', '--user', user.id, '--key', 'nope', '--yes', '--json']);
    const { error } = JSON.parse(r.stdout) as { error: { message: string; hint?: string } };
    expect(`${error.message} ${error.hint}`).toMatch(/yek<U\+200B><U\+200D>-deploy/);
  });

  it("a provider's hostile error body in an error: stderr and the parsed --json error object", async () => {
    const s = await rotationSetup();
    // Vultr's error body: {"error": "...", "status": N} (vultr-openapi.json, components/responses).
    s.h.sandbox.addFault({ method: 'GET', path: '/v2/users', action: 'status', status: 404, body: JSON.stringify({ error: HOSTILE, status: 404 }) });
    const plain = await s.main('list-users', ['list-users']);
    expect(plain.code).toBe(5);
    expect(active(plain.stderr)).toEqual([]);
    s.h.sandbox.addFault({ method: 'GET', path: '/v2/users', action: 'status', status: 404, body: JSON.stringify({ error: HOSTILE, status: 404 }) });
    const json = await s.main('list-users --json', ['list-users', '--json']);
    expect(json.code).toBe(5);
    const { error } = JSON.parse(json.stdout) as { error: { message: string; hint?: string } };
    expect(error.message).toMatch(/yek/);
    expect(active(error.message, false)).toEqual([]);
    expect(active(error.hint ?? '', false)).toEqual([]);
  });

  it('the end-of-run summaries of create, rotate and revoke show hostile names inertly', async () => {
    const s = await rotationSetup();
    const user = s.user;
    await fetch(`${s.h.sandbox.controlUrl}/keys/${s.oldKey.id}`, { method: 'POST', body: JSON.stringify({ name: HOSTILE }) });
    await fetch(`${s.h.sandbox.controlUrl}/users/${user.id}`, { method: 'POST', body: JSON.stringify({ email: HOSTILE_EMAIL, first_name: HOSTILE }) });
    const rotate = await s.main('rotate', ['rotate', '--user', user.id, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(rotate.stdout).toMatch(/Rotated /);
    const create = await s.main('create', ['create', '--user', user.id, '--name', 'extra', '--yes']);
    expect(create.code, create.stderr).toBe(0);
    const keys = s.h.sandbox.snapshot().users.find((u) => u.id === user.id)!.keys;
    const extra = keys.find((k) => k.name === 'extra')!;
    const revoke = await s.main('revoke', ['revoke', '--user', user.id, '--key', extra.id, '--yes']);
    expect(revoke.code, revoke.stderr).toBe(0);
    for (const r of [rotate, create, revoke]) {
      expect(active(r.stdout)).toEqual([]);
      expect(active(r.stderr)).toEqual([]);
    }
  });
});
