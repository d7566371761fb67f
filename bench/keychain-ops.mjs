// Child of bench/keychain.mjs: in a fresh process, load the keychain binding and make the Secret Service
// calls one `keyrot rotate` makes, the way keyrot makes them (one entry per account, reused); print the
// timings as JSON.
const t0 = performance.now();
const { AsyncEntry } = await import('@napi-rs/keyring');
const t1 = performance.now();
const entries = new Map();
const entry = (account) => {
  if (!entries.has(account)) entries.set(account, new AsyncEntry('keyrot-bench', account, { linux: { store: 'secret-service' } }));
  return entries.get(account);
};
// The 12 calls of `keyrot rotate --no-wait` on 3 accounts (each a Secret Service session), in its order: is the old
// key held; the probe (write, read back, delete); nothing under the new key's account yet; store the new key (write,
// read back); the new key still held before the revoke; the old key for the revoke and its proof; drop the old
// key's entry; the new key still held at the finish.
await entry('old').getPassword();
await entry('probe').setPassword('probe');
await entry('probe').getPassword();
await entry('probe').deleteCredential();
await entry('new').getPassword();
await entry('new').setPassword('N'.repeat(36));
await entry('new').getPassword();
await entry('new').getPassword();
await entry('old').getPassword();
await entry('old').getPassword();
await entry('old').deleteCredential();
await entry('new').getPassword();
await entry('new').deleteCredential();
const t2 = performance.now();
console.log(JSON.stringify({ loadMs: t1 - t0, opsMs: t2 - t1, ops: 12, sessions: entries.size }));
