//! Every count a run publishes, in one frame, so that disclosure control sees all of them at
//! once: the aggregates, the pyramid, score distributions and the report's ingest counts are
//! grids of cells, and relations say which sums of true counts are equal across them.

use serde::Serialize;

use crate::sdc::{self, Cell, Relation, Rule};

/// A table of counts: rows named by one or more keys, columns by name.
#[derive(Debug, Clone)]
pub struct Grid {
    /// The table's name (`practice_tier`).
    pub name: String,
    /// The names of the key columns (`practice_code`).
    pub keys: Vec<String>,
    /// Each row's key values.
    pub rows: Vec<Vec<String>>,
    /// The count columns.
    pub columns: Vec<String>,
    /// True counts, `rows x columns`.
    pub counts: Vec<Vec<u64>>,
}

impl Grid {
    /// An empty grid with these key and count columns.
    pub fn new(name: &str, keys: &[&str], columns: Vec<String>) -> Self {
        Grid {
            name: name.to_owned(),
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            rows: Vec::new(),
            columns,
            counts: Vec::new(),
        }
    }

    /// The row with these keys, added (all zeros) if new.
    pub fn row(&mut self, key: &[&str]) -> usize {
        if let Some(i) = self
            .rows
            .iter()
            .position(|r| r.iter().map(String::as_str).eq(key.iter().copied()))
        {
            return i;
        }
        self.rows
            .push(key.iter().map(|k| (*k).to_owned()).collect());
        self.counts.push(vec![0; self.columns.len()]);
        self.rows.len() - 1
    }

    /// Add `n` to the cell at row `key`, column `column` (a column it does not have is an
    /// error of the caller's, reported as such).
    pub fn add(&mut self, key: &[&str], column: &str, n: u64) -> Result<(), String> {
        let c = self
            .columns
            .iter()
            .position(|x| x == column)
            .ok_or_else(|| format!("`{}` has no column `{column}`", self.name))?;
        let r = self.row(key);
        self.counts[r][c] += n;
        Ok(())
    }

    /// The sum of every cell.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }
}

/// Grids placed in one index space, with the relations between their true counts.
#[derive(Debug, Default)]
pub struct Frame {
    grids: Vec<(Grid, usize)>,
    cells: usize,
    relations: Vec<Relation>,
}

/// A grid in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridId(usize);

impl Frame {
    /// Place a grid.
    pub fn add(&mut self, grid: Grid) -> GridId {
        let size = grid.rows.len() * grid.columns.len();
        self.grids.push((grid, self.cells));
        self.cells += size;
        GridId(self.grids.len() - 1)
    }

    /// A grid placed earlier.
    pub fn grid(&self, id: GridId) -> &Grid {
        &self.grids[id.0].0
    }

    fn index(&self, id: GridId, row: usize, column: usize) -> usize {
        let (g, first) = &self.grids[id.0];
        first + row * g.columns.len() + column
    }

    /// The cells of one row.
    pub fn row_cells(&self, id: GridId, row: usize) -> Vec<usize> {
        (0..self.grid(id).columns.len())
            .map(|c| self.index(id, row, c))
            .collect()
    }

    /// The cells of one column.
    pub fn column_cells(&self, id: GridId, column: usize) -> Vec<usize> {
        (0..self.grid(id).rows.len())
            .map(|r| self.index(id, r, column))
            .collect()
    }

    /// The cells of the rows whose keys satisfy `keep`.
    pub fn cells_where(&self, id: GridId, keep: impl Fn(&[String], &str) -> bool) -> Vec<usize> {
        let g = self.grid(id);
        let mut out = Vec::new();
        for (r, key) in g.rows.iter().enumerate() {
            for (c, column) in g.columns.iter().enumerate() {
                if keep(key, column) {
                    out.push(self.index(id, r, c));
                }
            }
        }
        out
    }

    /// Every cell of a grid.
    pub fn all_cells(&self, id: GridId) -> Vec<usize> {
        self.cells_where(id, |_, _| true)
    }

