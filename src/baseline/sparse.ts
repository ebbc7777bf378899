/** Sparse matrices in compressed sparse row (CSR) form on typed arrays. */

/** A CSR matrix: row i's entries are indices/data[indptr[i] .. indptr[i+1]), columns ascending. */
export interface CsrMatrix {
  nRows: number;
  nCols: number;
  indptr: Int32Array;
  indices: Int32Array;
  data: Float64Array;
}

/** Builds a CSR matrix from rows given as (column, value) lists; columns are sorted within each row. */
export function csrFromRows(
  rows: readonly { cols: ArrayLike<number>; vals: ArrayLike<number> }[],
  nCols: number,
): CsrMatrix {
  const indptr = new Int32Array(rows.length + 1);
  for (let i = 0; i < rows.length; i++) indptr[i + 1] = indptr[i]! + rows[i]!.cols.length;
  const nnz = indptr[rows.length]!;
  const indices = new Int32Array(nnz);
  const data = new Float64Array(nnz);
  for (let i = 0; i < rows.length; i++) {
    const { cols, vals } = rows[i]!;
    const order = Array.from({ length: cols.length }, (_, t) => t).sort((a, b) => cols[a]! - cols[b]!);
    let p = indptr[i]!;
    for (const t of order) {
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
