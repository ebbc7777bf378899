/**
 * A compact L-BFGS minimiser with a strong-Wolfe line search, stopping as SciPy's L-BFGS-B does for
 * scikit-learn (largest gradient component ≤ gtol, or relative decrease of f ≤ ftol, or maxIter).
 */

/** Computes f(x), writing ∇f(x) into `grad`. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

/** Settings; the defaults are scikit-learn's for LogisticRegression(solver="lbfgs"). */
export interface LbfgsOptions {
  /** Pairs of correction vectors kept (SciPy's maxcor). */
  memory?: number;
  maxIter?: number;
  gtol?: number;
  ftol?: number;
  /** Called after each iteration with its number (1-based), f and the largest gradient component. */
  onIteration?: (iter: number, f: number, gmax: number) => void;
}

/** The outcome: the point found, its value, iterations done and why it stopped. */
export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  reason: "gtol" | "ftol" | "maxIter" | "lineSearch";
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// y += a x
function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i]! += a * x[i]!;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]!);
    if (v > m) m = v;
  }
  return m;
}

/** Minimises `fg` from `x0` (not modified). */
export function lbfgs(fg: Objective, x0: Float64Array, opts: LbfgsOptions = {}): LbfgsResult {
  const m = opts.memory ?? 10;
  const maxIter = opts.maxIter ?? 100;
  const gtol = opts.gtol ?? 1e-4;
  const ftol = opts.ftol ?? 64 * Number.EPSILON;
  const n = x0.length;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let evaluations = 1;
  let f = fg(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const d = new Float64Array(n);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  let iter = 0;
  if (maxAbs(g) <= gtol) return { x, f, iterations: 0, evaluations, converged: true, reason: "gtol" };
  while (iter < maxIter) {
    // Two-loop recursion: d = -H g with H0 = (s'y / y'y) I.
    for (let i = 0; i < n; i++) d[i] = -g[i]!;
    const k = S.length;
    for (let j = k - 1; j >= 0; j--) {
      alpha[j] = rho[j]! * dot(S[j]!, d);
      axpy(-alpha[j]!, Y[j]!, d);
    }
    if (k > 0) {
      const gamma = 1 / (rho[k - 1]! * dot(Y[k - 1]!, Y[k - 1]!));
      for (let i = 0; i < n; i++) d[i]! *= gamma;
    }
    for (let j = 0; j < k; j++) {
      axpy(alpha[j]! - rho[j]! * dot(Y[j]!, d), S[j]!, d);
    }
    let dg = dot(d, g);
    if (!(dg < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i]!;
      dg = dot(d, g);
    }
    // As SciPy: the first step has length 1 along -g; later ones try the full quasi-Newton step.
    const step0 = S.length === 0 ? 1 / Math.sqrt(dot(d, d)) : 1;
    const ls = lineSearch(fg, x, f, d, dg, step0, xNew, gNew);
    evaluations += ls.evaluations;
    if (!ls.ok) return { x, f, iterations: iter, evaluations, converged: false, reason: "lineSearch" };
    iter++;
    const fOld = f;
    f = ls.f;
    // Store the new correction pair, recycling the oldest arrays once memory is full.
    const s = S.length === m ? S.shift()! : new Float64Array(n);
    const y = Y.length === m ? Y.shift()! : new Float64Array(n);
    if (rho.length === m) rho.shift();
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i]! - x[i]!;
      y[i] = gNew[i]! - g[i]!;
    }
    x.set(xNew);
    g.set(gNew);
    const sy = dot(s, y);
    if (sy > Number.EPSILON * dot(y, y)) {
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    const gmax = maxAbs(g);
    opts.onIteration?.(iter, f, gmax);
    if (gmax <= gtol) return { x, f, iterations: iter, evaluations, converged: true, reason: "gtol" };
    if ((fOld - f) / Math.max(Math.abs(fOld), Math.abs(f), 1) <= ftol)
      return { x, f, iterations: iter, evaluations, converged: true, reason: "ftol" };
  }
  return { x, f, iterations: iter, evaluations, converged: false, reason: "maxIter" };
}

