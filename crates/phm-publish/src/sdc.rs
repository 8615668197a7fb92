//! Statistical disclosure control (SDC) for published aggregate count tables.
//!
//! # The rule
//!
//! We follow `OpenSAFELY`'s current output-checking rule for aggregate counts
//! (the output-checking guidance on docs.opensafely.org: redact counts of 7
//! or fewer, round every other count to the nearest 5):
//!
//! * **Primary suppression**: a count of `threshold` (default 7) or fewer, but
//!   more than 0, is redacted ([`Cell::Redacted`]).
//! * **Rounding**: every other non-zero count is rounded to the nearest
//!   multiple of `base` (default 5), halves rounding up; a zero is published
//!   as 0.
//! * **Totals** are not published from the true counts: the caller computes
//!   them from the rounded, published cells, so they add nothing beyond the
//!   cells.
//!
//! See [`Rule`].
//!
//! # Secondary suppression across tables that share totals
//!
//! The true counts behind several published tables obey linear relations
//! that an attacker knows ([`Relation`]): a practice's population is both the
//! sum of its row in a practice x tier table and of its row in a practice x
//! segment table, a PCN x segment cell is the sum of the practice x segment
//! cells of its practices, and so on. From the published values (each known
//! only to lie in an interval, [`Rule::interval`]) and those relations, an
//! attacker can narrow a redacted cell, sometimes to a few values.
//!
//! [`protect`] therefore suppresses further cells ([`Cell::Suppressed`])
//! until **every hidden cell's feasible interval** (the minimum and maximum
//! of its true value over everything that is published and every relation)
//! **is at least `threshold` wide** (`high - low >= threshold`), measured on
//! the integer end points. [`audit`] computes those intervals: it is the
//! attacker's view, and the guarantee can be checked with it independently
//! of [`protect`].
//!
//! The intervals are those of the linear programming (LP) relaxation (see
//! [`audit`] for what that means for integer counts and how it is handled),
//! solved with `microlp` over each connected component of the relations.
//!
//! # Cost
//!
//! microlp cannot change a problem's objective, so each component's LP is
//! solved once with a spare objective variable, and each bound is a
//! warm-started re-solve of a clone with one linking constraint added (about
//! 20 times cheaper than a cold solve). [`protect`] checks a hidden cell's
//! maximum first and skips its minimum when the maximum alone clears the
//! threshold above the true count; a cell once safe stays safe (suppressing
//! more only relaxes the attacker's constraints), so it is not checked
//! again. A synthetic ICB of a million patients (about 1,900 cells, 300
//! relations, 80 to 100 redactions) protects in well under a second in the
//! test profile (opt-level 1, dependencies at 2).

use std::collections::BTreeSet;

use microlp::{ComparisonOp, OptimizationDirection, Problem, Solution, SolveOutcome, Variable};

/// Tolerance for reading LP optima as integers.
const EPS: f64 = 1e-6;

/// The disclosure rule: redact counts in `1..=threshold`, round every other
/// count to the nearest multiple of `base` (halves up), publish 0 as 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// Counts in `1..=threshold` are redacted, and every hidden cell's
    /// feasible interval must be at least this wide.
    pub threshold: u64,
    /// Published non-zero counts are rounded to the nearest multiple of this
    /// (halves up). Must be at least 1 (1 means no rounding).
    pub base: u64,
}

impl Default for Rule {
    /// `OpenSAFELY`'s rule: redact 1 to 7, round to the nearest 5.
    fn default() -> Self {
        Self {
            threshold: 7,
            base: 5,
        }
    }
}

impl Rule {
    /// Whether a true count is redacted by primary suppression: `1..=threshold`.
    pub fn redacts(&self, n: u64) -> bool {
        (1..=self.threshold).contains(&n)
    }

    /// `n` rounded to the nearest multiple of `base`, halves rounding up
    /// (saturating at the largest multiple that fits). A `base` of 0 or 1
    /// leaves `n` unchanged.
    pub fn round(&self, n: u64) -> u64 {
        if self.base <= 1 {
            return n;
        }
        let rem = n % self.base;
        let down = n - rem;
        if rem >= self.base - rem {
            down.checked_add(self.base).unwrap_or(down)
        } else {
            down
        }
    }

    /// How far below and above a published value the true count can lie
    /// through rounding alone: `(base / 2, (base - 1) / 2)`, so `(2, 2)` for
    /// base 5 and `(b / 2, b / 2 - 1)` for an even base `b` (halves round up).
    pub fn half_widths(&self) -> (u64, u64) {
        if self.base == 0 {
            (0, 0)
        } else {
            (self.base / 2, (self.base - 1) / 2)
        }
    }

    /// What an attacker knows of a true count from its published value: the
    /// integer interval `[low, high]` of true counts that publish as
    /// `published`. 0 gives `(0, 0)`; a non-zero `r` gives
    /// `(max(r - down, threshold + 1), r + up)` with `(down, up)` from
    /// [`Rule::half_widths`]. A value that the rule cannot publish gives an
    /// empty interval (`low > high`).
    pub fn interval(&self, published: u64) -> (u64, u64) {
        if published == 0 {
            return (0, 0);
        }
        let (down, up) = self.half_widths();
        (
            published
                .saturating_sub(down)
                .max(self.threshold.saturating_add(1)),
            published.saturating_add(up),
        )
    }

    /// Primary suppression and rounding of one true count.
    pub fn publish(&self, n: u64) -> Cell {
        if self.redacts(n) {
            Cell::Redacted
        } else {
            Cell::Published(self.round(n))
        }
    }

    /// Whether `published` is a value this rule can publish: 0, or a
    /// multiple of `base` whose [`Rule::interval`] is not empty.
    pub fn can_publish(&self, published: u64) -> bool {
        if published == 0 {
            return true;
        }
        let (low, high) = self.interval(published);
        self.base > 0 && published.is_multiple_of(self.base) && low <= high
    }
}

/// A relation between true counts: the sum of the cells in `left` equals the
/// sum of the cells in `right` (indices into the cell slice). A cell may
/// appear more than once; it then counts that many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    /// Cell indices on the left-hand side.
    pub left: Vec<usize>,
    /// Cell indices on the right-hand side.
    pub right: Vec<usize>,
}

impl Relation {
    /// A relation `sum(left) == sum(right)`.
    pub fn new(left: Vec<usize>, right: Vec<usize>) -> Self {
        Self { left, right }
    }
}

/// What is published for one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// The published value: 0, or the true count rounded by the rule.
    Published(u64),
    /// Hidden by primary suppression (the true count is in `1..=threshold`).
    Redacted,
    /// Hidden by secondary suppression (to protect a redacted cell).
    Suppressed,
}

impl Cell {
    /// The published value, `None` for a hidden cell.
    pub fn value(&self) -> Option<u64> {
        match self {
            Cell::Published(v) => Some(*v),
            Cell::Redacted | Cell::Suppressed => None,
        }
    }

    /// Whether the cell is hidden (redacted or suppressed).
    pub fn is_hidden(&self) -> bool {
        !matches!(self, Cell::Published(_))
    }
}

/// The feasible interval of a hidden cell: the minimum and maximum of its
/// true value that an attacker can infer (LP relaxation, see [`audit`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The hidden cell's index.
    pub cell: usize,
    /// The smallest feasible value.
    pub low: f64,
    /// The largest feasible value, `None` when unbounded.
    pub high: Option<f64>,
}

impl Interval {
    /// `high - low`, infinite when unbounded.
    pub fn width(&self) -> f64 {
        self.high.map_or(f64::INFINITY, |high| high - self.low)
    }

