// How bin/keyrot loads dist/keyrot.cjs: one CommonJS bundle compiled by vm.Script with a V8 code cache, so a run
// skips parsing and compiling the code it ran before (Node 20 has no module.enableCompileCache; about 50 ms of CPU per
// rotation, bench/rotate.mjs). Two caches, both checked against this exact build, V8 and architecture:
//   - dist/keyrot.cjs.v8, written by scripts/build.mjs: the bundle's top level, for any run (read only if it is the
//     bundle owner's file and no one else can write to it);
//   - one per user and command in $XDG_CACHE_HOME/keyrot (~/.cache/keyrot), written after a command's first
//     successful run with every function that run compiled. A code cache is code: a file another user could have
//     written is never read (the folder and the file must be the user's own, not writable by group or others, and
//     not links; the folder that holds them the user's own too), and KEYROT_CODE_CACHE=0 turns it off.
// Whatever is missing, damaged, foreign or from another build is passed over silently and keyrot compiles from source.
'use strict';
const { closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, isAbsolute, join } = require('node:path');
const { getHeapCodeStatistics, setFlagsFromString } = require('node:v8');
const { Script } = require('node:vm');

// V8 checks a code cache's length, its V8 version and flags, and without this flag nothing more: a damaged cache of
// the right length is deserialised and crashes the process. With it, V8 checks a checksum too and rejects it. It is
// on only while a cache is read or made (a flag left changed would make Node compile its own built-in modules from
// source, src/v8-flags.ts), and a cache is only ever made with it on, so the flags V8 compares always match.
const CHECKSUMS = '--verify-snapshot-checksum';
const NO_CHECKSUMS = '--no-verify-snapshot-checksum';
// The bundle ends with this line (scripts/build.mjs): a hash of the rest, so a cache made for one build is never used
// for another of the same length (V8 itself compares only the length of the source).
const BUILD_ID_MARK = '\n//# keyrotBuild=';
// Two sources of one length: a cache of the first, offered for the second, tells whether V8's flags are back to what
// they were when the bundle was compiled (V8 compares lengths and flags only).
// Bytecode a run may compile beyond what its cache held before the cache is made again. Measured (Node 20): a rotation
// whose cache a rotation made still compiles about 210 KB (Node's own modules, the keychain binding's loader), a
// list-users about 160 KB, a status 190 KB; after a cache made by `rotate --help`, 540 KB; by `list-users --help`,
// 350 KB. A cache made by `rotate --dry-run` (280 KB) is kept: the rotation's own steps are a small part.
const OUTGROWN_BYTES = 300 * 1024;
const PROBE = ['"keyrot flags probe a"', '"keyrot flags probe b"'];

