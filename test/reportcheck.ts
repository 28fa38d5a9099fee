// The report's numbers against the runners' metrics.json: the report is recomposed from the
// metrics a folder holds, then again from a copy whose every measured number is scaled, and each
// number of the text must move with them unless it is a setting, a label or a constant of the study.
import { join } from 'node:path';
import { MIXTURE } from '../src/data/mixture.js';
import { TRUE_MEAN_LOG_DENSITY } from '../src/diffusion/metrics.js';
import { composeReport, TARGETS, type Figures, type StudyOutputs } from '../src/study/report.js';
import { readMetrics } from '../src/study/schema.js';

/** Numbers as the report writes them: integers, decimals, exponents ("1.2e-4"). */
const NUMBER = /-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/g;
/** Keys whose numbers are settings or labels, not measurements: a perturbation leaves them alone. */
const FIXED_KEYS = new Set([
  'settings',
  'n',
  'count',
  'T',
  't',
  'label',
  'w',
  'guidance',
  'steps',
  'eta',
  'samples',
  'tolerance',
  'start',
]);

/**
 * A copy of the outputs with every measured number (outside FIXED_KEYS) scaled by its own factor
 * in 1.1-1.5 (drawn from `seed`), and the formatted forms of every number left fixed.
 */
function perturb(o: StudyOutputs, seed: number): { changed: StudyOutputs; fixed: Set<string> } {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const fixed = new Set<string>();
  const keep = (v: number) => {
    fixed.add(String(v));
    for (let d = 0; d <= 4; d++) fixed.add(v.toFixed(d));
    fixed.add((100 * v).toFixed(2));
  };
  const walk = (v: unknown, frozen: boolean): unknown => {
    // A sentence the runner wrote (the emergence answer) carries its own numbers.
    if (typeof v === 'string') for (const n of v.match(NUMBER) ?? []) fixed.add(n);
    if (typeof v === 'number') {
      if (frozen) keep(v);
      return frozen ? v : v * (1.1 + 0.4 * next());
    }
    if (Array.isArray(v)) return v.map((e) => walk(e, frozen));
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, walk(e, frozen || FIXED_KEYS.has(k))]));
    return v;
  };
  // The top level's keys name runners (one is "guidance"), not fields.
  const changed = Object.fromEntries(Object.entries(o).map(([k, v]) => [k, walk(v, false)])) as unknown as StudyOutputs;
  return { changed, fixed };
}

export interface NumberCheck {
  outputs: StudyOutputs;
  /** Lines with numbers, and those compared (the rest changed their words with the numbers). */
  numbered: number;
  checked: number;
  skipped: string[];
  /** Numbers that stayed when the measurements moved and are no setting or constant. */
  unexplained: string[];
}

/**
 * Checks the report `text` written from the runners' folders under `dir` (sweep-T, trajectory,
 * guidance, guidance-classifier, mnist; figures at ../<folder>/<file>.png, as report.js writes).
 */
export function checkReportNumbers(dir: string, text: string): NumberCheck {
  const outputs: StudyOutputs = {
    sweep: readMetrics(join(dir, 'sweep-T'), 'sweep-T'),
    trajectory: readMetrics(join(dir, 'trajectory'), 'trajectory'),
    guidance: readMetrics(join(dir, 'guidance'), 'guidance'),
    classifier: readMetrics(join(dir, 'guidance-classifier'), 'guidance'),
    mnist: readMetrics(join(dir, 'mnist'), 'train-mnist'),
  };
  const rel = (d: string, f: string) => `../${d}/${f}`;
  const figures: Figures = {
    sweep: rel('sweep-T', 'sweep-T.png'),
    trajectory: rel('trajectory', 'trajectory.png'),
    guidance: rel('guidance', 'guidance.png'),
    classifier: rel('guidance-classifier', 'guidance.png'),
    mnistDigits: rel('mnist', 'digits.png'),
    mnistTrajectory: rel('mnist', 'trajectory.png'),
    mnistEmergence: rel('mnist', 'emergence.png'),
  };
  // The header line names the date and folder; the rest must be composeReport's, number for number.
  const body = (s: string) => s.split('\n').slice(3).join('\n');
  const mine = composeReport(outputs, figures, 'header', true).markdown;
  if (body(mine) !== body(text)) throw new Error('report.md is not what composeReport writes from the metrics');
  const fixed = new Set<string>();
  const constants = [
    ...MIXTURE.components.flatMap((c) => [c.weight, ...c.mean]),
    MIXTURE.sigma,
    TRUE_MEAN_LOG_DENSITY,
    ...Object.values(TARGETS).flat(),
  ];
  for (const v of constants)
    for (const s of [String(v), v.toFixed(3), (100 * v).toFixed(2), (100 * v).toFixed(0)]) fixed.add(s);
  for (const s of ['6.1', '6.2', '6.3', '6.4']) fixed.add(s); // SPEC's sections
  // Figure paths and adapter names are not numbers of the study.
  const adapters = [...new Set(Object.values(outputs).map((o) => (o as { adapter?: string } | null)?.adapter))];
  const strip = (line: string) =>
    adapters
      .filter((x): x is string => !!x)
      .reduce((l, x) => l.split(x).join('ADAPTER'), line)
      .replace(/\([^)]*\.png\)|src="[^"]*"/g, '');
  const a = body(mine).split('\n').map(strip);
  // Three perturbations, so that a ratio of two numbers does not stay put by chance in all of them.
  const runs = [12345, 67890, 24680].map((seed) => {
    const { changed, fixed: kept } = perturb(outputs, seed);
    for (const v of kept) fixed.add(v);
    const b = body(composeReport(changed, figures, 'header', true).markdown)
      .split('\n')
      .map(strip);
    if (a.length !== b.length) throw new Error(`the perturbed report has ${b.length} lines, the report ${a.length}`);
    return b;
  });
  const result: NumberCheck = { outputs, numbered: 0, checked: 0, skipped: [], unexplained: [] };
  for (let i = 0; i < a.length; i++) {
    const na = a[i].match(NUMBER) ?? [];
    if (na.length === 0) continue;
    result.numbered++;
    // The runs whose line kept its words; in them, each number must move at least once.
    const same = runs.map((b) => b[i]).filter((l) => l.replace(NUMBER, '#') === a[i].replace(NUMBER, '#'));
    if (same.length === 0) {
      result.skipped.push(a[i]);
      continue;
    }
    result.checked++;
    na.forEach((v, k) => {
      const stayed = same.every((l) => l.match(NUMBER)![k] === v);
      if (stayed && !fixed.has(v.replace(/^-/, ''))) result.unexplained.push(`"${v}" in "${a[i]}"`);
    });
  }
  return result;
}