    /// The interval rounded inward to integers (`ceil(low)`, `floor(high)`,
    /// with a small tolerance for solver round-off): the integer interval an
    /// attacker can infer is contained in it. `None` for `high` when unbounded.
    pub fn integer_bounds(&self) -> (u64, Option<u64>) {
        let low = (self.low - EPS).ceil().max(0.0) as u64;
        let high = self.high.map(|high| (high + EPS).floor().max(0.0) as u64);
        (low, high)
    }

    /// The width of [`Interval::integer_bounds`], `None` when unbounded.
    /// [`protect`] requires this to be at least the threshold.
    pub fn integer_width(&self) -> Option<u64> {
        let (low, high) = self.integer_bounds();
        high.map(|high| high.saturating_sub(low))
    }

    /// Whether the interval is at least `threshold` wide on its integer end
    /// points (always true when unbounded).
    pub fn is_safe(&self, threshold: u64) -> bool {
        self.integer_width().is_none_or(|width| width >= threshold)
    }
}

/// Why disclosure control could not be done.
#[derive(Debug, thiserror::Error)]
pub enum SdcError {
    /// The rule's base is 0.
    #[error("invalid rule: base must be at least 1")]
    InvalidRule,
    /// A relation names a cell that does not exist.
    #[error("relation {relation} names cell {cell}, but there are only {cells} cells")]
    CellOutOfRange {
        /// The relation's index.
        relation: usize,
        /// The cell index it names.
        cell: usize,
        /// The number of cells.
        cells: usize,
    },
    /// The true counts do not satisfy a relation (a bug in the caller).
    #[error("the counts break relation {relation}: left sums to {left}, right to {right}")]
    RelationViolated {
        /// The relation's index.
        relation: usize,
        /// The sum of its left-hand side.
        left: u128,
        /// The sum of its right-hand side.
        right: u128,
    },
    /// A published value is one the rule cannot produce.
    #[error("cell {cell} is published as {value}, which the rule cannot publish")]
    ImpossibleValue {
        /// The cell's index.
        cell: usize,
        /// Its published value.
        value: u64,
    },
    /// The published values contradict the relations (a bug: the values
    /// were not produced from counts that satisfy them).
    #[error("the published values around cell {cell} contradict the relations")]
    Infeasible {
        /// A hidden cell whose connected relations are contradictory.
        cell: usize,
    },
    /// The LP solver failed.
    #[error("LP solver failed for cell {cell}: {message}")]
    Solver {
        /// The hidden cell being bounded.
        cell: usize,
        /// The solver's message.
        message: String,
    },
    /// Secondary suppression found no cell left to suppress for a hidden
    /// cell whose interval is still too narrow (should not happen with
    /// counts that satisfy the relations).
    #[error("no cell left to suppress to protect cell {cell}")]
    Stuck {
        /// The hidden cell that cannot be protected.
        cell: usize,
    },
}

/// What an attacker knows of one cell's true value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Domain {
    /// Published as 0: exactly 0 (a constant, not a variable).
    Zero,
    /// Published non-zero: within `[low, high]`.
    Range(f64, f64),
    /// Hidden: only known to be `>= 0`.
    Free,
}

impl Domain {
    fn of(cell: Cell, rule: Rule) -> Self {
        match cell {
            Cell::Published(0) => Domain::Zero,
            Cell::Published(v) => {
                let (low, high) = rule.interval(v);
                Domain::Range(low as f64, high as f64)
            }
            Cell::Redacted | Cell::Suppressed => Domain::Free,
        }
    }

    fn bounds(self) -> (f64, f64) {
        match self {
            Domain::Zero => (0.0, 0.0),
            Domain::Range(low, high) => (low, high),
            Domain::Free => (0.0, f64::INFINITY),
        }
    }
}

/// The relations as merged coefficient rows, and the rows each cell is in.
struct Model {
    /// Per relation: `(cell, coefficient)` with left +1 and right -1 merged
    /// per cell, zero coefficients dropped, sorted by cell.
    rows: Vec<Vec<(usize, i64)>>,
    /// Per cell: the rows it has a non-zero coefficient in, ascending.
    cell_rows: Vec<Vec<usize>>,
}

/// A connected component of the relations: variable cells (not published
/// zeros, which are constants) linked through rows.
struct Component {
    /// Its cells, ascending.
    cells: Vec<usize>,
    /// The rows with a variable cell in it, ascending.
    rows: Vec<usize>,
}

impl Model {
    fn new(cells: usize, relations: &[Relation]) -> Result<Self, SdcError> {
        let mut rows = Vec::with_capacity(relations.len());
        let mut cell_rows = vec![Vec::new(); cells];
        for (relation, rel) in relations.iter().enumerate() {
            let mut terms: Vec<(usize, i64)> = Vec::with_capacity(rel.left.len() + rel.right.len());
            for (side, coef) in [(&rel.left, 1), (&rel.right, -1)] {
                for &cell in side {
                    if cell >= cells {
                        return Err(SdcError::CellOutOfRange {
                            relation,
                            cell,
                            cells,
                        });
                    }
                    terms.push((cell, coef));
                }
            }
            terms.sort_unstable_by_key(|&(cell, _)| cell);
            let mut merged: Vec<(usize, i64)> = Vec::with_capacity(terms.len());
            for (cell, coef) in terms {
                match merged.last_mut() {
                    Some(last) if last.0 == cell => last.1 += coef,
                    _ => merged.push((cell, coef)),
                }
            }
            merged.retain(|&(_, coef)| coef != 0);
            for &(cell, _) in &merged {
                cell_rows[cell].push(relation);
            }
            rows.push(merged);
        }
        Ok(Self { rows, cell_rows })
    }

    /// The connected components of the variable cells (published zeros are
    /// constants and connect nothing), and each cell's component (`None`
    /// for a zero). Suppression turns a published non-zero cell into a
    /// hidden one, a variable either way, so this does not change while
    /// [`protect`] runs.
    fn components(&self, domains: &[Domain]) -> (Vec<Option<usize>>, Vec<Component>) {
        let mut label = vec![None; domains.len()];
        let mut components = Vec::new();
        let mut row_seen = vec![false; self.rows.len()];
        for start in 0..domains.len() {
            if label[start].is_some() || domains[start] == Domain::Zero {
                continue;
            }
            let id = components.len();
            label[start] = Some(id);
            let mut cells = vec![start];
            let mut rows = Vec::new();
            let mut stack = vec![start];
            while let Some(cell) = stack.pop() {
                for &row in &self.cell_rows[cell] {
                    if row_seen[row] {
                        continue;
                    }
                    row_seen[row] = true;
                    rows.push(row);
                    for &(other, _) in &self.rows[row] {
                        if label[other].is_none() && domains[other] != Domain::Zero {
                            label[other] = Some(id);
                            cells.push(other);
                            stack.push(other);
                        }
                    }
                }
            }
            cells.sort_unstable();
            rows.sort_unstable();
            components.push(Component { cells, rows });
        }
        (label, components)
    }

    /// The LP of `component`: one variable per cell (in the order of
    /// `component.cells`) within its domain, one equality per row.
    fn problem(
        &self,
        domains: &[Domain],
        component: &Component,
        direction: OptimizationDirection,
        objective: impl Fn(usize) -> f64,
    ) -> (Problem, Vec<Variable>) {
        let mut problem = Problem::new(direction);
        let vars: Vec<Variable> = component
            .cells
            .iter()
            .map(|&cell| problem.add_var(objective(cell), domains[cell].bounds()))
            .collect();
        for &row in &component.rows {
            let terms: Vec<(Variable, f64)> = self.rows[row]
                .iter()
                .filter_map(|&(cell, coef)| {
                    let position = component.cells.binary_search(&cell).ok()?;
                    Some((vars[position], coef as f64))
                })
                .collect();
            if !terms.is_empty() {
                problem.add_constraint(terms, ComparisonOp::Eq, 0.0);
            }
        }
        (problem, vars)
    }

