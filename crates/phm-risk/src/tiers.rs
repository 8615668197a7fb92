//! The risk pyramid: tiers by percentile of predicted risk.
//!
//! Patients are ranked by predicted risk, highest first; patients with equal risk are ranked
//! by pseudonym (ascending), so the order, and every tier's size, is the same on every run
//! and exactly the configured share of the spine: the top `ceil(share × N)` ranks of the
//! first tier, and so on down. The pseudonym is a keyed hash, so this tie-break favours no one
//! in particular.

/// One tier: a name and the cumulative share of patients from the top it reaches (the
/// pipeline definition's `[risk] tiers`).
pub use phm_run::pipeline::RiskTier as Tier;

/// The default pyramid: very high (top 0.5%), high (0.5-5%), moderate (5-20%), low (rest).
pub fn default_tiers() -> Vec<Tier> {
    phm_run::pipeline::Risk::default().tiers
}

/// Why a pyramid cannot be used.
pub fn check(tiers: &[Tier]) -> Result<(), String> {
    if tiers.is_empty() {
        return Err("no tiers".to_owned());
    }
    let mut last = 0.0;
    for t in tiers {
        if !(t.top > last && t.top <= 1.0) {
            return Err(format!(
                "tier `{}`: `top` must rise from one tier to the next and stay in (0, 1], found {}",
                t.name, t.top
            ));
        }
        last = t.top;
    }
    if (last - 1.0).abs() > f64::EPSILON {
        return Err(format!(
            "the last tier (`{}`) must reach `top = 1.0` so that every patient has a tier",
            tiers[tiers.len() - 1].name
        ));
    }
    Ok(())
}

/// Each row's rank (0 = highest risk), percentile (100 × share of patients ranked below it)
/// and tier index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    /// 0 = highest risk.
    pub rank: usize,
    /// 100 × (N - 1 - rank) / N.
    pub percentile: f64,
    /// Index into the tiers.
    pub tier: usize,
}

/// Place every row in the pyramid.
pub fn assign(risk: &[f64], pseudonyms: &[String], tiers: &[Tier]) -> Vec<Placed> {
    let n = risk.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        risk[b]
            .total_cmp(&risk[a])
            .then_with(|| pseudonyms[a].cmp(&pseudonyms[b]))
    });
    let edges: Vec<usize> = tiers
        .iter()
        .map(|t| ((t.top * n as f64).ceil() as usize).min(n))
        .collect();
    let mut out = vec![
        Placed {
            rank: 0,
            percentile: 0.0,
            tier: 0,
        };
        n
    ];
    let mut tier = 0;
    for (rank, &row) in order.iter().enumerate() {
        while tier + 1 < edges.len() && rank >= edges[tier] {
            tier += 1;
        }
        out[row] = Placed {
            rank,
            percentile: 100.0 * (n - 1 - rank) as f64 / n as f64,
            tier,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_shares_and_ties_go_by_pseudonym() {
        let n = 1000;
        // Ten distinct risks, a hundred patients each: ties everywhere.
        let risk: Vec<f64> = (0..n).map(|i| (i % 10) as f64 / 10.0).collect();
        let names: Vec<String> = (0..n).map(|i| format!("p{i:04}")).collect();
        let placed = assign(&risk, &names, &default_tiers());
        let count = |t: usize| placed.iter().filter(|p| p.tier == t).count();
        assert_eq!([count(0), count(1), count(2), count(3)], [5, 45, 150, 800]);
        // The top five: risk 0.9, lowest pseudonyms among those with it.
        let mut top: Vec<&str> = (0..n)
            .filter(|&i| placed[i].tier == 0)
            .map(|i| names[i].as_str())
            .collect();
        top.sort_unstable();
        assert_eq!(top, ["p0009", "p0019", "p0029", "p0039", "p0049"]);
        assert!(
            placed
                .iter()
                .all(|p| p.percentile >= 0.0 && p.percentile < 100.0)
        );
    }

    #[test]
    fn a_pyramid_must_rise_and_reach_everyone() {
        assert!(check(&default_tiers()).is_ok());
        let mut t = default_tiers();
        t[3].top = 0.9;
        assert!(check(&t).unwrap_err().contains("every patient"));
        t[3].top = 0.1;
        assert!(check(&t).unwrap_err().contains("rise"));
    }
}
