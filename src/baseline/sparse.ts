/** Sparse matrices in compressed sparse row (CSR) form on typed arrays. */

/** A CSR matrix: row i's entries are indices/data[indptr[i] .. indptr[i+1]), columns ascending. */
export interface CsrMatrix {
  nRows: number;
  nCols: number;
  indptr: Int32Array;
  indices: Int32Array;
  data: Float64Array;
}

// A row's positions in a packed sort key: columns up to 2^32 and rows up to 2^21 entries stay exact.
const POSITIONS = 2 ** 21;

/** Builds a CSR matrix from rows given as (column, value) lists; columns are sorted within each row. */
export function csrFromRows(
  rows: readonly { cols: ArrayLike<number>; vals: ArrayLike<number> }[],
  nCols: number,
): CsrMatrix {
  const indptr = new Int32Array(rows.length + 1);
  for (let i = 0; i < rows.length; i++) indptr[i + 1] = indptr[i]! + rows[i]!.cols.length;
  const nnz = indptr[rows.length]!;
  for (const r of rows)
    if (r.cols.length >= POSITIONS)
      throw new RangeError(`a sparse row of ${r.cols.length} entries is too long`);
  const indices = new Int32Array(nnz);
  const data = new Float64Array(nnz);
  for (let i = 0; i < rows.length; i++) {
    const { cols, vals } = rows[i]!;
    // Sort (column, position) pairs packed in one float64 each (exact below 2^53): a typed-array sort
    // without a comparison callback, several times faster on rows of thousands of character n-grams.
    const keys = new Float64Array(cols.length);
    for (let t = 0; t < cols.length; t++) keys[t] = cols[t]! * POSITIONS + t;
    keys.sort();
    let p = indptr[i]!;
    for (const key of keys) {
      const t = key % POSITIONS;
      indices[p] = cols[t]!;
      data[p++] = vals[t]!;
    }
  }
  return { nRows: rows.length, nCols, indptr, indices, data };
}

/** The dense row-major copy of a CSR matrix (for tests and small checks). */
export function toDense(m: CsrMatrix): Float64Array {
  const out = new Float64Array(m.nRows * m.nCols);
  for (let i = 0; i < m.nRows; i++)
    for (let p = m.indptr[i]!; p < m.indptr[i + 1]!; p++) out[i * m.nCols + m.indices[p]!] = m.data[p]!;
  return out;
}