/** Node's own CommonJS wrapper, on the bundle's first line so that line numbers in stack traces stay the bundle's. */
function wrap(source) {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

/** What the start of a cache file must be for this bundle: its build, this V8, this CPU architecture. */
function cacheHeader(source) {
  const at = source.lastIndexOf(BUILD_ID_MARK);
  const id = at === -1 ? 'unknown' : source.slice(at + BUILD_ID_MARK.length).trim();
  return Buffer.from(`keyrot code cache 1 ${id} ${source.length} ${process.versions.v8} ${process.arch}\n`);
}

/**
 * Compiles and runs the bundle at `bundle` (throws ENOENT when it is missing) and returns its exports, and keep(code),
 * which writes the per-user cache after a successful run that had none, or that outgrew the one it had.
 */
function loadBundle(bundle, command, env) {
  // ASCII only (scripts/build.mjs): latin1 makes a one-byte string without decoding UTF-8.
  const fd = openSync(bundle, constants.O_RDONLY);
  let source;
  let bundleOwner;
  try {
    bundleOwner = fstatSync(fd).uid;
    source = readFileSync(fd, 'latin1');
  } finally {
    closeSync(fd);
  }
  const header = cacheHeader(source);
  const own = userCacheFile(bundle, command, env);
  const fromUser = own && ownFolder(own.dir) ? readCache(own.file, header, process.getuid()) : undefined;
  // The shipped cache: trusted as the bundle beside it is, so it must be the bundle owner's and writable by no one else.
  const cachedData = fromUser ?? readCache(`${bundle}.v8`, header, bundleOwner);
  setFlagsFromString(CHECKSUMS);
  let script;
  let probe;
  try {
    script = new Script(wrap(source), { filename: bundle, cachedData });
    probe = new Script(PROBE[0], { filename: 'keyrot-flags-probe-a' }).createCachedData();
  } finally {
    setFlagsFromString(NO_CHECKSUMS);
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  const used = fromUser !== undefined && !script.cachedDataRejected;
  const compiledAtStart = used ? compiledBytes() : 0;
  return {
    exports: module.exports,
    keep(code) {
      // A cache made by a run that did little (`list-users --help`, `rotate --dry-run`) is made again by a run that had
      // to compile much more than it held.
      if (code !== 0 || !own || (used && compiledBytes() - compiledAtStart < OUTGROWN_BYTES)) return;
      try {
        module.exports.restoreV8Defaults?.();
        setFlagsFromString(CHECKSUMS);
        try {
          // Flags that could not be put back would make V8 reject every cache made now: write none.
          if (new Script(PROBE[1], { filename: 'keyrot-flags-probe-b', cachedData: probe }).cachedDataRejected) return;
          writeOwnCache(own, header, script.createCachedData());
        } finally {
          setFlagsFromString(NO_CHECKSUMS);
        }
      } catch {
        // A cache that cannot be written (a read-only home, a full disk) only means the next run compiles again.
      }
    },
  };
}

/** The per-user cache of this bundle (by its path, so that two installs never take turns) and command, or null. */
function userCacheFile(bundle, command, env) {
  if (env.KEYROT_CODE_CACHE === '0' || typeof process.getuid !== 'function') return null;
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : env.HOME && isAbsolute(env.HOME) ? join(env.HOME, '.cache') : null;
  // Never in a folder of someone else's (sudo keeping the user's HOME): a root-owned folder there would be in its way.
  if (!base || !ownedHere(base)) return null;
  const name = /^[a-z][a-z-]{0,39}$/.test(command ?? '') ? command : '_';
  const dir = join(base, 'keyrot');
  return { dir, file: join(dir, `${fnv1a(bundle)}-${name}.v8`) };
}

/** A 32-bit FNV-1a hash of a string, as 8 hex digits: a short, stable file name for a path. */
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/**
 * `path` is a folder of this user's, or is missing from a folder of this user's (where it would be made). Not a link:
 * root keeping another user's HOME would otherwise follow her ~/.cache wherever she pointed it.
 */
function ownedHere(path) {
  const own = (p) => {
    const st = lstatSync(p);
    return st.isDirectory() && st.uid === process.getuid();
  };
  try {
    return own(path);
  } catch {
    try {
      return own(dirname(path));
    } catch {
      return false;
    }
  }
}

/** Bytecode in the heap: what this run compiled beyond what its cache held shows as growth. */
function compiledBytes() {
  return getHeapCodeStatistics().bytecode_and_metadata_size;
}

/** The folder is a real folder of this user's that no one else can write to. */
function ownFolder(dir) {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** The cache in `file` (not a link, a file of `owner`'s that no one else can write to) if it is for this header. */
function readCache(file, header, owner) {
  try {
    // O_NONBLOCK: a FIFO put in the file's place would otherwise hold open() until a writer came, forever.
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      // Checked on the open file, not its name: what is checked is what is read.
      const st = fstatSync(fd);
      if (!st.isFile() || st.uid !== owner || (st.mode & 0o022) !== 0) return undefined;
      return withHeader(readFileSync(fd), header);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function withHeader(data, header) {
  return data.length > header.length && data.subarray(0, header.length).equals(header) ? data.subarray(header.length) : undefined;
}

function writeOwnCache({ dir, file }, header, data) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!ownFolder(dir)) return;
  // Written aside and renamed over: a run that reads it at the same moment gets the old file or the new, never half.
  // One name per cache file, taken over by the next write: a run killed while writing leaves one file at most, not one
  // per run. Two runs writing at once may mix their bytes; V8's checksum then rejects the result and it is made again.
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
  let open = true;
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid()) throw new Error('not a file of the user\'s own');
    fchmodSync(fd, 0o600);
    const whole = Buffer.concat([header, data]);
    for (let done = 0; done < whole.length; ) done += writeSync(fd, whole, done);
    closeSync(fd);
    open = false;
    renameSync(tmp, file);
  } catch (err) {
    // Nothing left behind: a write or a rename that fails (a folder in the file's place) would leave one per run.
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
}

module.exports = { BUILD_ID_MARK, cacheHeader, loadBundle, userCacheFile, wrap };
