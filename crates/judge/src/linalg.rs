//! The little dense linear algebra the Fréchet distance needs, in `f64`:
//! square matrices, their product, and the eigen-decomposition of a
//! symmetric matrix by the cyclic Jacobi method.
//!
//! Why Jacobi: it is short, needs nothing but plane rotations, and for a
//! symmetric matrix it converges to eigenvalues with small *relative* error
//! and to eigenvectors that are orthonormal to working precision, because
//! every step multiplies by an exactly orthogonal rotation. The matrices here
//! are at most a few hundred rows (the judge's 128 features), where its
//! O(n³) sweeps take milliseconds.

/// A square `n × n` matrix of `f64`, stored row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    n: usize,
    values: Vec<f64>,
}

impl Matrix {
    /// The `n × n` zero matrix.
    pub fn zeros(n: usize) -> Matrix {
        Matrix {
            n,
            values: vec![0.0; n * n],
        }
    }

    /// The `n × n` identity.
    pub fn identity(n: usize) -> Matrix {
        let mut m = Matrix::zeros(n);
        for i in 0..n {
            m.set(i, i, 1.0);
        }
        m
    }

    /// A matrix from its rows, concatenated; `None` unless `values.len() = n²`.
    ///
    /// ```
    /// use judge::linalg::Matrix;
    /// let m = Matrix::from_rows(2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    /// assert_eq!(m.get(1, 0), 3.0);
    /// assert!(Matrix::from_rows(2, vec![1.0]).is_none());
    /// ```
    pub fn from_rows(n: usize, values: Vec<f64>) -> Option<Matrix> {
        (values.len() == n * n).then_some(Matrix { n, values })
    }

    /// The diagonal matrix with `diagonal` on its diagonal.
    pub fn diagonal(diagonal: &[f64]) -> Matrix {
        let mut m = Matrix::zeros(diagonal.len());
        for (i, &d) in diagonal.iter().enumerate() {
            m.set(i, i, d);
        }
        m
    }

    /// The number of rows (and columns).
    pub fn size(&self) -> usize {
        self.n
    }

    /// The entry in row `i`, column `j`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.n + j]
    }

    /// Sets the entry in row `i`, column `j`.
    pub fn set(&mut self, i: usize, j: usize, value: f64) {
        self.values[i * self.n + j] = value;
    }

    /// The entries, row by row.
    pub fn as_slice(&self) -> &[f64] {
        &self.values
    }

    /// The sum of the diagonal.
    pub fn trace(&self) -> f64 {
        (0..self.n).map(|i| self.get(i, i)).sum()
    }

    /// The transpose.
    pub fn transpose(&self) -> Matrix {
        let mut t = Matrix::zeros(self.n);
        for i in 0..self.n {
            for j in 0..self.n {
                t.set(j, i, self.get(i, j));
            }
        }
        t
    }

    /// The product `self · other` (both `n × n`).
    ///
    /// # Panics
    /// If the sizes differ (an internal invariant: callers build both).
    pub fn matmul(&self, other: &Matrix) -> Matrix {
        assert_eq!(self.n, other.n, "matmul of matrices of different sizes");
        let n = self.n;
        let mut out = Matrix::zeros(n);
        // i-k-j order: the inner loop runs along rows of both `other` and `out`.
        for i in 0..n {
            for k in 0..n {
                let a = self.get(i, k);
                if a == 0.0 {
                    continue;
                }
                let row = &other.values[k * n..(k + 1) * n];
                for (o, &b) in out.values[i * n..(i + 1) * n].iter_mut().zip(row) {
                    *o += a * b;
                }
            }
        }
        out
    }

    /// The largest absolute difference from `other`'s entries.
    pub fn max_abs_diff(&self, other: &Matrix) -> f64 {
        self.values
            .iter()
            .zip(&other.values)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }

    /// `(self + selfᵀ) / 2`: removes the rounding asymmetry of a product
    /// that is symmetric in exact arithmetic.
    pub fn symmetrised(&self) -> Matrix {
        let mut s = self.clone();
        for i in 0..self.n {
            for j in 0..i {
                let mean = 0.5 * (self.get(i, j) + self.get(j, i));
                s.set(i, j, mean);
                s.set(j, i, mean);
            }
        }
        s
    }
}

/// The eigen-decomposition `A = V · diag(values) · Vᵀ` of a symmetric matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    /// The eigenvalues, in ascending order.
    pub values: Vec<f64>,
    /// The eigenvectors, as the *columns* of an orthogonal matrix, in the
    /// order of `values`.
    pub vectors: Matrix,
}

