// Child of bench/keychain.mjs: in a fresh process, load the keychain binding and make the Secret Service
// operations one rotation makes; print the two timings as JSON.
const t0 = performance.now();
const { AsyncEntry, findCredentialsAsync } = await import('@napi-rs/keyring');
const t1 = performance.now();
const entry = (account) => new AsyncEntry('keyrot-bench', account, { linux: { store: 'secret-service' } });
// As in `keyrot rotate`: list held keys (reachability read + search), probe (write, read back, delete),
// store the new key (write, read back), read the old key, delete the old key's entry.
await entry('probe:reachable').getPassword();
await findCredentialsAsync('keyrot-bench');
await entry('probe').setPassword('probe');
await entry('probe').getPassword();
await entry('probe').deleteCredential();
await entry('new').setPassword('N'.repeat(36));
await entry('new').getPassword();
await entry('old').getPassword();
await entry('new').deleteCredential();
const t2 = performance.now();
console.log(JSON.stringify({ loadMs: t1 - t0, opsMs: t2 - t1, ops: 9 }));
