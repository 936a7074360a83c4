//! The monthly cost estimate: requested resources × replicas × hours × prices.
//!
//! - A service runs all month (730 hours, a 365-day year over 12 months), once at its
//!   minimum and once at its maximum replica count: the range of what autoscaling costs.
//! - A batch job, a training pipeline and a feature materialization run on their cron
//!   schedule: runs per month are counted over the calendar year 2026 and divided by 12;
//!   each run is assumed to take `batch_run_hours`, `training_run_hours` or
//!   `materialization_run_minutes` (price table assumptions, overridable) and never longer
//!   than the gap to the next run. A training without a schedule is one run a month.
//! - Prices are per vCPU-hour, GiB-hour (memory) and accelerator-hour by accelerator type
//!   (`default` for a `gpu` without `accelerator`). The defaults are `stdlib/prices.toml`;
//!   `[prices]` in `plinth.toml` overrides any of them.
//!
//! Money is `f64` dollars rounded to cents when printed; the same inputs give the same
//! bits on every machine (no fused arithmetic, sums in name order).

use plinth_ir::{Cron, Duration, Platform, Resources};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const STDLIB_PRICES: &str = include_str!("../../../../stdlib/prices.toml");

/// Hours in an average month: 365 × 24 / 12.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Prices and run-length assumptions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub currency: String,
    pub vcpu_hour: f64,
    pub gib_hour: f64,
    /// Per accelerator type; `default` prices a `gpu` without an `accelerator`.
    pub accelerator_hour: BTreeMap<String, f64>,
    pub training_run_hours: f64,
    pub batch_run_hours: f64,
    pub materialization_run_minutes: f64,
}

/// `[prices]` of `plinth.toml`: any subset of the table; accelerators merge by type.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverrides {
    pub currency: Option<String>,
    pub vcpu_hour: Option<f64>,
    pub gib_hour: Option<f64>,
    #[serde(default)]
    pub accelerator_hour: BTreeMap<String, f64>,
    pub training_run_hours: Option<f64>,
    pub batch_run_hours: Option<f64>,
    pub materialization_run_minutes: Option<f64>,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable::stdlib()
    }
}

impl PriceTable {
    /// The stdlib defaults (`stdlib/prices.toml`, embedded).
    pub fn stdlib() -> PriceTable {
        // INVARIANT: the embedded file parses; `stdlib_prices_parse` tests it. The zero
        // table is only a fallback so that no input can make this panic.
        toml::from_str(STDLIB_PRICES).unwrap_or(PriceTable {
            currency: "USD".to_string(),
            vcpu_hour: 0.0,
            gib_hour: 0.0,
            accelerator_hour: BTreeMap::new(),
            training_run_hours: 0.0,
            batch_run_hours: 0.0,
            materialization_run_minutes: 0.0,
        })
    }

    /// The stdlib table with `plinth.toml`'s overrides applied; negative or non-finite
    /// values are refused with the key that holds them.
    pub fn with_overrides(overrides: &PriceOverrides) -> Result<PriceTable, String> {
        let mut t = PriceTable::stdlib();
        let set = |slot: &mut f64, v: Option<f64>, key: &str| -> Result<(), String> {
            if let Some(v) = v {
                if !v.is_finite() || v < 0.0 {
                    return Err(format!("`prices.{key}` must be a number ≥ 0, not {v}"));
                }
                *slot = v;
            }
            Ok(())
        };
        set(&mut t.vcpu_hour, overrides.vcpu_hour, "vcpu_hour")?;
        set(&mut t.gib_hour, overrides.gib_hour, "gib_hour")?;
        set(
            &mut t.training_run_hours,
            overrides.training_run_hours,
            "training_run_hours",
        )?;
        set(
            &mut t.batch_run_hours,
            overrides.batch_run_hours,
            "batch_run_hours",
        )?;
        set(
            &mut t.materialization_run_minutes,
            overrides.materialization_run_minutes,
            "materialization_run_minutes",
        )?;
        for (kind, price) in &overrides.accelerator_hour {
            let mut slot = 0.0;
            set(&mut slot, Some(*price), &format!("accelerator_hour.{kind}"))?;
            t.accelerator_hour.insert(kind.clone(), slot);
        }
        if let Some(c) = &overrides.currency {
            t.currency = c.clone();
        }
        Ok(t)
    }

    /// Dollars per hour of one replica (or one run) with these resources; the second
    /// value names an accelerator type missing from the table (priced at `default`).
    fn hourly(&self, r: &Resources) -> (f64, Option<String>) {
        let cpu = r.cpu.map_or(0.0, |c| c.0 as f64 / 1000.0);
        let gib = r.memory.map_or(0.0, |m| m.0 as f64 / f64::from(1u32 << 30));
        let kind = r.accelerator.as_deref().unwrap_or("default");
        let (price, missing) = match self.accelerator_hour.get(kind) {
            Some(p) => (*p, None),
            None => (
                self.accelerator_hour.get("default").copied().unwrap_or(0.0),
                (r.gpu > 0).then(|| kind.to_string()),
            ),
        };
        (
            cpu * self.vcpu_hour + gib * self.gib_hour + f64::from(r.gpu) * price,
            missing,
        )
    }
}

