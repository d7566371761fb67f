// What a bucket costs a run: whole-process wall time of `keyrot status` with the local state folder and with
// --state-dir s3://… on a Ceph RGW started here (loopback, so this is keyrot's own overhead: the conditions probe,
// listings, the lazily loaded S3 client; a real store adds its network round trips, about 5 for status).
// Also the cluster's start time. Usage: npm run build && node bench/s3-state.mjs [runs]   (needs Debian's Ceph)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { cephMissing, startCeph } from '../scripts/ceph-rgw.mjs';
import { fmt, median, timeRun } from './lib.mjs';

const runs = Number(process.argv[2] ?? 11);
if (cephMissing().length) {
  console.error(`bench: ${cephMissing().join(', ')} not found (apt-get install ceph-mon ceph-osd radosgw ceph-common)`);
  process.exit(1);
}
const bin = fileURLToPath(new URL('../bin/keyrot', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'keyrot-bench-s3-'));
const t0 = Date.now();
const ceph = await startCeph();
const started = Date.now() - t0;
try {
  // The bucket is made with keyrot's own signer (bundled for this script): keyrot never creates buckets.
  await build({
    entryPoints: ['src/state/s3-client.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile: join(fileURLToPath(new URL('../node_modules/.keyrot-bench-s3-client.mjs', import.meta.url))),
    logLevel: 'error',
  });
  const { s3Request } = await import(new URL('../node_modules/.keyrot-bench-s3-client.mjs', import.meta.url).href);
  const target = { bucketUrl: new URL(`${ceph.endpoint}/bench/`), region: 'us-east-1', credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey } };
  await s3Request(target, 'PUT', '', {});
  const env = { ...process.env, XDG_STATE_HOME: tmp, KEYROT_STATE_DIR: '', AWS_ENDPOINT_URL_S3: ceph.endpoint, AWS_ACCESS_KEY_ID: ceph.accessKeyId, AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey };
  const cases = { 'status, local folder': [bin, 'status'], 'status, s3://bench/team': [bin, 'status', '--state-dir', 's3://bench/team'] };
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const args of Object.values(cases)) timeRun(process.execPath, args, { env });
  for (let i = 0; i < runs; i++) for (const [name, args] of Object.entries(cases)) times[name].push(timeRun(process.execPath, args, { env }).ms);
  console.log(`node ${process.version}, Ceph RGW started in ${(started / 1000).toFixed(1)} s; ${runs} interleaved runs each, medians:`);
  for (const [name, values] of Object.entries(times)) console.log(`  ${name.padEnd(26)} ${fmt(median(values))}`);
} finally {
  ceph.stop();
  rmSync(tmp, { recursive: true, force: true });
}