    /// The minimum or maximum of `target` over the LP of `component`:
    /// `None` when unbounded.
    fn extreme(
        &self,
        domains: &[Domain],
        component: &Component,
        target: usize,
        maximise: bool,
    ) -> Result<Option<f64>, SdcError> {
        let direction = if maximise {
            OptimizationDirection::Maximize
        } else {
            OptimizationDirection::Minimize
        };
        let (problem, _) = self.problem(domains, component, direction, |cell| {
            if cell == target { 1.0 } else { 0.0 }
        });
        match solved(problem.solve(), target) {
            Ok(solution) => Ok(Some(snap(solution.objective()))),
            Err(Unbounded) => Ok(None),
            Err(Failed(error)) => Err(error),
        }
    }

    /// The published cell to suppress next to widen hidden cell `cell`.
    ///
    /// First, the rows containing `cell` are ranked by the width they alone
    /// allow `cell` (interval arithmetic over the other cells' domains); in
    /// the narrowest finite one, the published non-zero cell with the
    /// smallest true count is chosen (ties by index): suppressing it makes
    /// that row alone say nothing. When every row is unbounded on its own
    /// (the narrowing comes through other hidden cells), rings of rows are
    /// searched outward through hidden cells, and the nearest ring's smallest
    /// published non-zero count is chosen.
    fn candidate(&self, domains: &[Domain], counts: &[u64], cell: usize) -> Option<usize> {
        let smallest = |cells: &mut dyn Iterator<Item = usize>| {
            cells
                .filter(|&c| matches!(domains[c], Domain::Range(..)))
                .min_by_key(|&c| (counts[c], c))
        };
        let mut ranked: Vec<(f64, usize)> = Vec::new();
        for &row in &self.cell_rows[cell] {
            let mut own = 0;
            let (mut low, mut high) = (0.0, 0.0);
            for &(other, coef) in &self.rows[row] {
                if other == cell {
                    own = coef;
                    continue;
                }
                let (lo, hi) = domains[other].bounds();
                let coef = coef as f64;
                if coef > 0.0 {
                    low += coef * lo;
                    high += coef * hi;
                } else {
                    low += coef * hi;
                    high += coef * lo;
                }
            }
            let width = (high - low) / own.unsigned_abs() as f64;
            if width.is_finite() {
                ranked.push((width, row));
            }
        }
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, row) in ranked {
            if let Some(found) = smallest(&mut self.rows[row].iter().map(|&(c, _)| c)) {
                return Some(found);
            }
        }
        let mut seen_cell = BTreeSet::from([cell]);
        let mut seen_row = BTreeSet::new();
        let mut ring = vec![cell];
        while !ring.is_empty() {
            let rows: Vec<usize> = ring
                .iter()
                .flat_map(|&c| self.cell_rows[c].iter().copied())
                .filter(|&row| seen_row.insert(row))
                .collect();
            let members = rows.iter().flat_map(|&row| self.rows[row].iter());
            if let Some(found) = smallest(&mut members.clone().map(|&(c, _)| c)) {
                return Some(found);
            }
            ring = members
                .map(|&(c, _)| c)
                .filter(|&c| domains[c] == Domain::Free && seen_cell.insert(c))
                .collect();
        }
        None
    }
}

/// Why a solve gave no solution.
enum NoSolution {
    /// The objective is unbounded.
    Unbounded,
    /// Anything else, as the error to report.
    Failed(SdcError),
}

use NoSolution::{Failed, Unbounded};

/// A solve's solution, or why there is none (`cell`: the hidden cell it was
/// for, to name in errors).
fn solved(
    result: Result<SolveOutcome, microlp::Error>,
    cell: usize,
) -> Result<Solution, NoSolution> {
    match result {
        Ok(outcome) => outcome.into_solution().map_err(|interrupted| {
            Failed(SdcError::Solver {
                cell,
                message: format!("interrupted: {:?}", interrupted.termination_reason()),
            })
        }),
        Err(microlp::Error::Unbounded) => Err(Unbounded),
        Err(microlp::Error::Infeasible) => Err(Failed(SdcError::Infeasible { cell })),
        Err(error) => Err(Failed(SdcError::Solver {
            cell,
            message: error.to_string(),
        })),
    }
}

/// Warm-startable LPs of one component. microlp cannot change an objective,
/// so each base LP optimises an extra variable `z` in `[0, big]` that is
/// linked to no cell; bounding a cell adds one constraint (`z <= x` to
/// maximise, `z >= x` to minimise) to a clone of the solved base, which the
/// solver re-optimises from the base's basis: far cheaper than a cold solve
/// of the whole component. A maximum at `big` may be the cap rather than the
/// cell's own bound, and is confirmed by a cold solve.
///
/// Every solution is a feasible point of the component, so the range of
/// values each cell has taken in them is an inner bound of its interval:
/// kept in `seen`, it often settles a cell without a solve. Suppression only
/// relaxes the constraints, so these points stay feasible.
struct Warm {
    /// Per cell (in the order of the component's cells): the smallest and
    /// largest value it has taken in a solution.
    seen: Vec<(f64, f64)>,
    /// The component's cells' variables, in the order of its cells.
    vars: Vec<Variable>,
    /// The cap on `z`.
    big: f64,
    /// The solved base that maximises `z`, and `z`.
    max: (Solution, Variable),
    /// The solved base that minimises `z`, and `z`, built when first needed.
    min: Option<(Solution, Variable)>,
}

impl Warm {
    fn new(model: &Model, domains: &[Domain], component: &Component) -> Result<Self, SdcError> {
        let high: f64 = component
            .cells
            .iter()
            .map(|&cell| domains[cell].bounds().1)
            .filter(|high| high.is_finite())
            .sum();
        let big = 2.0 * high + 1024.0;
        let (max, vars) = Self::base(
            model,
            domains,
            component,
            OptimizationDirection::Maximize,
            big,
        )?;
        let mut warm = Self {
            seen: vec![(f64::INFINITY, f64::NEG_INFINITY); vars.len()],
            vars,
            big,
            max,
            min: None,
        };
        let base = warm.max.0.clone();
        warm.record(&base);
        Ok(warm)
    }

    /// Notes the values of a feasible point.
    fn record(&mut self, solution: &Solution) {
        for (seen, &var) in self.seen.iter_mut().zip(&self.vars) {
            let value = solution.var_value(var);
            seen.0 = seen.0.min(value);
            seen.1 = seen.1.max(value);
        }
    }

    /// The smallest and largest values `cell` has taken in a solution.
    fn seen(&self, component: &Component, cell: usize) -> (f64, f64) {
        self.seen[Self::position(component, cell)]
    }

    fn position(component: &Component, cell: usize) -> usize {
        component
            .cells
            .binary_search(&cell)
            .expect("cell in its component")
    }

    fn base(
        model: &Model,
        domains: &[Domain],
        component: &Component,
        direction: OptimizationDirection,
        big: f64,
    ) -> Result<((Solution, Variable), Vec<Variable>), SdcError> {
        let (mut problem, vars) = model.problem(domains, component, direction, |_| 0.0);
        let z = problem.add_var(1.0, (0.0, big));
        let cell = component
            .cells
            .iter()
            .copied()
            .find(|&cell| domains[cell] == Domain::Free)
            .unwrap_or(component.cells[0]);
        match solved(problem.solve(), cell) {
            Ok(solution) => Ok(((solution, z), vars)),
            Err(Unbounded) => Err(SdcError::Solver {
                cell,
                message: "base LP unbounded".to_string(),
            }),
            Err(Failed(error)) => Err(error),
        }
    }

    fn var(&self, component: &Component, cell: usize) -> Variable {
        self.vars[Self::position(component, cell)]
    }