interface LineSearchResult {
  ok: boolean;
  f: number;
  evaluations: number;
}

/**
 * Finds a step t along d meeting the strong Wolfe conditions (c1 = 1e-3, c2 = 0.9, as SciPy's dcsrch
 * is called), by bracketing then zooming with safeguarded cubic interpolation. Leaves x + t d in
 * xNew and its gradient in gNew.
 */
function lineSearch(
  fg: Objective,
  x: Float64Array,
  f0: number,
  d: Float64Array,
  dg0: number,
  t0: number,
  xNew: Float64Array,
  gNew: Float64Array,
): LineSearchResult {
  const c1 = 1e-3;
  const c2 = 0.9;
  const maxEval = 50;
  let evaluations = 0;
  const evalAt = (t: number): { f: number; dg: number } => {
    for (let i = 0; i < x.length; i++) xNew[i] = x[i]! + t * d[i]!;
    evaluations++;
    const f = fg(xNew, gNew);
    return { f, dg: dot(gNew, d) };
  };
  let tPrev = 0;
  let fPrev = f0;
  let dgPrev = dg0;
  let t = t0;
  let lo = 0;
  let hi = 0;
  let fLo = f0;
  let dgLo = dg0;
  let fHi = 0;
  let dgHi = 0;
  let bracketed = false;
  while (evaluations < maxEval) {
    const { f, dg } = evalAt(t);
    if (!Number.isFinite(f) || f > f0 + c1 * t * dg0 || (evaluations > 1 && f >= fPrev)) {
      lo = tPrev;
      fLo = fPrev;
      dgLo = dgPrev;
      hi = t;
      fHi = f;
      dgHi = dg;
      bracketed = true;
      break;
    }
    if (Math.abs(dg) <= -c2 * dg0) return { ok: true, f, evaluations };
    if (dg >= 0) {
      lo = t;
      fLo = f;
      dgLo = dg;
      hi = tPrev;
      fHi = fPrev;
      dgHi = dgPrev;
      bracketed = true;
      break;
    }
    tPrev = t;
    fPrev = f;
    dgPrev = dg;
    t *= 4;
  }
  if (!bracketed) return { ok: false, f: f0, evaluations };
  // Zoom: lo always satisfies sufficient decrease and has the lowest f seen in the bracket.
  while (evaluations < maxEval) {
    const a = Math.min(lo, hi);
    const b = Math.max(lo, hi);
    let tc = Number.isFinite(fHi) ? cubicMin(lo, fLo, dgLo, hi, fHi, dgHi) : Number.NaN;
    const margin = 0.1 * (b - a);
    if (!(tc > a + margin && tc < b - margin)) tc = (lo + hi) / 2;
    const { f, dg } = evalAt(tc);
    if (!Number.isFinite(f) || f > f0 + c1 * tc * dg0 || f >= fLo) {
      hi = tc;
      fHi = f;
      dgHi = dg;
    } else {
      if (Math.abs(dg) <= -c2 * dg0) return { ok: true, f, evaluations };
      if (dg * (hi - lo) >= 0) {
        hi = lo;
        fHi = fLo;
        dgHi = dgLo;
      }
      lo = tc;
      fLo = f;
      dgLo = dg;
    }
    if (Math.abs(hi - lo) <= 1e-16 * Math.max(1, Math.abs(lo))) break;
  }
  // Out of evaluations: accept the best point if it lowers f at all.
  if (lo > 0 && fLo < f0) {
    const { f } = evalAt(lo);
    return { ok: true, f, evaluations };
  }
  return { ok: false, f: f0, evaluations };
}

// The minimiser of the cubic through (a, fa, da) and (b, fb, db); NaN if it has none.
function cubicMin(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  if (disc < 0) return Number.NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  return b - ((b - a) * (db + d2 - d1)) / (db - da + 2 * d2);
}