/// One costed item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostItem {
    /// `service`, `batch_job`, `training` or `materialization`.
    pub kind: &'static str,
    pub name: String,
    pub team: String,
    pub cost_center: Option<String>,
    pub environment: String,
    /// What the figure is made of, e.g. `3..30 replicas × 2 vCPU, 4Gi, 1 nvidia_t4 × 730 h`.
    pub basis: String,
    pub monthly_min: f64,
    pub monthly_max: f64,
}

/// A sum over items.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CostTotal {
    pub monthly_min: f64,
    pub monthly_max: f64,
}

impl CostTotal {
    fn add(&mut self, item: &CostItem) {
        self.monthly_min += item.monthly_min;
        self.monthly_max += item.monthly_max;
    }
}

/// The estimate for one or more environments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostReport {
    pub prices: PriceTable,
    pub items: Vec<CostItem>,
    pub by_team: BTreeMap<String, CostTotal>,
    pub by_environment: BTreeMap<String, CostTotal>,
    /// `(none)` collects teams without a `cost_center`.
    pub by_cost_center: BTreeMap<String, CostTotal>,
    pub total: CostTotal,
    /// Things the estimate could not price exactly.
    pub notes: Vec<String>,
}

impl CostReport {
    /// Every amount rounded to cents, for JSON.
    pub fn rounded(&self) -> CostReport {
        let total = |t: &CostTotal| CostTotal {
            monthly_min: round2(t.monthly_min),
            monthly_max: round2(t.monthly_max),
        };
        let totals = |m: &BTreeMap<String, CostTotal>| {
            m.iter().map(|(k, t)| (k.clone(), total(t))).collect()
        };
        CostReport {
            prices: self.prices.clone(),
            items: self
                .items
                .iter()
                .map(|i| CostItem {
                    monthly_min: round2(i.monthly_min),
                    monthly_max: round2(i.monthly_max),
                    ..i.clone()
                })
                .collect(),
            by_team: totals(&self.by_team),
            by_environment: totals(&self.by_environment),
            by_cost_center: totals(&self.by_cost_center),
            total: total(&self.total),
            notes: self.notes.clone(),
        }
    }
}

/// The estimate over the platforms of the given environments.
pub fn estimate(platforms: &[&Platform], prices: &PriceTable) -> CostReport {
    let mut items = Vec::new();
    let mut notes = Vec::new();
    for p in platforms {
        items.extend(platform_items(p, prices, &mut notes));
    }
    items.sort_by(|a, b| {
        (&a.environment, &a.team, a.kind, &a.name).cmp(&(&b.environment, &b.team, b.kind, &b.name))
    });
    notes.sort();
    notes.dedup();
    let mut report = CostReport {
        prices: prices.clone(),
        items: Vec::new(),
        by_team: BTreeMap::new(),
        by_environment: BTreeMap::new(),
        by_cost_center: BTreeMap::new(),
        total: CostTotal::default(),
        notes,
    };
    for item in &items {
        report
            .by_team
            .entry(item.team.clone())
            .or_default()
            .add(item);
        report
            .by_environment
            .entry(item.environment.clone())
            .or_default()
            .add(item);
        let cc = item
            .cost_center
            .clone()
            .unwrap_or_else(|| "(none)".to_string());
        report.by_cost_center.entry(cc).or_default().add(item);
        report.total.add(item);
    }
    report.items = items;
    report
}

fn describe(r: &Resources) -> String {
    let mut parts = Vec::new();
    if let Some(c) = r.cpu {
        parts.push(format!("{c} vCPU"));
    }
    if let Some(m) = r.memory {
        parts.push(m.to_string());
    }
    if r.gpu > 0 {
        parts.push(format!(
            "{} {}",
            r.gpu,
            r.accelerator.as_deref().unwrap_or("gpu")
        ));
    }
    if parts.is_empty() {
        "no resources requested".to_string()
    } else {
        parts.join(", ")
    }
}