    /// Say that the true counts of `left` and `right` add up to the same number.
    pub fn relate(&mut self, left: Vec<usize>, right: Vec<usize>) {
        if !left.is_empty() || !right.is_empty() {
            self.relations.push(Relation { left, right });
        }
    }

    /// True counts in index order.
    fn counts(&self) -> Vec<u64> {
        self.grids
            .iter()
            .flat_map(|(g, _)| g.counts.iter().flatten().copied())
            .collect()
    }

    /// Disclosure control over the whole frame.
    pub fn protect(&self, rule: Rule) -> Result<Protected, sdc::SdcError> {
        let cells = sdc::protect(&self.counts(), &self.relations, rule)?;
        let grids = self
            .grids
            .iter()
            .map(|(g, first)| {
                let width = g.columns.len();
                let rows = (0..g.rows.len())
                    .map(|r| cells[first + r * width..first + (r + 1) * width].to_vec())
                    .collect();
                Table::of(g, rows)
            })
            .collect();
        Ok(Protected {
            tables: grids,
            hidden: cells.iter().filter(|c| c.is_hidden()).count(),
            cells: cells.len(),
            rule,
        })
    }
}

/// What may be published of a frame.
#[derive(Debug, Clone)]
pub struct Protected {
    /// Each grid, protected.
    pub tables: Vec<Table>,
    /// Cells hidden (redacted or suppressed) across the frame.
    pub hidden: usize,
    /// Cells in the frame.
    pub cells: usize,
    /// The rule applied.
    pub rule: Rule,
}

impl Protected {
    /// A table by grid.
    pub fn table(&self, id: GridId) -> &Table {
        &self.tables[id.0]
    }
}

/// A published count: a multiple of the rounding base, or hidden (`None`).
pub type Count = Option<u64>;

/// A grid as it may be published: cells rounded or hidden, totals summed from the published
/// cells (a hidden cell adds nothing to a total).
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// The name.
    pub name: String,
    /// Key column names.
    pub keys: Vec<String>,
    /// Count column names.
    pub columns: Vec<String>,
    /// Rows: keys, cells, row total.
    pub rows: Vec<TableRow>,
    /// Column totals, in column order.
    pub column_totals: Vec<u64>,
    /// The grand total.
    pub total: u64,
    /// Hidden cells in the table.
    pub hidden_cells: usize,
    /// Cells in the table.
    pub cell_count: usize,
}

/// One row of a published table.
#[derive(Debug, Clone, Serialize)]
pub struct TableRow {
    /// Key values.
    pub key: Vec<String>,
    /// Cells (`null`: redacted).
    pub cells: Vec<Count>,
    /// Sum of the published cells.
    pub total: u64,
}

impl Table {
    fn of(g: &Grid, cells: Vec<Vec<Cell>>) -> Self {
        let mut column_totals = vec![0; g.columns.len()];
        let mut hidden = 0;
        let rows: Vec<TableRow> = g
            .rows
            .iter()
            .zip(cells)
            .map(|(key, cells)| {
                let cells: Vec<Count> = cells.iter().map(Cell::value).collect();
                for (t, c) in column_totals.iter_mut().zip(&cells) {
                    *t += c.unwrap_or(0);
                }
                hidden += cells.iter().filter(|c| c.is_none()).count();
                TableRow {
                    key: key.clone(),
                    total: cells.iter().flatten().sum(),
                    cells,
                }
            })
            .collect();
        Table {
            name: g.name.clone(),
            keys: g.keys.clone(),
            columns: g.columns.clone(),
            total: column_totals.iter().sum(),
            cell_count: rows.len() * g.columns.len(),
            rows,
            column_totals,
            hidden_cells: hidden,
        }
    }

    /// The published cell at (row key, column), if both exist.
    pub fn get(&self, key: &[&str], column: &str) -> Option<Count> {
        let c = self.columns.iter().position(|x| x == column)?;
        let row = self
            .rows
            .iter()
            .find(|r| r.key.iter().map(String::as_str).eq(key.iter().copied()))?;
        Some(row.cells[c])
    }
}
