// The runners' command lines: bad flags and bad checkpoints end in a one-line error and a
// non-zero exit before any work, and leave no file half-written.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIdx } from '../src/data/mnist.js';
import { checkReportNumbers } from './reportcheck.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const t = suite('runners');
const made: string[] = [];
const mkdtemp = (prefix: string) => {
  const dir = mkdtempSync(prefix);
  made.push(dir);
  return dir;
};
t.after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(script: string, args: string[], timeout = 240_000) {
  const r = spawnSync(process.execPath, [join(root, 'runners', script), ...args], { encoding: 'utf8', timeout });
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
  return { code: r.status, stderr: r.stderr, stdout: r.stdout, errors };
}

/** An MNIST UNet small enough to train `steps` steps and score its samples in seconds. */
const tinyMnist = (steps: string) => [
  ...['--steps', steps, '--batch', '8', '--T', '8', '--channels', '8,8,16,16'],
  ...['--embed', '16', '--groups', '4', '--eval-samples', '20'],
];

const badFlags: [string, string[], RegExp][] = [
  ['sweep-T.js', ['--T', '0'], /--T 0: expected at least 1/],
  ['sweep-T.js', ['--T', 'abc'], /--T "abc": expected an integer/],
  ['sweep-T.js', ['--samples', '-1'], /--samples -1: expected at least 1/],
  ['sweep-T.js', ['--T', '5,5'], /values repeat/],
  ['sweep-T.js', ['--bogus'], /unknown flag --bogus/],
  ['trajectory.js', ['--steps', '2.5'], /--steps "2.5": expected an integer/],
  ['guidance.js', ['--variance', 'wide'], /expected one of beta, posterior/],
  ['guidance.js', ['--w'], /--w needs a value/],
  ['guidance.js', ['--strengths', '1,x'], /--strengths "x": expected a number/],
  ['guidance.js', ['--mode', 'both'], /expected one of cfg, classifier/],
  ['report.js', ['--in'], /--in needs a value/],
  ['train-mnist.js', ['--T', '4'], /--T 4: expected at least 8/],
  ['train-mnist.js', ['--guidance', 'strong'], /--guidance "strong": expected a number/],
  ['sweep-T.js', ['--seed', '0x10'], /--seed "0x10": expected an integer \(decimal digits/],
  ['sweep-T.js', ['--seed', '0b11'], /--seed "0b11": expected an integer/],
  ['trajectory.js', ['--seed', ' 7 '], /--seed " 7 ": expected an integer/],
  ['guidance.js', ['--samples', '1e3'], /--samples "1e3": expected an integer/],
  ['sweep-T.js', ['--steps', '1e20'], /--steps "1e20": expected an integer/],
  ['sweep-T.js', ['--steps', '100000000000000000000'], /--steps "100000000000000000000": expected an integer/],
  ['sweep-T.js', ['--steps', '20000000'], /--steps 20000000: expected at most 10000000/],
  ['guidance.js', ['--lr', '0x10'], /--lr "0x10": expected a number/],
  ['sweep-T.js', ['--seed', '1', '--seed', '2'], /--seed "1" is given again as --seed "2": give it once/],
  ['trajectory.js', ['--retrain', '--retrain'], /--retrain is given again as --retrain/],
  ['train-mnist.js', ['--channels', '8,8,8'], /--channels 8,8,8: expected four widths/],
  ['train-mnist.js', ['--embed', '63'], /--embed 63: expected an even width/],
  [
    'train-mnist.js',
    ['--channels', '8,8,10,16', '--groups', '4'],
    /--channels 8,8,10,16: 10 does not split into --groups 4/,
  ],
];

for (const [script, args, pattern] of badFlags) {
  t(`${script} ${args.join(' ')} exits 2 with one error line and the usage line`, () => {
    const out = mkdtemp(join(tmpdir(), 'runner-'));
    const r = run(script, [...args, '--out', out, '--models', out]);
    assert.is(r.code, 2, r.stderr);
    assert.is(r.errors.length, 1, r.stderr);
    assert.match(r.errors[0], pattern);
    assert.match(r.stderr, /usage: node runners\//);
    assert.equal(readdirSync(out), [], 'nothing written');
  });
}

t('--help prints every flag and exits 0', () => {
  const r = run('sweep-T.js', ['--help']);
  assert.is(r.code, 0);
  for (const flag of ['--T', '--samples', '--seed', '--out', '--steps', '--retrain'])
    assert.ok(r.stdout.includes(flag), flag);
});

t('an unreadable checkpoint stops the run with an error naming it, and is left as it was', () => {
  const dir = mkdtemp(join(tmpdir(), 'runner-'));
  const path = join(dir, 'model-T5.safetensors');
  writeFileSync(path, 'not a checkpoint');
  // What a write killed mid-way leaves (pid 4194305 is above Linux's pid_max, so never alive).
  const stale = join(dir, '.model-T5.progress.safetensors.4194305.1764680000000.tmp');
  writeFileSync(stale, new Uint8Array(100));
  const r = run('sweep-T.js', [
    '--T',
    '5',
    '--steps',
    '1',
    '--samples',
    '10',
    '--models',
    dir,
    '--out',
    join(dir, 'out'),
  ]);
  assert.is(r.code, 1, r.stderr);
  assert.is(r.errors.length, 1, r.stderr);
  assert.ok(r.errors[0].includes(path), r.errors[0]);
  assert.is(readFileSync(path, 'utf8'), 'not a checkpoint');
  assert.ok(!existsSync(join(dir, 'out')), 'the output folder the failed run created is removed');
  assert.ok(
    readdirSync(dir).every((f) => !f.endsWith('.tmp')),
    'the stale temporary file is removed',
  );
  assert.ok(r.stderr.includes(`note: removed ${stale}`), r.stderr);
});

t('a folder where the checkpoint should be is named in the error', () => {
  const dir = mkdtemp(join(tmpdir(), 'runner-'));
  const path = join(dir, 'model-T5.safetensors');
  mkdirSync(path);
  const r = run('sweep-T.js', [
    '--T',
    '5',
    '--steps',
    '1',
    '--samples',
    '10',
    '--models',
    dir,
    '--out',
    join(dir, 'out'),
  ]);
  assert.is(r.code, 1, r.stderr);
  assert.is(r.errors[0], `error: ${path}: is a folder, expected a safetensors file`);
  assert.ok(!existsSync(join(dir, 'out')));
});

const deviceRunners = ['sweep-T.js', 'trajectory.js', 'guidance.js', 'train-mnist.js'];
for (const script of deviceRunners) {
  t(`${script} --out /proc/x or --models FILE exits at once naming the path, and creates nothing`, () => {
    const dir = mkdtemp(join(tmpdir(), 'runner-'));
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const fresh = join(dir, 'fresh', 'deeper');
    for (const [args, path] of [
      [['--out', '/proc/x', '--models', fresh], '/proc/x'],
      [['--out', '/proc/x/y/z', '--models', fresh], '/proc/x/y/z'],
      [['--out', fresh, '--models', file], file],
      [['--out', fresh, '--models', join(file, 'sub')], file],
    ] as const) {
      const t0 = Date.now();
      const r = run(script, [...args], 20_000);
      assert.ok(r.code !== null && r.code !== 0, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
      assert.ok(Date.now() - t0 < 15_000, `${args.join(' ')}: took ${Date.now() - t0} ms`);
      assert.is(r.errors.length, 1, r.stderr);
      assert.ok(r.errors[0].includes(path), r.errors[0]);
      assert.equal(readdirSync(dir), ['a-file'], `${args.join(' ')}: nothing created`);
      assert.not.ok(existsSync('/proc/x'));
    }
  });
}

t('report.js --in FILE says the path is a file', () => {
  const dir = mkdtemp(join(tmpdir(), 'runner-'));
  const file = join(dir, 'metrics.json');
  writeFileSync(file, '{}');
  const r = run('report.js', ['--in', file]);
  assert.is(r.code, 1, r.stderr);
  assert.is(r.errors[0], `error: --in ${file}: is a file, expected the folder the runners wrote to (out/ by default)`);
});

t('a checkpoint of other settings is refused without --retrain, then replaced with it', () => {
  const dir = mkdtemp(join(tmpdir(), 'runner-'));
  const common = ['--T', '5', '--samples', '20', '--batch', '32', '--models', dir, '--out', join(dir, 'out')];
  const first = run('sweep-T.js', [...common, '--steps', '2']);
  assert.is(first.code, 0, first.stderr);
  const saved = readFileSync(join(dir, 'model-T5.safetensors'));
  const second = run('sweep-T.js', [...common, '--steps', '3']);
  assert.is(second.code, 1, second.stderr);
  assert.match(second.errors[0], /other settings \(steps "2", wanted "3"\).*--retrain/);
  assert.ok(readFileSync(join(dir, 'model-T5.safetensors')).equals(saved));
  const third = run('sweep-T.js', [...common, '--steps', '3', '--retrain']);
  assert.is(third.code, 0, third.stderr);
  assert.not.ok(readFileSync(join(dir, 'model-T5.safetensors')).equals(saved));
  const reuse = run('sweep-T.js', [...common, '--steps', '3']);
  assert.is(reuse.code, 0, reuse.stderr);
  assert.match(reuse.stderr, /reusing/);
});

t(
  'report.js writes the report from a sweep, marks the targets an undertrained model misses, and names a bad input',
  () => {
    const dir = mkdtemp(join(tmpdir(), 'runner-'));
    const sweep = run('sweep-T.js', [
      '--T',
      '5',
      '--steps',
      '2',
      '--samples',
      '50',
      '--batch',
      '32',
      '--models',
      dir,
      '--out',
      join(dir, 'sweep-T'),
    ]);
    assert.is(sweep.code, 0, sweep.stderr);
    const r = run('report.js', ['--in', dir, '--no-run']);
    assert.is(r.code, 0, r.stderr);
    assert.equal(readdirSync(join(dir, 'report')).sort(), ['report.html', 'report.md', 'report.pdf']);
    const text = readFileSync(join(dir, 'report', 'report.md'), 'utf8');
    const html = readFileSync(join(dir, 'report', 'report.html'), 'utf8');
    assert.match(html, /<img src="data:image\/png;base64,/);
    assert.ok(
      readFileSync(join(dir, 'report', 'report.pdf'))
        .subarray(0, 5)
        .toString() === '%PDF-',
      'a PDF',
    );
    assert.match(text, /\| 5 \| 2 \| /);
    // The numbers on the page are the metrics' own.
    const m = JSON.parse(readFileSync(join(dir, 'sweep-T', 'metrics.json'), 'utf8')).models[0];
    assert.ok(
      text.includes(`| ${m.metrics.meanLogDensity.toFixed(3)} | ${m.exactScoreSampler.meanLogDensity.toFixed(3)} |`),
      text,
    );
    assert.match(html, /<h2[^>]*>The model and the code<\/h2>/);
    assert.match(html, /<h2[^>]*>Sweep over T \(SPEC 6\.2\)<\/h2>/);
    assert.match(html, /<h2[^>]*>Known limitations<\/h2>/);
    assert.match(
      text,
      /\| T = 5: mode weights within 0\.02 of 0\.35 \/ 0\.65 \| [0-9.]+ \/ [0-9.]+ \| (met|\*\*not met\*\*) \|/,
    );
    assert.match(text, /\(\.\.\/sweep-T\/sweep-T\.png\)/);
    assert.match(text, /missing: `node runners\/trajectory\.js`/);
    writeFileSync(join(dir, 'sweep-T', 'metrics.json'), '{ truncated');
    const bad = run('report.js', ['--in', dir, '--out', join(dir, 'again'), '--no-run']);
    assert.is(bad.code, 1, bad.stderr);
    assert.ok(bad.errors[0].includes(join(dir, 'sweep-T', 'metrics.json')), bad.errors[0]);
    assert.ok(!existsSync(join(dir, 'again')));
    const none = run('report.js', ['--in', join(dir, 'nowhere'), '--no-run']);
    assert.is(none.code, 1);
    assert.match(none.errors[0], /--in .*nowhere: no such folder/);
  },
);

t(
  'report.js --quick runs what is missing; one page per problem with its figures; every number is from metrics.json',
  () => {
    const dir = mkdtemp(join(tmpdir(), 'report-'));
    const two = ['--steps', '20', '--batch', '32', '--models', dir];
    const runs: [string, string[]][] = [
      ['sweep-T.js', ['--T', '5,10', '--samples', '200', ...two, '--out', join(dir, 'sweep-T')]],
      ['guidance.js', ['--T', '10', '--samples', '200', ...two, '--out', join(dir, 'guidance')]],
      [
        'guidance.js',
        [
          '--mode',
          'classifier',
          '--T',
          '10',
          '--samples',
          '200',
          '--classifier-steps',
          '100',
          ...two,
          '--out',
          join(dir, 'guidance-classifier'),
        ],
      ],
      ['train-mnist.js', [...tinyMnist('10'), '--models', dir, '--out', join(dir, 'mnist')]],
    ];
    for (const [script, args] of runs) {
      const r = run(script, args);
      assert.is(r.code, 0, `${script}: ${r.stderr}`);
    }
    // The trajectory is missing: the quick report runs it (with the quick settings) before it writes.
    const r = run('report.js', ['--in', dir, '--quick'], 420_000);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /report: running node runners\/trajectory\.js \(quick\)/);
    assert.not.match(r.stderr, /running node runners\/(sweep-T|guidance|train-mnist)/);
    const out = join(dir, 'report');
    const text = readFileSync(join(out, 'report.md'), 'utf8');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const pdf = readFileSync(join(out, 'report.pdf')).toString('latin1');
    // One page per problem, in the assignment's order, each marked quick.
    const pages = [...html.matchAll(/<h2[^>]*>([^<]+)<\/h2>/g)].map((m) => m[1]);
    assert.equal(pages, [
      'The model and the code',
      'One trajectory over the learned densities (SPEC 6.1)',
      'Sweep over T (SPEC 6.2)',
      'Guidance (SPEC 6.3)',
      'MNIST (SPEC 6.4)',
      'Known limitations',
    ]);
    assert.is(text.split('*Quick run: short trainings').length - 1, pages.length);
    assert.ok(pdf.startsWith('%PDF-'));
    const pdfPages = (pdf.match(/\/Type\s*\/Page\b/g) ?? []).length;
    // Each problem fits its page: none runs over onto a second.
    assert.is(pdfPages, pages.length, `${pdfPages} PDF pages for ${pages.length} problems`);
    // Every figure, embedded.
    for (const figure of [
      'trajectory/trajectory.png',
      'sweep-T/sweep-T.png',
      'guidance/guidance.png',
      'guidance-classifier/guidance.png',
      'mnist/digits.png',
      'mnist/trajectory.png',
      'mnist/emergence.png',
    ])
      assert.ok(text.includes(`../${figure}`), `figure ${figure} in the report`);
    assert.is(html.split('src="data:image/png;base64,').length - 1, 7);
    assert.not.match(html, /<img src="(?!data:)/);
    // The report is the one composeReport writes from the metrics the runners left, and every
    // number in it moves with the measurements or is a setting or a constant.
    const { outputs, checked, numbered, skipped, unexplained } = checkReportNumbers(dir, text);
    assert.equal(unexplained, []);
    // Lines whose words follow the numbers (met / not met, rises / falls) change with them; most do not.
    assert.ok(checked >= 0.8 * numbered, `only ${checked} of ${numbered} lines compared:\n${skipped.join('\n')}`);
    // And the measured numbers themselves are on their pages.
    const tr = outputs.trajectory!;
    for (const d of tr.densities)
      assert.ok(text.includes(`| ${d.t} | ${d.fromData.toFixed(3)} | ${d.fromNoise.toFixed(3)} |`), `t = ${d.t}`);
    for (const s of outputs.classifier!.strengths.filter((x) => x.guidance === 'classifier'))
      assert.ok(text.includes(`${(100 * s.labels[0].inMode).toFixed(2)} %`), `classifier s = ${s.w}`);
    assert.equal(
      outputs.guidance!.strengths.map((s) => s.w),
      [0, 0.5, 1, 2, 5],
    );
    assert.ok(text.includes(`reads ${(100 * outputs.mnist!.accuracy).toFixed(2)} % of the samples`));
  },
);

t('train-mnist.js trains, draws the digit grid and a trajectory, measures them, and reuses its checkpoint', () => {
  const dir = mkdtemp(join(tmpdir(), 'runner-'));
  const small = [...tinyMnist('20'), '--per-digit', '2', '--models', dir, '--out', join(dir, 'out')];
  const first = run('train-mnist.js', small);
  assert.is(first.code, 0, first.stderr);
  assert.equal(readdirSync(join(dir, 'out')).sort(), [
    'digits.png',
    'emergence.png',
    'metrics.json',
    'samples-images.idx3-ubyte',
    'samples-labels.idx1-ubyte',
    'trajectory.png',
  ]);
  const metrics = JSON.parse(readFileSync(join(dir, 'out', 'metrics.json'), 'utf8'));
  assert.ok(metrics.trained && metrics.accuracy >= 0 && metrics.accuracy <= 1, JSON.stringify(metrics));
  assert.is(metrics.accuracyPerDigit.length, 10);
  assert.ok(Number.isFinite(metrics.frechetDistance) && metrics.frechetFloor >= 0, 'Frechet distances');
  assert.ok(metrics.emergence.t.length === 8 && /^(all at once|part by part)/.test(metrics.emergence.answer));
  const images = parseIdx(readFileSync(join(dir, 'out', 'samples-images.idx3-ubyte')), 'samples');
  assert.equal(images.dims, [20, 28, 28]);
  const labels = parseIdx(readFileSync(join(dir, 'out', 'samples-labels.idx1-ubyte')), 'labels');
  assert.equal(
    Array.from(labels.data),
    Array.from({ length: 20 }, (_, i) => i % 10),
  );
  assert.ok(existsSync(join(dir, 'mnist-T8-8-8-16-16-e16.safetensors')));
  const again = run('train-mnist.js', [...small, '--sampler', 'ddim', '--sample-steps', '4']);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /reusing/);
  const ddim = JSON.parse(readFileSync(join(dir, 'out', 'metrics.json'), 'utf8'));
  assert.equal(
    [ddim.trained, ddim.sampler.kind, ddim.sampler.steps, ddim.emergence.t],
    [false, 'ddim', 4, [8, 6, 4, 2]],
  );
  // A data folder with a truncated images file: refused by name before any training.
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(
    join(data, 'train-images-idx3-ubyte'),
    Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2]),
  );
  writeFileSync(
    join(data, 'train-labels-idx1-ubyte'),
    Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
  );
  const truncated = run('train-mnist.js', [...small, '--data', data, '--retrain']);
  assert.is(truncated.code, 1);
  assert.match(truncated.errors[0], /train-images-idx3-ubyte: dimensions 9x28x28 need 7072 bytes, the file has 18/);
  assert.not.match(truncated.stderr, /train MNIST/);
  const missing = run('train-mnist.js', [...small, '--data', join(dir, 'out'), '--retrain']);
  assert.is(missing.code, 1);
  assert.match(missing.errors[0], /MNIST file .*train-images-idx3-ubyte cannot be read/);
  const bad = run('train-mnist.js', [...small.slice(0, 6), ...small.slice(8), '--channels', '8,8,10,16']);
  assert.is(bad.code, 2);
  assert.match(bad.errors[0], /--channels 8,8,10,16: 10 does not split into --groups 4/);
});

t.run();
