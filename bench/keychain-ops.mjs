// Child of bench/keychain.mjs: in a fresh process, load the keychain binding and make the Secret Service
// calls one `keyrot rotate` makes, the way keyrot makes them (one entry per account, reused); print the
// timings as JSON.
const t0 = performance.now();
const { AsyncEntry, findCredentialsAsync } = await import('@napi-rs/keyring');
const t1 = performance.now();
const entries = new Map();
const entry = (account) => {
  if (!entries.has(account)) entries.set(account, new AsyncEntry('keyrot-bench', account, { linux: { store: 'secret-service' } }));
  return entries.get(account);
};
// List held keys (reachability read of the probe account + search), probe (write, read back, delete),
// store the new key (write, read back), read the old key, delete the old key's entry.
await entry('probe').getPassword();
await findCredentialsAsync('keyrot-bench');
await entry('probe').setPassword('probe');
await entry('probe').getPassword();
await entry('probe').deleteCredential();
await entry('new').setPassword('N'.repeat(36));
await entry('new').getPassword();
await entry('old').getPassword();
await entry('new').deleteCredential();
const t2 = performance.now();
console.log(JSON.stringify({ loadMs: t1 - t0, opsMs: t2 - t1, ops: 9, sessions: entries.size }));
