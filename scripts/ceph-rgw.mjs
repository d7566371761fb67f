// Starts a single-node Ceph cluster (a monitor, one in-memory OSD, the RADOS Gateway) on loopback, for the tests of
// keyrot's shared state against a real S3 server. Everything lives in a private temporary folder on free ports and
// is removed by stop(). Needs Debian's ceph-mon, ceph-osd, radosgw and ceph-common; about 12 s on 2 cores.
//
//   node scripts/ceph-rgw.mjs     starts one, prints its endpoint and credentials, stops on Ctrl-C
//
// Facts this encodes (measured here): without ms_mon_client_mode/ms_client_mode = crc the daemons retry
// authentication for ever; memstore keeps the OSD off the disk.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PROGRAMS = ['monmaptool', 'ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph'];

/** The programs missing for a cluster ([] when all are installed). */
export function cephMissing() {
  return PROGRAMS.filter((p) => spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout || '').trim().slice(-500)}`);
  return r.stdout;
}

/**
 * Starts a cluster; resolves to { endpoint, accessKeyId, secretAccessKey, dir, stop() } once the gateway answers
 * and its S3 user exists. On failure everything started is stopped and the folder removed.
 */
export async function startCeph() {
  const root = mkdtempSync(join(tmpdir(), 'keyrot-ceph-'));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const accessKeyId = `KR${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  for (const d of ['run', 'log', 'mon.a', 'osd.0', 'rgw']) mkdirSync(join(root, d), { recursive: true });
  const conf = join(root, 'ceph.conf');
  writeFileSync(
    conf,
    `[global]
fsid = ${fsid}
mon_host = v2:127.0.0.1:${monPort}
public_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_objectstore = memstore
memstore_device_bytes = 1073741824
run_dir = ${root}/run
admin_socket = ${root}/run/$name.asok
log_file = ${root}/log/$name.log
pid_file = ${root}/run/$name.pid
mon_data = ${root}/mon.$id
osd_data = ${root}/osd.$id
ms_bind_ipv6 = false
ms_mon_client_mode = crc
ms_client_mode = crc
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw_data = ${root}/rgw
`,
  );
  const C = ['-c', conf];
  const stop = () => {
    const dir = join(root, 'run');
    let names = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.pid'));
    } catch {
      // Nothing started.
    }
    for (const name of names) {
      const pid = Number(readFileSync(join(dir, name), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    run('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, join(root, 'monmap')]);
    run('ceph-mon', [...C, '--mkfs', '-i', 'a', '--monmap', join(root, 'monmap')]);
    run('ceph-mon', [...C, '-i', 'a']);
    run('ceph', [...C, 'osd', 'create']);
    run('ceph-osd', [...C, '-i', '0', '--mkfs']);
    run('ceph-osd', [...C, '-i', '0']);
    spawn('radosgw', [...C, '-n', 'client.rgw.a'], { detached: true, stdio: 'ignore' }).unref();
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const up = await fetch(endpoint).then(
        () => true,
        () => false,
      );
      if (up) break;
      if (Date.now() > deadline) throw new Error(`radosgw did not answer on ${endpoint} within 90 s (logs in ${root}/log)`);
      await new Promise((r) => setTimeout(r, 200));
    }
    run('radosgw-admin', [...C, 'user', 'create', '--uid=keyrot-test', '--display-name=keyrot test', `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`]);
    return { endpoint, accessKeyId, secretAccessKey, dir: root, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const missing = cephMissing();
  if (missing.length) {
    console.error(`error: ${missing.join(', ')} not found: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common`);
    process.exit(1);
  }
  const t0 = Date.now();
  const ceph = await startCeph();
  console.log(`Ceph RGW at ${ceph.endpoint} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`AWS_ENDPOINT_URL_S3=${ceph.endpoint} AWS_ACCESS_KEY_ID=${ceph.accessKeyId} AWS_SECRET_ACCESS_KEY=${ceph.secretAccessKey}`);
  const end = () => {
    ceph.stop();
    process.exit(0);
  };
  process.on('SIGINT', end);
  process.on('SIGTERM', end);
  setInterval(() => undefined, 1 << 30);
}