    /// The maximum of `cell`, `None` when unbounded.
    fn max(
        &mut self,
        model: &Model,
        domains: &[Domain],
        component: &Component,
        cell: usize,
    ) -> Result<Option<f64>, SdcError> {
        let (base, z) = &self.max;
        let edited = base.clone().add_constraint(
            [(*z, 1.0), (self.var(component, cell), -1.0)],
            ComparisonOp::Le,
            0.0,
        );
        match solved(edited, cell) {
            Ok(solution) if solution.objective() < self.big - 1.0 => {
                self.record(&solution);
                Ok(Some(snap(solution.objective())))
            }
            // At the cap, or a warm failure: solve cold.
            Ok(_) | Err(_) => model.extreme(domains, component, cell, true),
        }
    }

    /// The minimum of `cell`.
    fn min(
        &mut self,
        model: &Model,
        domains: &[Domain],
        component: &Component,
        cell: usize,
    ) -> Result<f64, SdcError> {
        let var = self.var(component, cell);
        if self.min.is_none() {
            let (min, _) = Self::base(
                model,
                domains,
                component,
                OptimizationDirection::Minimize,
                self.big,
            )?;
            self.record(&min.0);
            self.min = Some(min);
        }
        // A solution at 0 already proves the minimum.
        if self.seen(component, cell).0 <= EPS {
            return Ok(0.0);
        }
        let (base, z) = self.min.as_ref().expect("built above");
        let edited = base
            .clone()
            .add_constraint([(*z, 1.0), (var, -1.0)], ComparisonOp::Ge, 0.0);
        let low = match solved(edited, cell) {
            Ok(solution) => {
                self.record(&solution);
                Some(snap(solution.objective()))
            }
            Err(_) => model.extreme(domains, component, cell, false)?,
        };
        Ok(low.unwrap_or(0.0).max(0.0))
    }
}

/// The components of a table and their warm LPs, built when first needed.
struct Parts {
    label: Vec<Option<usize>>,
    components: Vec<Component>,
    warm: Vec<Option<Warm>>,
}

impl Parts {
    fn new(model: &Model, domains: &[Domain]) -> Self {
        let (label, components) = model.components(domains);
        let warm = components.iter().map(|_| None).collect();
        Self {
            label,
            components,
            warm,
        }
    }

    /// Forgets the LPs of `cell`'s component (its domain changed).
    fn invalidate(&mut self, cell: usize) {
        if let Some(id) = self.label[cell] {
            self.warm[id] = None;
        }
    }

    /// The component of hidden cell `cell` and its warm LPs; `None` when
    /// the cell is in no row with another variable (unbounded, low 0).
    fn warm(
        &mut self,
        model: &Model,
        domains: &[Domain],
        cell: usize,
    ) -> Result<Option<(&Component, &mut Warm)>, SdcError> {
        let Some(id) = self.label[cell] else {
            return Ok(None);
        };
        let component = &self.components[id];
        if component.rows.is_empty() {
            return Ok(None);
        }
        if self.warm[id].is_none() {
            self.warm[id] = Some(Warm::new(model, domains, component)?);
        }
        Ok(self.warm[id].as_mut().map(|warm| (component, warm)))
    }

    /// The full interval of hidden cell `cell`.
    fn interval(
        &mut self,
        model: &Model,
        domains: &[Domain],
        cell: usize,
    ) -> Result<Interval, SdcError> {
        let Some((component, warm)) = self.warm(model, domains, cell)? else {
            return Ok(Interval {
                cell,
                low: 0.0,
                high: None,
            });
        };
        let high = warm.max(model, domains, component, cell)?;
        let low = warm.min(model, domains, component, cell)?;
        Ok(Interval { cell, low, high })
    }

    /// Whether hidden cell `cell`, whose true value is `truth` (a feasible
    /// point), has an interval at least `threshold` wide on its integer end
    /// points. The maximum is solved first: when it is at least `threshold`
    /// above the truth, the minimum (at most the truth) need not be solved.
    fn is_safe(
        &mut self,
        model: &Model,
        domains: &[Domain],
        cell: usize,
        truth: u64,
        threshold: u64,
    ) -> Result<bool, SdcError> {
        let Some((component, warm)) = self.warm(model, domains, cell)? else {
            return Ok(true);
        };
        // The truth and the solutions so far are feasible points: an inner
        // bound that often settles the cell already.
        let (seen_low, seen_high) = warm.seen(component, cell);
        let mut interval = Interval {
            cell,
            low: seen_low.min(truth as f64),
            high: Some(seen_high.max(truth as f64)),
        };
        if interval.is_safe(threshold) {
            return Ok(true);
        }
        let Some(high) = warm.max(model, domains, component, cell)? else {
            return Ok(true);
        };
        interval.high = Some(high);
        if interval.is_safe(threshold) {
            return Ok(true);
        }
        interval.low = warm.min(model, domains, component, cell)?;
        Ok(interval.is_safe(threshold))
    }
}

/// An LP optimum read as an integer when it is within round-off of one.
fn snap(value: f64) -> f64 {
    let rounded = value.round();
    if (value - rounded).abs() <= EPS * rounded.abs().max(1.0) {
        rounded
    } else {
        value
    }
}

/// Primary suppression and rounding, then secondary suppression until every
/// hidden cell's feasible interval ([`audit`]) is at least `rule.threshold`
/// wide on its integer end points ([`Interval::is_safe`]).
///
/// `counts` are the true counts, which must satisfy every relation. The
/// result has one [`Cell`] per count: published values are 0 or multiples of
/// `rule.base` (never in `1..=threshold`), primary suppressions are
/// [`Cell::Redacted`] and secondary ones [`Cell::Suppressed`].
///
/// Secondary suppression is deterministic: the hidden cells are checked in
/// index order (a newly suppressed cell is checked too); when one is too
/// narrow, one published non-zero cell is suppressed and the cell is checked
/// again. The cell suppressed is the smallest true count (ties by index) in
/// the relation that, on its own, leaves the cell narrowest (interval
/// arithmetic), or, when no relation bounds it on its own, in the nearest
/// relations reached through other hidden cells. Suppressing a
/// cell only relaxes the attacker's constraints, so a cell once found safe
/// stays safe, and each step hides one more cell, so the loop ends. Zeros are
/// never suppressed: a hidden cell whose connected relations hold only other
/// hidden cells and zeros is unbounded above (its true value is positive and
/// the constraints are homogeneous), so there is always a non-zero published
/// cell to suppress while a cell is too narrow.
pub fn protect(counts: &[u64], relations: &[Relation], rule: Rule) -> Result<Vec<Cell>, SdcError> {
    if rule.base == 0 {
        return Err(SdcError::InvalidRule);
    }
    let model = Model::new(counts.len(), relations)?;
    for (relation, rel) in relations.iter().enumerate() {
        let sum = |side: &[usize]| side.iter().map(|&c| u128::from(counts[c])).sum::<u128>();
        let (left, right) = (sum(&rel.left), sum(&rel.right));
        if left != right {
            return Err(SdcError::RelationViolated {
                relation,
                left,
                right,
            });
        }
    }
    let mut cells: Vec<Cell> = counts.iter().map(|&n| rule.publish(n)).collect();
    let mut domains: Vec<Domain> = cells.iter().map(|&c| Domain::of(c, rule)).collect();
    let mut pending: BTreeSet<usize> = (0..cells.len()).filter(|&c| cells[c].is_hidden()).collect();
    let mut parts = Parts::new(&model, &domains);
    while let Some(&cell) = pending.first() {
        if parts.is_safe(&model, &domains, cell, counts[cell], rule.threshold)? {
            pending.remove(&cell);
            continue;
        }
        let Some(suppress) = model.candidate(&domains, counts, cell) else {
            return Err(SdcError::Stuck { cell });
        };
        cells[suppress] = Cell::Suppressed;
        domains[suppress] = Domain::Free;
        parts.invalidate(suppress);
        pending.insert(suppress);
    }
    Ok(cells)
}