impl SymmetricEigen {
    /// `V · diag(f(λ)) · Vᵀ`: the matrix function `f(A)`, e.g. `f = √` for
    /// the square root of a positive semi-definite matrix.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Matrix {
        let n = self.vectors.size();
        let scaled: Vec<f64> = self.values.iter().map(|&l| f(l)).collect();
        let mut out = Matrix::zeros(n);
        for i in 0..n {
            for j in 0..=i {
                let v: f64 = (0..n)
                    .map(|k| self.vectors.get(i, k) * scaled[k] * self.vectors.get(j, k))
                    .sum();
                out.set(i, j, v);
                out.set(j, i, v);
            }
        }
        out
    }
}

/// The sweeps after which [`symmetric_eigen`] gives up. Jacobi converges
/// quadratically once the off-diagonal part is small; 6 to 10 sweeps are
/// typical, so 60 means the input was not a finite symmetric matrix.
pub const MAX_SWEEPS: usize = 60;

/// The eigenvalues and eigenvectors of the symmetric matrix `a`, by cyclic
/// Jacobi rotations. Only the lower triangle's values matter in exact
/// arithmetic; `a` is symmetrised first. Returns `None` if an entry is not
/// finite or the iteration does not converge in [`MAX_SWEEPS`] sweeps.
///
/// Each rotation `J` in the plane `(p, q)` is chosen to zero `A[p][q]` in
/// `Jᵀ A J`. With `θ = (A[q][q] − A[p][p]) / (2 A[p][q])`, the tangent of the
/// rotation angle is the smaller root of `t² + 2θt − 1 = 0`,
/// `t = sign(θ) / (|θ| + √(θ² + 1))`, which keeps the angle below π/4 (the
/// choice that makes the method converge); then `c = 1/√(t²+1)`, `s = t·c`,
/// and `A[p][p] −= t·A[p][q]`, `A[q][q] += t·A[p][q]` (Golub & Van Loan, §8.5;
/// Numerical Recipes' `jacobi`).
///
/// ```
/// use judge::linalg::{Matrix, symmetric_eigen};
/// let a = Matrix::from_rows(2, vec![2.0, 1.0, 1.0, 2.0]).unwrap();
/// let eig = symmetric_eigen(&a).unwrap();
/// assert!((eig.values[0] - 1.0).abs() < 1e-12 && (eig.values[1] - 3.0).abs() < 1e-12);
/// ```
pub fn symmetric_eigen(a: &Matrix) -> Option<SymmetricEigen> {
    let n = a.size();
    if a.as_slice().iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut m = a.symmetrised();
    let mut v = Matrix::identity(n);
    let scale = m.as_slice().iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut converged = n < 2 || scale == 0.0;
    for _ in 0..MAX_SWEEPS {
        if converged {
            break;
        }
        let off: f64 = (0..n)
            .flat_map(|i| (0..i).map(move |j| (i, j)))
            .map(|(i, j)| m.get(i, j) * m.get(i, j))
            .sum::<f64>()
            .sqrt();
        // Relative to the whole matrix: below this the off-diagonal part
        // changes no eigenvalue beyond rounding (and rotations, which refill
        // zeroed entries with rounding errors, cannot push it much lower).
        if off <= n as f64 * f64::EPSILON * scale {
            converged = true;
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m.get(p, q);
                if apq == 0.0 {
                    continue;
                }
                let theta = (m.get(q, q) - m.get(p, p)) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                rotate(&mut m, &mut v, p, q, c, s, t);
            }
        }
    }
    if !converged {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m.get(i, i).total_cmp(&m.get(j, j)));
    let values = order.iter().map(|&i| m.get(i, i)).collect();
    let mut vectors = Matrix::zeros(n);
    for (column, &i) in order.iter().enumerate() {
        for row in 0..n {
            vectors.set(row, column, v.get(row, i));
        }
    }
    Some(SymmetricEigen { values, vectors })
}

/// Applies the rotation `(c, s)` in the plane `(p, q)`: `m ← Jᵀ m J` (which
/// zeroes `m[p][q]`), `v ← v J` (which accumulates the eigenvectors).
fn rotate(m: &mut Matrix, v: &mut Matrix, p: usize, q: usize, c: f64, s: f64, t: f64) {
    let n = m.size();
    let apq = m.get(p, q);
    m.set(p, p, m.get(p, p) - t * apq);
    m.set(q, q, m.get(q, q) + t * apq);
    m.set(p, q, 0.0);
    m.set(q, p, 0.0);
    for k in 0..n {
        if k == p || k == q {
            continue;
        }
        let (mkp, mkq) = (m.get(k, p), m.get(k, q));
        let new_p = c * mkp - s * mkq;
        let new_q = s * mkp + c * mkq;
        m.set(k, p, new_p);
        m.set(p, k, new_p);
        m.set(k, q, new_q);
        m.set(q, k, new_q);
    }
    for k in 0..n {
        let (vkp, vkq) = (v.get(k, p), v.get(k, q));
        v.set(k, p, c * vkp - s * vkq);
        v.set(k, q, s * vkp + c * vkq);
    }
}
