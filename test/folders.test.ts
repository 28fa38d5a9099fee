// Output folders: created one component at a time, refused at once when impossible (under
// /proc, through a file, not writable), nothing left behind; stale temporary files cleaned up.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFolder, prepareFolders, removeEmptyFolders } from '../src/io/folders.js';
import { removeStaleTemporaries, writeFileAtomic } from '../src/io/atomic.js';

const t = suite('folders');
const made: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'folders-'));
  made.push(dir);
  return dir;
};
t.after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

t('missing components are created outermost first, and returned for removal', () => {
  const dir = tmp();
  const created = prepareFolders([
    { what: '--out', path: join(dir, 'a', 'b') },
    { what: '--models', path: join(dir, 'a', 'c') },
  ]);
  assert.equal(created, [join(dir, 'a'), join(dir, 'a', 'b'), join(dir, 'a', 'c')]);
  writeFileSync(join(dir, 'a', 'c', 'kept'), '');
  removeEmptyFolders(created);
  assert.equal(readdirSync(join(dir, 'a')), ['c'], 'a folder holding a file stays, with its parents');
  assert.equal(prepareFolders([{ what: '--out', path: dir }]), [], 'an existing folder creates nothing');
});

t('an impossible path is refused at once by name, and nothing of any folder is created', () => {
  const dir = tmp();
  const file = join(dir, 'file');
  writeFileSync(file, '');
  const cases: [string, RegExp][] = [
    ['/proc/x', /^--out \/proc\/x: cannot create the folder \/proc\/x \(ENOENT\)$/],
    ['/proc/x/y', /^--out \/proc\/x\/y: cannot create the folder \/proc\/x \(ENOENT\)$/],
    [file, new RegExp(`^--out ${file}: is a file, expected a folder$`)],
    [join(file, 'sub'), new RegExp(`^--out ${file}/sub: ${file} is a file, expected a folder$`)],
  ];
  for (const [path, problem] of cases) {
    const t0 = Date.now();
    assert.throws(
      () =>
        prepareFolders([
          { what: '--models', path: join(dir, 'models', 'deep') },
          { what: '--out', path },
        ]),
      problem,
    );
    assert.ok(Date.now() - t0 < 2000, `${path}: ${Date.now() - t0} ms`);
    assert.equal(readdirSync(dir), ['file'], `${path}: the models folder made first is removed again`);
  }
  assert.throws(() => ensureFolder('/proc/x', '--models'), /--models \/proc\/x: cannot create/);
  assert.not.ok(existsSync('/proc/x'));
});

t('stale temporary files of killed writes are removed; a running writer keeps its own', () => {
  const dir = tmp();
  writeFileAtomic(join(dir, 'model.safetensors'), 'whole');
  const dead = '.model.safetensors.4194305.1764680000000.tmp'; // above Linux's pid_max
  const mine = `.model.safetensors.${process.pid}.1764680000000.tmp`; // this process has not written one
  const running = `.model.safetensors.${process.ppid}.1764680000000.tmp`; // the parent is alive
  for (const name of [dead, mine, running, '.model.safetensors.tmp', 'notes.tmp']) writeFileSync(join(dir, name), '');
  assert.equal(removeStaleTemporaries(dir).sort(), [join(dir, dead), join(dir, mine)].sort());
  assert.equal(readdirSync(dir).sort(), ['.model.safetensors.tmp', running, 'model.safetensors', 'notes.tmp'].sort());
});

t.run();