/// The attacker's view: for each hidden cell (in index order), the minimum
/// and maximum of its true value subject to every published cell lying
/// within [`Rule::interval`] of its value, every hidden cell being `>= 0`
/// (an attacker cannot tell primary from secondary suppression, so that is
/// all it knows of a hidden cell), and every relation.
///
/// Each extreme is the optimum of a linear program over the connected
/// component of relations around the cell (published zeros are constants and
/// do not connect). This is the **LP relaxation** of the attacker's integer
/// problem: its feasible set contains every integer solution, so each
/// reported interval contains the integer one (for sum relations such as
/// two-way tables with margins and hierarchies the constraint matrix is
/// totally unimodular and the ends agree after rounding inward; in general
/// the LP end can be fractional, and it can only lie outside the integer
/// end, never inside). The reported ends are the LP optima (snapped to an
/// integer within solver round-off); [`Interval::integer_bounds`] rounds
/// them inward (`ceil(low)`, `floor(high)`), and [`protect`] requires that
/// inward-rounded width to reach the threshold, so the fractional part never
/// counts towards protection. For non-unimodular structures the integer
/// interval can in principle be narrower still than the inward-rounded LP
/// one; that residual is not checked. (The tests compare the inward-rounded
/// ends with a brute-force enumeration of the integer points on two-way
/// tables with margins and on random sums, where they agree exactly.)
///
/// Components that contain no hidden cell are not solved, so a contradiction
/// confined to published cells is not reported.
pub fn audit(
    cells: &[Cell],
    relations: &[Relation],
    rule: Rule,
) -> Result<Vec<Interval>, SdcError> {
    if rule.base == 0 {
        return Err(SdcError::InvalidRule);
    }
    let model = Model::new(cells.len(), relations)?;
    for (cell, value) in cells.iter().enumerate() {
        if let Some(value) = value.value()
            && !rule.can_publish(value)
        {
            return Err(SdcError::ImpossibleValue { cell, value });
        }
    }
    let domains: Vec<Domain> = cells.iter().map(|&c| Domain::of(c, rule)).collect();
    let mut parts = Parts::new(&model, &domains);
    (0..cells.len())
        .filter(|&c| cells[c].is_hidden())
        .map(|cell| parts.interval(&model, &domains, cell))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a small deterministic PRNG for the tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `low..=high`.
        fn range(&mut self, low: u64, high: u64) -> u64 {
            low + self.next() % (high - low + 1)
        }

        /// Uniform in `[0, 1)`.
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Roughly standard normal (sum of 12 uniforms).
        fn normal(&mut self) -> f64 {
            (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
        }

        /// Splits `n` roughly multinomially over `weights`.
        fn split(&mut self, n: u64, weights: &[f64]) -> Vec<u64> {
            let mut left = n;
            let mut weight_left: f64 = weights.iter().sum();
            let mut out = Vec::with_capacity(weights.len());
            for (i, &w) in weights.iter().enumerate() {
                if i + 1 == weights.len() {
                    out.push(left);
                    break;
                }
                let p = (w / weight_left).clamp(0.0, 1.0);
                let mean = left as f64 * p;
                let sd = (mean * (1.0 - p)).sqrt();
                let draw = (mean + sd * self.normal()).round().clamp(0.0, left as f64) as u64;
                out.push(draw);
                left -= draw;
                weight_left -= w;
            }
            out
        }
    }

    fn rel(left: &[usize], right: &[usize]) -> Relation {
        Relation::new(left.to_vec(), right.to_vec())
    }

    fn primary(counts: &[u64], rule: Rule) -> Vec<Cell> {
        counts.iter().map(|&n| rule.publish(n)).collect()
    }

    /// Every check on a protected table: one cell per count, values from the
    /// rule, redactions exactly where the rule redacts, every hidden cell's
    /// interval safe (by an independent [`audit`]).
    fn check_protected(counts: &[u64], relations: &[Relation], rule: Rule, cells: &[Cell]) {
        assert_eq!(cells.len(), counts.len());
        for (i, (&n, &cell)) in counts.iter().zip(cells).enumerate() {
            match cell {
                Cell::Published(v) => {
                    assert!(!rule.redacts(v), "cell {i} publishes {v}");
                    assert!(!rule.redacts(n), "cell {i} publishes a redacted count");
                    assert_eq!(v % rule.base, 0, "cell {i}");
                    assert_eq!(v, rule.round(n), "cell {i}");
                }
                Cell::Redacted => assert!(rule.redacts(n), "cell {i}"),
                Cell::Suppressed => assert!(n > rule.threshold, "cell {i} suppressed {n}"),
            }
        }
        let intervals = audit(cells, relations, rule).unwrap();
        assert_eq!(
            intervals.len(),
            cells.iter().filter(|c| c.is_hidden()).count()
        );
        for interval in intervals {
            assert!(
                interval.is_safe(rule.threshold),
                "{interval:?} narrower than {}",
                rule.threshold
            );
            let truth = counts[interval.cell] as f64;
            assert!(interval.low <= truth + 1e-6, "{interval:?} truth {truth}");
            assert!(
                interval.high.is_none_or(|h| h >= truth - 1e-6),
                "{interval:?} truth {truth}"
            );
        }
    }

    #[test]
    fn rule_by_hand() {
        let r = Rule::default();
        assert_eq!(
            r,
            Rule {
                threshold: 7,
                base: 5
            }
        );
        for n in 1..=7 {
            assert!(r.redacts(n));
        }
        assert!(!r.redacts(0));
        assert!(!r.redacts(8));
        assert_eq!(r.round(0), 0);
        assert_eq!(r.round(8), 10);
        assert_eq!(r.round(12), 10);
        assert_eq!(r.round(13), 15);
        assert_eq!(r.round(17), 15);
        assert_eq!(r.round(18), 20);
        assert_eq!(r.round(1_000_002), 1_000_000);
        assert_eq!(r.interval(0), (0, 0));
        assert_eq!(r.interval(10), (8, 12));
        assert_eq!(r.interval(15), (13, 17));
        assert_eq!(r.interval(100), (98, 102));
        assert_eq!(r.publish(0), Cell::Published(0));
        assert_eq!(r.publish(7), Cell::Redacted);
        assert_eq!(r.publish(9), Cell::Published(10));
        assert!(r.can_publish(0) && r.can_publish(10) && r.can_publish(15));
        assert!(!r.can_publish(5) && !r.can_publish(12));

        // Even base: halves round up, so [r - b/2, r + b/2 - 1].
        let even = Rule {
            threshold: 10,
            base: 10,
        };
        assert!(even.redacts(10) && !even.redacts(11) && !even.redacts(0));
        assert_eq!(even.round(14), 10);
        assert_eq!(even.round(15), 20);
        assert_eq!(even.round(24), 20);
        assert_eq!(even.round(25), 30);
        assert_eq!(even.half_widths(), (5, 4));
        assert_eq!(even.interval(20), (15, 24));
        // The low end is clamped above the threshold.
        assert_eq!(even.interval(10), (11, 14));
        assert_eq!(even.interval(30), (25, 34));

        let three = Rule {
            threshold: 2,
            base: 3,
        };
        assert_eq!(three.round(4), 3);
        assert_eq!(three.round(5), 6);
        assert_eq!(three.interval(3), (3, 4));
        assert_eq!(three.interval(6), (5, 7));

        let exact = Rule {
            threshold: 5,
            base: 1,
        };
        assert_eq!(exact.round(6), 6);
        assert_eq!(exact.interval(6), (6, 6));

        let two = Rule {
            threshold: 0,
            base: 2,
        };
        assert!(!two.redacts(1));
        assert_eq!(two.round(1), 2);
        assert_eq!(two.round(3), 4);
        assert_eq!(two.interval(2), (1, 2));

        assert_eq!(Cell::Published(10).value(), Some(10));
        assert_eq!(Cell::Redacted.value(), None);
        assert!(Cell::Suppressed.is_hidden() && Cell::Redacted.is_hidden());
        assert!(!Cell::Published(0).is_hidden());
        let interval = Interval {
            cell: 0,
            low: 0.5,
            high: Some(7.5),
        };
        assert!((interval.width() - 7.0).abs() < 1e-12);
        assert_eq!(interval.integer_bounds(), (1, Some(7)));
        assert!(!interval.is_safe(7));
        assert!(
            Interval {
                cell: 0,
                low: 0.0,
                high: None
            }
            .width()
            .is_infinite()
        );
    }

    /// The depth-first search of [`brute_force`].
    struct Search {
        domains: Vec<(i64, i64)>,
        coefs: Vec<Vec<i64>>,
        hidden: Vec<usize>,
        best: Vec<(i64, i64)>,
        values: Vec<i64>,
        nodes: u64,
    }

    impl Search {
        /// Cells `..i` are assigned: prune, record or branch on cell `i`.
        fn go(&mut self, i: usize) {
            self.nodes += 1;
            assert!(self.nodes < 50_000_000, "brute force too big");
            for row in &self.coefs {
                let mut lo = 0;
                let mut hi = 0;
                for (c, &a) in row.iter().enumerate() {
                    if c < i {
                        lo += a * self.values[c];
                        hi += a * self.values[c];
                    } else if a > 0 {
                        lo += a * self.domains[c].0;
                        hi += a * self.domains[c].1;
                    } else {
                        lo += a * self.domains[c].1;
                        hi += a * self.domains[c].0;
                    }
                }
                if lo > 0 || hi < 0 {
                    return;
                }
            }
            if i == self.values.len() {
                for (k, &c) in self.hidden.iter().enumerate() {
                    self.best[k].0 = self.best[k].0.min(self.values[c]);
                    self.best[k].1 = self.best[k].1.max(self.values[c]);
                }
                return;
            }
            for v in self.domains[i].0..=self.domains[i].1 {
                self.values[i] = v;
                self.go(i + 1);
            }
        }
    }

    /// Brute force: every integer point with hidden cells in `0..=bound` and
    /// published cells in their intervals that satisfies the relations; the
    /// min and max of each hidden cell. Depth-first in cell order, pruning a
    /// relation as soon as its remaining cells cannot balance it.
    fn brute_force(
        cells: &[Cell],
        relations: &[Relation],
        rule: Rule,
        bound: i64,
    ) -> Vec<(i64, i64)> {
        let n = cells.len();
        let domains: Vec<(i64, i64)> = cells
            .iter()
            .map(|c| match c.value() {
                Some(v) => {
                    let (lo, hi) = rule.interval(v);
                    (lo as i64, hi as i64)
                }
                None => (0, bound),
            })
            .collect();
        let coefs: Vec<Vec<i64>> = relations
            .iter()
            .map(|r| {
                let mut row = vec![0; n];
                r.left.iter().for_each(|&c| row[c] += 1);
                r.right.iter().for_each(|&c| row[c] -= 1);
                row
            })
            .collect();
        // A hidden cell in no relation is free in 0..=bound: not enumerated.
        let free: Vec<bool> = (0..n)
            .map(|c| cells[c].is_hidden() && coefs.iter().all(|row| row[c] == 0))
            .collect();
        let domains: Vec<(i64, i64)> = domains
            .iter()
            .zip(&free)
            .map(|(&d, &free)| if free { (0, 0) } else { d })
            .collect();
        let hidden: Vec<usize> = (0..n).filter(|&c| cells[c].is_hidden()).collect();
        let mut search = Search {
            domains,
            coefs,
            best: vec![(i64::MAX, i64::MIN); hidden.len()],
            hidden,
            values: vec![0; n],
            nodes: 0,
        };
        search.go(0);
        let Search {
            hidden, mut best, ..
        } = search;
        for (k, &c) in hidden.iter().enumerate() {
            if free[c] {
                best[k] = (0, bound);
            }
        }
        best
    }

    /// Compares [`audit`] with [`brute_force`] on one instance. Brute force
    /// runs with hidden cells capped at two bounds: a cell whose maximum
    /// moves with the cap is unbounded.
    fn compare_with_brute_force(cells: &[Cell], relations: &[Relation], rule: Rule, what: &str) {
        const BOUND: i64 = 70;
        let intervals = audit(cells, relations, rule).unwrap();
        let brute = brute_force(cells, relations, rule, BOUND);
        let wider = brute_force(cells, relations, rule, BOUND + 10);
        assert_eq!(intervals.len(), brute.len());
        for ((interval, &(min, max)), &(_, wider_max)) in intervals.iter().zip(&brute).zip(&wider) {
            assert!(min <= max, "{what}: infeasible brute force");
            // The LP relaxation contains the integer hull and, for these sum
            // relations, lies within less than 1 of it.
            assert!(
                interval.low <= min as f64 + 1e-6,
                "{what}: {interval:?} vs {min}"
            );
            assert!(
                interval.low > min as f64 - 1.0,
                "{what}: {interval:?} vs {min}"
            );
            assert_eq!(
                interval.integer_bounds().0,
                min as u64,
                "{what}: {interval:?}"
            );
            match interval.high {
                None => assert!(wider_max > max, "{what}: {interval:?} but max {max}"),
                Some(high) => {
                    assert_eq!(wider_max, max, "{what}: {interval:?} bounded");
                    assert!(high >= max as f64 - 1e-6, "{what}: {interval:?} vs {max}");
                    assert!(high < max as f64 + 1.0, "{what}: {interval:?} vs {max}");
                    assert_eq!(interval.integer_bounds().1, Some(max as u64), "{what}");
                }
            }
        }
    }

    /// A small count: often 0, often redacted, sometimes published.
    fn small_count(rng: &mut Rng) -> u64 {
        match rng.range(0, 9) {
            0 | 1 => 0,
            2..=5 => rng.range(1, 7),
            _ => rng.range(8, 15),
        }
    }

    #[test]
    fn audit_matches_brute_force_on_two_way_tables() {
        let rule = Rule::default();
        let mut rng = Rng(7);
        // Cells 0..4: x00 x01 x10 x11; 4, 5: row totals; 6, 7: column
        // totals; 8: grand total.
        let relations = vec![
            rel(&[4], &[0, 1]),
            rel(&[5], &[2, 3]),
            rel(&[6], &[0, 2]),
            rel(&[7], &[1, 3]),
            rel(&[8], &[4, 5]),
            rel(&[8], &[6, 7]),
        ];
        let mut checked = 0;
        for round in 0..60 {
            let x: Vec<u64> = (0..4).map(|_| small_count(&mut rng)).collect();
            let counts = vec![
                x[0],
                x[1],
                x[2],
                x[3],
                x[0] + x[1],
                x[2] + x[3],
                x[0] + x[2],
                x[1] + x[3],
                x.iter().sum(),
            ];
            let mut cells = primary(&counts, rule);
            // Sometimes hide one more published cell, as secondary
            // suppression would.
            if rng.range(0, 2) == 0 {
                let c = rng.range(0, 8) as usize;
                if cells[c].value().is_some_and(|v| v > 0) {
                    cells[c] = Cell::Suppressed;
                }
            }
            let hidden = cells.iter().filter(|c| c.is_hidden()).count();
            if hidden == 0 || hidden > 4 {
                continue;
            }
            compare_with_brute_force(&cells, &relations, rule, &format!("table {round}"));
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} instances");
    }

    #[test]
    fn audit_matches_brute_force_on_random_sums() {
        let mut rng = Rng(2024);
        let mut checked = 0;
        for round in 0..80 {
            let rule = if round % 2 == 0 {
                Rule::default()
            } else {
                Rule {
                    threshold: 3,
                    base: 4,
                }
            };
            let leaves = rng.range(3, 5) as usize;
            let mut counts: Vec<u64> = (0..leaves).map(|_| small_count(&mut rng)).collect();
            let mut relations = Vec::new();
            for _ in 0..rng.range(1, 3) {
                let members: Vec<usize> = (0..leaves).filter(|_| rng.range(0, 1) == 0).collect();
                if members.len() < 2 || members.len() > 3 {
                    continue;
                }
                let total = counts.len();
                counts.push(members.iter().map(|&c| counts[c]).sum());
                // Put the total on either side, to exercise both.
                if rng.range(0, 1) == 0 {
                    relations.push(Relation::new(vec![total], members));
                } else {
                    relations.push(Relation::new(members, vec![total]));
                }
            }
            let mut cells = primary(&counts, rule);
            if rng.range(0, 2) == 0 {
                let c = rng.range(0, counts.len() as u64 - 1) as usize;
                if cells[c].value().is_some_and(|v| v > 0) {
                    cells[c] = Cell::Suppressed;
                }
            }
            let hidden = cells.iter().filter(|c| c.is_hidden()).count();
            if hidden == 0 || hidden > 4 || relations.is_empty() {
                continue;
            }
            compare_with_brute_force(&cells, &relations, rule, &format!("sums {round}"));
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} instances");
    }

    #[test]
    fn primary_alone_leaks_and_protect_fixes_it() {
        let rule = Rule::default();
        // a + b = c with a = 3, b = 8 (published 10), c = 11 (published 10):
        // the attacker learns a = c - b is in [8 - 12, 12 - 8] = [0, 4].
        let counts = [3, 8, 11];
        let relations = [rel(&[0, 1], &[2])];
        let cells = primary(&counts, rule);
        assert_eq!(
            cells,
            [Cell::Redacted, Cell::Published(10), Cell::Published(10)]
        );
        let intervals = audit(&cells, &relations, rule).unwrap();
        assert_eq!(
            intervals,
            [Interval {
                cell: 0,
                low: 0.0,
                high: Some(4.0)
            }]
        );
        assert!(!intervals[0].is_safe(rule.threshold));

        let protected = protect(&counts, &relations, rule).unwrap();
        // b, the smaller count, is suppressed.
        assert_eq!(
            protected,
            [Cell::Redacted, Cell::Suppressed, Cell::Published(10)]
        );
        check_protected(&counts, &relations, rule, &protected);
    }

    #[test]
    fn shared_totals_with_zeros_leak_and_protect_fixes_it() {
        let rule = Rule::default();
        // Two tables of the same 3 practices, by tier (2 tiers) and by
        // segment (2 segments), whose rows share each practice's total, and
        // an age band (2) x tier table whose tier totals equal the practice
        // x tier table's.
        //
        // cells 0..6: practice x tier (p0t0, p0t1, p1t0, p1t1, p2t0, p2t1)
        // cells 6..12: practice x segment (p0s0, p0s1, p1s0, p1s1, p2s0, p2s1)
        // cells 12..16: age x tier (a0t0, a1t0, a0t1, a1t1)
        //
        // Practice 0 has tiers (3, 8) and segments (0, 11): the published
        // zero segment pins its total to s1 in [8, 12], tier 1 is in [8, 12],
        // so the redacted tier 0 is in [0, 4].
        let counts = [3, 8, 30, 30, 20, 25, 0, 11, 25, 35, 25, 20, 20, 33, 40, 23];
        let relations = [
            rel(&[0, 1], &[6, 7]),
            rel(&[2, 3], &[8, 9]),
            rel(&[4, 5], &[10, 11]),
            rel(&[0, 2, 4], &[12, 13]),
            rel(&[1, 3, 5], &[14, 15]),
        ];
        let cells = primary(&counts, rule);
        let intervals = audit(&cells, &relations, rule).unwrap();
        assert_eq!(
            intervals,
            [Interval {
                cell: 0,
                low: 0.0,
                high: Some(4.0)
            }]
        );
        assert!(!intervals[0].is_safe(rule.threshold));
        let protected = protect(&counts, &relations, rule).unwrap();
        // Practice 0's tier 1 (8, the smallest count in the narrowing row)
        // is suppressed; the zero never is.
        assert_eq!(protected[1], Cell::Suppressed);
        assert_eq!(protected[6], Cell::Published(0));
        check_protected(&counts, &relations, rule, &protected);
    }

    #[test]
    fn hidden_cell_tied_to_hidden_cells_only() {
        let rule = Rule::default();
        // h = g (cells 0, 1, both redacted) and g + b = c with b = 8 and
        // c = 11 both published as 10: g, and so h, is in [0, 4]. h's only
        // relation holds no published cell, so the cell to suppress is found
        // one ring out: b, the smaller count.
        let counts = [3, 3, 8, 11];
        let relations = [rel(&[0], &[1]), rel(&[1, 2], &[3])];
        let intervals = audit(&primary(&counts, rule), &relations, rule).unwrap();
        assert_eq!(intervals.len(), 2);
        assert!(intervals.iter().all(|i| i.integer_bounds() == (0, Some(4))));
        let protected = protect(&counts, &relations, rule).unwrap();
        assert_eq!(
            protected,
            [
                Cell::Redacted,
                Cell::Redacted,
                Cell::Suppressed,
                Cell::Published(10)
            ]
        );
        check_protected(&counts, &relations, rule, &protected);

        // Only hidden cells and zeros around: unbounded, nothing to do.
        let counts = [5, 5, 5, 0];
        let relations = [rel(&[0], &[1]), rel(&[1], &[2, 3])];
        let protected = protect(&counts, &relations, rule).unwrap();
        assert_eq!(protected, primary(&counts, rule));
        let intervals = audit(&protected, &relations, rule).unwrap();
        assert!(intervals.iter().all(|i| i.high.is_none()));
    }

    #[test]
    fn no_secondary_suppression_needed() {
        let rule = Rule::default();
        // a + b = c with a = 3, b = 20, c = 23: a is in [23 - 22, 27 - 18] =
        // [1, 9], 8 wide.
        let counts = [3, 20, 23];
        let relations = [rel(&[0, 1], &[2])];
        let protected = protect(&counts, &relations, rule).unwrap();
        assert_eq!(protected, primary(&counts, rule));
        check_protected(&counts, &relations, rule, &protected);

        // A two-way table with margins where each redacted cell's rounded
        // row and column differences leave it 8 wide ([1, 9]).
        let counts = [4, 52, 57, 2, 56, 59, 61, 54, 115];
        let relations = [
            rel(&[4], &[0, 1]),
            rel(&[5], &[2, 3]),
            rel(&[6], &[0, 2]),
            rel(&[7], &[1, 3]),
            rel(&[8], &[4, 5]),
            rel(&[8], &[6, 7]),
        ];
        let protected = protect(&counts, &relations, rule).unwrap();
        assert_eq!(protected, primary(&counts, rule));
        check_protected(&counts, &relations, rule, &protected);

        // A cell in no relation is unbounded.
        let intervals = audit(&[Cell::Redacted, Cell::Published(10)], &[], rule).unwrap();
        assert_eq!(
            intervals,
            [Interval {
                cell: 0,
                low: 0.0,
                high: None
            }]
        );
    }

    #[test]
    fn errors() {
        let rule = Rule::default();
        assert!(matches!(
            protect(&[1, 2], &[rel(&[0], &[1])], rule),
            Err(SdcError::RelationViolated { relation: 0, .. })
        ));
        assert!(matches!(
            protect(&[1, 2], &[rel(&[0], &[2])], rule),
            Err(SdcError::CellOutOfRange { cell: 2, .. })
        ));
        assert!(matches!(
            protect(
                &[1],
                &[],
                Rule {
                    threshold: 7,
                    base: 0
                }
            ),
            Err(SdcError::InvalidRule)
        ));
        assert!(matches!(
            audit(&[Cell::Published(5)], &[], rule),
            Err(SdcError::ImpossibleValue { cell: 0, value: 5 })
        ));
        // Published values that contradict the relations: h + 10 = 0.
        assert!(matches!(
            audit(
                &[Cell::Redacted, Cell::Published(10), Cell::Published(0)],
                &[rel(&[0, 1], &[2])],
                rule
            ),
            Err(SdcError::Infeasible { cell: 0 })
        ));
    }

    #[test]
    fn deterministic_and_duplicate_terms() {
        let rule = Rule::default();
        // 2a = b written with a repeated and a cell on both sides; b + c = d.
        let counts = [5, 10, 20, 9, 30];
        let relations = [Relation::new(vec![0, 0, 3], vec![1, 3]), rel(&[1, 2], &[4])];
        let first = protect(&counts, &relations, rule).unwrap();
        let second = protect(&counts, &relations, rule).unwrap();
        assert_eq!(first, second);
        check_protected(&counts, &relations, rule, &first);
    }

    /// A synthetic ICB of about a million patients: `practices` practices in
    /// PCNs of 3 to 9, with practice x tier (4), practice x segment (8),
    /// PCN x segment and age band (19) x sex x tier tables.
    struct Icb {
        counts: Vec<u64>,
        relations: Vec<Relation>,
        practice_tier: std::ops::Range<usize>,
    }

    fn icb(seed: u64, practices: usize) -> Icb {
        const TIERS: usize = 4;
        const SEGMENTS: usize = 8;
        const AGES: usize = 19;
        let mut rng = Rng(seed);
        let mut pcn_of = Vec::with_capacity(practices);
        let mut pcns = 0;
        while pcn_of.len() < practices {
            for _ in 0..rng.range(3, 9) {
                if pcn_of.len() < practices {
                    pcn_of.push(pcns);
                }
            }
            pcns += 1;
        }
        let segment_weights = [0.40, 0.25, 0.15, 0.10, 0.06, 0.03, 0.008, 0.002];
        let mut tier_segment = vec![[[0u64; SEGMENTS]; TIERS]; practices];
        for cell in &mut tier_segment {
            // Log-uniform list sizes from 500 to 20,000.
            let size = (500.0 * 40f64.powf(rng.unit())).round() as u64;
            let tiers = rng.split(size, &[0.70, 0.22, 0.07, 0.01]);
            for (t, &n) in tiers.iter().enumerate() {
                // Higher tiers lean to the rarer segments.
                let weights: Vec<f64> = segment_weights
                    .iter()
                    .enumerate()
                    .map(|(s, &w)| w * (1.0 + (t * s) as f64 * 0.3))
                    .collect();
                let split = rng.split(n, &weights);
                cell[t].copy_from_slice(&split);
            }
        }
        let pt = |p: usize, t: usize| p * TIERS + t;
        let ps = |p: usize, s: usize| practices * TIERS + p * SEGMENTS + s;
        let ns = |n: usize, s: usize| practices * (TIERS + SEGMENTS) + n * SEGMENTS + s;
        let ast_base = practices * (TIERS + SEGMENTS) + pcns * SEGMENTS;
        let ast = |a: usize, x: usize, t: usize| ast_base + (a * 2 + x) * TIERS + t;
        let mut counts = vec![0u64; ast_base + AGES * 2 * TIERS];
        let mut relations = Vec::new();
        for (p, cell) in tier_segment.iter().enumerate() {
            for t in 0..TIERS {
                counts[pt(p, t)] = cell[t].iter().sum();
            }
            for s in 0..SEGMENTS {
                counts[ps(p, s)] = (0..TIERS).map(|t| cell[t][s]).sum();
                counts[ns(pcn_of[p], s)] += counts[ps(p, s)];
            }
            relations.push(Relation::new(
                (0..TIERS).map(|t| pt(p, t)).collect(),
                (0..SEGMENTS).map(|s| ps(p, s)).collect(),
            ));
        }
        for n in 0..pcns {
            for s in 0..SEGMENTS {
                relations.push(Relation::new(
                    vec![ns(n, s)],
                    (0..practices)
                        .filter(|&p| pcn_of[p] == n)
                        .map(|p| ps(p, s))
                        .collect(),
                ));
            }
        }
        for t in 0..TIERS {
            let total: u64 = (0..practices).map(|p| counts[pt(p, t)]).sum();
            // Older ages weigh more in the higher tiers.
            let weights: Vec<f64> = (0..AGES * 2)
                .map(|ax| {
                    let age = (ax / 2) as f64 / AGES as f64;
                    1.0 + age * t as f64 * 3.0 - age * 0.5
                })
                .collect();
            let split = rng.split(total, &weights);
            for (ax, &n) in split.iter().enumerate() {
                counts[ast(ax / 2, ax % 2, t)] = n;
            }
            relations.push(Relation::new(
                (0..practices).map(|p| pt(p, t)).collect(),
                (0..AGES * 2).map(|ax| ast(ax / 2, ax % 2, t)).collect(),
            ));
        }
        Icb {
            counts,
            relations,
            practice_tier: 0..practices * TIERS,
        }
    }

    #[test]
    fn realistic_icb() {
        let rule = Rule::default();
        let icb = icb(42, 130);
        assert!(icb.counts.len() > 1_500, "{} cells", icb.counts.len());
        assert!(
            icb.relations.len() > 250,
            "{} relations",
            icb.relations.len()
        );
        let patients: u64 = icb.counts[icb.practice_tier.clone()].iter().sum();
        assert!(patients > 500_000, "{patients} patients");
        let primary_hidden = icb.counts.iter().filter(|&&n| rule.redacts(n)).count();
        assert!(primary_hidden >= 50, "only {primary_hidden} redacted");
        // Primary suppression alone leaks here.
        let leaks = audit(&primary(&icb.counts, rule), &icb.relations, rule)
            .unwrap()
            .iter()
            .filter(|i| !i.is_safe(rule.threshold))
            .count();
        assert!(leaks >= 1, "no leak to fix");

        let protected = protect(&icb.counts, &icb.relations, rule).unwrap();
        check_protected(&icb.counts, &icb.relations, rule, &protected);

        let hidden_pt = protected[icb.practice_tier.clone()]
            .iter()
            .filter(|c| c.is_hidden())
            .count();
        let share = hidden_pt as f64 / icb.practice_tier.len() as f64;
        // Secondary suppression should cost little: most practice x tier
        // cells stay published.
        assert!(share < 0.1, "{share} of practice x tier cells hidden");
        assert!(protected.contains(&Cell::Suppressed));
    }

    /// The warm-started bounds equal cold solves of the whole component.
    #[test]
    fn warm_bounds_match_cold_solves() {
        let rule = Rule::default();
        let icb = icb(1, 130);
        let cells = protect(&icb.counts, &icb.relations, rule).unwrap();
        let intervals = audit(&cells, &icb.relations, rule).unwrap();
        let model = Model::new(cells.len(), &icb.relations).unwrap();
        let domains: Vec<Domain> = cells.iter().map(|&c| Domain::of(c, rule)).collect();
        let (label, components) = model.components(&domains);
        for interval in intervals.iter().step_by(7) {
            let component = &components[label[interval.cell].unwrap()];
            let high = model
                .extreme(&domains, component, interval.cell, true)
                .unwrap();
            let low = model
                .extreme(&domains, component, interval.cell, false)
                .unwrap();
            assert_eq!(interval.high, high, "{interval:?}");
            assert_eq!(Some(interval.low), low, "{interval:?}");
        }
    }
}
