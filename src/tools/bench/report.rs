//! The benchmark's results: one [`ScenarioResult`] per scenario (figures, the same-run baseline,
//! their ratio and the goals), printed as a table and written as JSON.

use std::fmt;

use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
}

impl Figure {
    pub fn new(name: impl Into<String>, value: f64, unit: &'static str) -> Self {
        Figure { name: name.into(), value, unit }
    }
}

/// A goal and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub goal: String,
    pub met: bool,
}

impl Goal {
    pub fn new(goal: impl Into<String>, met: bool) -> Self {
        Goal { goal: goal.into(), met }
    }
}

/// What one scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub scenario: &'static str,
    pub figures: Vec<Figure>,
    /// The same-run figure the main one is judged against.
    pub baseline: Figure,
    /// `ratio_of` divided by the baseline.
    pub ratio: f64,
    pub ratio_of: String,
    pub goals: Vec<Goal>,
    /// Breakdowns (daemon phases, per-level steps, …).
    pub details: serde_json::Value,
}

/// Everything one `brewlytics bench` run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub machine: serde_json::Value,
    pub options: serde_json::Value,
    pub scenarios: Vec<ScenarioResult>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<10} {:<34} {:>14}  {:<8}", "scenario", "figure", "value", "unit")?;
        for s in &self.scenarios {
            writeln!(f, "{}", "-".repeat(72))?;
            for (i, fig) in s.figures.iter().enumerate() {
                let name = if i == 0 { s.scenario } else { "" };
                writeln!(f, "{name:<10} {:<34} {:>14}  {}", fig.name, number(fig.value), fig.unit)?;
            }
            let b = &s.baseline;
            writeln!(f, "{:<10} {:<34} {:>14}  {}", "", format!("baseline: {}", b.name), number(b.value), b.unit)?;
            writeln!(f, "{:<10} {:<34} {:>14.3}", "", format!("ratio: {}", s.ratio_of), s.ratio)?;
            for g in &s.goals {
                writeln!(f, "{:<10} goal {:<4} {}", "", if g.met { "met" } else { "MISS" }, g.goal)?;
            }
        }
        Ok(())
    }
}

/// One decimal for large figures, three for small ones (ratios).
fn number(v: f64) -> String {
    if v.abs() < 10.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1}")
    }
}