fn platform_items(p: &Platform, prices: &PriceTable, notes: &mut Vec<String>) -> Vec<CostItem> {
    let env = &p.environment.name;
    let cost_center = |team: &str| p.teams.get(team).and_then(|t| t.cost_center.clone());
    let mut hourly = |r: &Resources, what: &str| {
        let (h, missing) = prices.hourly(r);
        if let Some(kind) = missing {
            notes.push(format!(
                "{what}: no price for accelerator `{kind}`; priced at `default`"
            ));
        }
        if r.cpu.is_none() && r.memory.is_none() && r.gpu == 0 {
            notes.push(format!("{what}: requests no resources; costed at 0"));
        }
        h
    };
    let mut items = Vec::new();
    for s in p.services.values() {
        let h = hourly(&s.resources, &format!("service `{}`", s.name));
        items.push(CostItem {
            kind: "service",
            name: s.name.clone(),
            team: s.owner.clone(),
            cost_center: cost_center(&s.owner),
            environment: env.clone(),
            basis: format!(
                "{}..{} replicas × {} × {} h",
                s.min_replicas,
                s.max_replicas,
                describe(&s.resources),
                HOURS_PER_MONTH
            ),
            monthly_min: f64::from(s.min_replicas) * h * HOURS_PER_MONTH,
            monthly_max: f64::from(s.max_replicas) * h * HOURS_PER_MONTH,
        });
    }
    // Counting a cron's runs walks the calendar year; schedules repeat across thousands
    // of jobs, so each distinct expression is counted once.
    let mut runs_of: BTreeMap<String, Option<f64>> = BTreeMap::new();
    let mut scheduled = |kind: &'static str,
                         name: &str,
                         team: &str,
                         schedule: Option<&Cron>,
                         run_hours: f64,
                         resources: &Resources| {
        let h = hourly(resources, &format!("{kind} `{name}`"));
        let (runs, run_hours, when) = match schedule {
            Some(c) => {
                let gap_hours = c.interval.millis() as f64 / Duration::HOUR as f64;
                let runs = match runs_of.get(c.expr.as_str()) {
                    Some(runs) => *runs,
                    None => {
                        let runs = runs_per_month(&c.expr);
                        runs_of.insert(c.expr.clone(), runs);
                        runs
                    }
                };
                let runs = runs.unwrap_or_else(|| HOURS_PER_MONTH / gap_hours.max(1.0 / 60.0));
                (runs, run_hours.min(gap_hours), format!("`{}`", c.expr))
            }
            None => (1.0, run_hours, "unscheduled".to_string()),
        };
        let monthly = runs * run_hours * h;
        CostItem {
            kind,
            name: name.to_string(),
            team: team.to_string(),
            cost_center: cost_center(team),
            environment: env.clone(),
            basis: format!(
                "{} runs ({when}) × {} h × {}",
                round2(runs),
                round2(run_hours),
                describe(resources)
            ),
            monthly_min: monthly,
            monthly_max: monthly,
        }
    };
    for j in p.batch_jobs.values() {
        items.push(scheduled(
            "batch_job",
            &j.name,
            &j.owner,
            Some(&j.schedule),
            prices.batch_run_hours,
            &j.resources,
        ));
    }
    for m in p.models.values() {
        if let Some(t) = &m.training {
            items.push(scheduled(
                "training",
                &m.name,
                &m.owner,
                t.schedule.as_ref(),
                prices.training_run_hours,
                &t.resources,
            ));
        }
    }
    for v in p.feature_views.values() {
        if v.schedule.is_some() {
            items.push(scheduled(
                "materialization",
                &v.name,
                &v.owner,
                v.schedule.as_ref(),
                prices.materialization_run_minutes / 60.0,
                &v.resources,
            ));
        }
    }
    items
}

/// Rounded to cents (for display and JSON).
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `1234.5` as `1,234.50`.
pub fn money(x: f64) -> String {
    let cents = (x * 100.0).round() as i64;
    let (sign, cents) = if cents < 0 {
        ("-", -cents)
    } else {
        ("", cents)
    };
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", cents % 100)
}

fn field(text: &str, min: u32, max: u32) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().ok()?, b.parse().ok()?)
        } else {
            let v: u32 = range.parse().ok()?;
            if part.contains('/') { (v, max) } else { (v, v) }
        };
        if lo < min || hi > max || lo > hi {
            return None;
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    Some(out)
}

/// Average runs per month of a five-field cron expression, counted over 2026 (`None`
/// when it does not parse; the checker has already refused such a spec).
pub fn runs_per_month(expr: &str) -> Option<f64> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields.as_slice() else {
        return None;
    };
    let per_day = (field(minute, 0, 59)?.len() * field(hour, 0, 23)?.len()) as f64;
    let doms = field(dom, 1, 31)?;
    let months = field(month, 1, 12)?;
    let dows: Vec<u32> = field(dow, 0, 7)?.into_iter().map(|d| d % 7).collect();
    let lengths = [31u32, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    // 2026-01-01 is a Thursday (day of week 4).
    let mut weekday = 4u32;
    let mut days = 0u32;
    for (m, len) in (1u32..).zip(lengths) {
        for d in 1..=len {
            let dom_ok = doms.contains(&d);
            let dow_ok = dows.contains(&weekday);
            // Vixie cron: when both day fields are restricted, either may match.
            let day_ok = match (*dom == "*", *dow == "*") {
                (true, true) => true,
                (false, true) => dom_ok,
                (true, false) => dow_ok,
                (false, false) => dom_ok || dow_ok,
            };
            if day_ok && months.contains(&m) {
                days += 1;
            }
            weekday = (weekday + 1) % 7;
        }
    }
    Some(f64::from(days) * per_day / 12.0)
}
