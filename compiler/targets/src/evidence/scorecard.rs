//! The platform scorecard of one environment: readiness figures per team and for the
//! whole platform. Each figure is a share `met / of` (absent when `of` is 0, never a
//! made-up 100%):
//!
//! - production readiness: deployables (services, batch jobs, trained models, scheduled
//!   feature views) with no unwaived error-severity policy violation;
//! - golden-path adoption: services extending a stdlib (`std.*`) profile;
//! - SLO coverage: services with at least one SLO;
//! - drift-monitor coverage: services with a `monitor drift`;
//! - data-quality coverage: feature views with at least one `expect` check;
//! - waivers in force (not expired on the policy date) and those expiring within 30 days.

use plinth_ir::Platform;
use plinth_ir::PolicySummary;
use serde::Serialize;
use std::collections::BTreeMap;

/// Days ahead in which an expiring waiver is flagged.
pub const EXPIRING_DAYS: i64 = 30;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Share {
    pub met: usize,
    pub of: usize,
    /// Whole percent, rounded down; `None` when there is nothing to count.
    pub percent: Option<u32>,
    /// The ones that do not meet it, sorted.
    pub missing: Vec<String>,
}

impl Share {
    fn count(&mut self, name: &str, ok: bool) {
        self.of += 1;
        if ok {
            self.met += 1;
        } else {
            self.missing.push(name.to_string());
        }
    }

    fn finish(&mut self) {
        self.missing.sort();
        self.percent = (self.of > 0).then(|| {
            // `met <= of`, so the quotient is at most 100.
            u32::try_from(self.met * 100 / self.of).unwrap_or(100)
        });
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub production_readiness: Share,
    pub golden_path_adoption: Share,
    pub slo_coverage: Share,
    pub drift_monitor_coverage: Share,
    pub data_quality_coverage: Share,
    pub waivers_in_force: Vec<String>,
    pub waivers_expiring_30d: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Scorecard {
    pub environment: String,
    /// The policy date of the readiness and waiver figures; `None`: not evaluated.
    /// Not written to `scorecard.json`: build output changes only when a figure does.
    #[serde(skip)]
    pub policy_date: Option<String>,
    /// Whether policies were evaluated (readiness is measured).
    pub policy_evaluated: bool,
    pub platform: Figures,
    pub teams: BTreeMap<String, Figures>,
}

/// Waivers in force on the policy date (all of them when policies were not evaluated),
/// and for each the days left.
pub fn waivers_in_force<'p>(
    p: &'p Platform,
    policy: &PolicySummary,
) -> Vec<(&'p plinth_ir::Waiver, Option<i64>)> {
    p.waivers
        .values()
        .filter_map(|w| match policy.today {
            Some(today) => {
                let left = w.expires.days_since_epoch() - today.days_since_epoch();
                (left >= 0).then_some((w, Some(left)))
            }
            None => Some((w, None)),
        })
        .collect()
}

/// The team that owns a declaration named `name` (any deployable kind).
fn owner_of<'p>(p: &'p Platform, name: &str) -> Option<&'p str> {
    p.services
        .get(name)
        .map(|s| s.owner.as_str())
        .or_else(|| p.batch_jobs.get(name).map(|j| j.owner.as_str()))
        .or_else(|| p.models.get(name).map(|m| m.owner.as_str()))
        .or_else(|| p.feature_views.get(name).map(|v| v.owner.as_str()))
        .or_else(|| p.sources.get(name).map(|s| s.owner.as_str()))
        .or_else(|| p.teams.get(name).map(|t| t.name.as_str()))
}

pub fn scorecard(p: &Platform, policy: &PolicySummary) -> Scorecard {
    let blocked = policy.blocked();
    let evaluated = policy.today.is_some();
    let mut platform = Figures::default();
    let mut teams: BTreeMap<String, Figures> = p
        .teams
        .keys()
        .map(|t| (t.clone(), Figures::default()))
        .collect();
    let mut both = |team: &str, f: &dyn Fn(&mut Figures)| {
        f(&mut platform);
        f(teams.entry(team.to_string()).or_default());
    };
    let ready = |kind: &str, name: &str| !blocked.contains(&(kind, name));
    let mut deployables: Vec<(&str, &str, &str)> = Vec::new();
    for s in p.services.values() {
        deployables.push(("Service", &s.name, &s.owner));
    }
    for j in p.batch_jobs.values() {
        deployables.push(("BatchJob", &j.name, &j.owner));
    }
    for m in p.models.values().filter(|m| m.training.is_some()) {
        deployables.push(("Model", &m.name, &m.owner));
    }
    for v in p.feature_views.values().filter(|v| v.schedule.is_some()) {
        deployables.push(("FeatureView", &v.name, &v.owner));
    }
    if evaluated {
        for (kind, name, owner) in deployables {
            let ok = ready(kind, name);
            both(owner, &|f| f.production_readiness.count(name, ok));
        }
    }
    for s in p.services.values() {
        let golden = s.profiles.iter().any(|x| x.starts_with("std."));
        let slo = !s.slos.is_empty();
        let drift = s
            .monitors
            .iter()
            .any(|m| matches!(m, plinth_ir::Monitor::Drift { .. }));
        both(&s.owner, &|f| {
            f.golden_path_adoption.count(&s.name, golden);
            f.slo_coverage.count(&s.name, slo);
            f.drift_monitor_coverage.count(&s.name, drift);
        });
    }
    for v in p.feature_views.values() {
        let ok = !v.expects.is_empty();
        both(&v.owner, &|f| f.data_quality_coverage.count(&v.name, ok));
    }
    for (w, left) in waivers_in_force(p, policy) {
        let mut owners: Vec<&str> = w.targets.iter().filter_map(|t| owner_of(p, t)).collect();
        owners.sort_unstable();
        owners.dedup();
        let expiring = left.is_some_and(|d| d <= EXPIRING_DAYS);
        platform.waivers_in_force.push(w.name.clone());
        if expiring {
            platform.waivers_expiring_30d.push(w.name.clone());
        }
        for o in owners {
            let f = teams.entry(o.to_string()).or_default();
            f.waivers_in_force.push(w.name.clone());
            if expiring {
                f.waivers_expiring_30d.push(w.name.clone());
            }
        }
    }
    for f in std::iter::once(&mut platform).chain(teams.values_mut()) {
        for s in [
            &mut f.production_readiness,
            &mut f.golden_path_adoption,
            &mut f.slo_coverage,
            &mut f.drift_monitor_coverage,
            &mut f.data_quality_coverage,
        ] {
            s.finish();
        }
    }
    Scorecard {
        environment: p.environment.name.clone(),
        policy_date: policy.today.map(|d| d.to_string()),
        policy_evaluated: policy.today.is_some(),
        platform,
        teams,
    }
}

/// One table row of the scorecard, as text.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub scope: String,
    pub readiness: String,
    pub readiness_percent: Option<u32>,
    pub golden: String,
    pub golden_percent: Option<u32>,
    pub slo: String,
    pub slo_percent: Option<u32>,
    pub drift: String,
    pub drift_percent: Option<u32>,
    pub quality: String,
    pub quality_percent: Option<u32>,
    pub waivers: String,
    pub expiring: String,
}

/// A figure with what is missing for it, as text.
#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    pub figure: String,
    pub names: String,
}

fn share_text(s: &Share) -> String {
    match s.percent {
        Some(p) => format!("{p}% ({}/{})", s.met, s.of),
        None => "–".to_string(),
    }
}

fn row(scope: &str, f: &Figures) -> Row {
    Row {
        scope: scope.to_string(),
        readiness: share_text(&f.production_readiness),
        readiness_percent: f.production_readiness.percent,
        golden: share_text(&f.golden_path_adoption),
        golden_percent: f.golden_path_adoption.percent,
        slo: share_text(&f.slo_coverage),
        slo_percent: f.slo_coverage.percent,
        drift: share_text(&f.drift_monitor_coverage),
        drift_percent: f.drift_monitor_coverage.percent,
        quality: share_text(&f.data_quality_coverage),
        quality_percent: f.data_quality_coverage.percent,
        waivers: f.waivers_in_force.len().to_string(),
        expiring: f.waivers_expiring_30d.len().to_string(),
    }
}

/// The platform row first, then one per team.
pub fn rows(card: &Scorecard) -> Vec<Row> {
    std::iter::once(row("platform", &card.platform))
        .chain(card.teams.iter().map(|(t, f)| row(&format!("team {t}"), f)))
        .collect()
}

/// Platform-wide: what each figure misses, by name.
pub fn gaps(card: &Scorecard) -> Vec<Gap> {
    let f = &card.platform;
    [
        ("Not production-ready", &f.production_readiness),
        ("Not on a golden path", &f.golden_path_adoption),
        ("Services without an SLO", &f.slo_coverage),
        (
            "Services without a drift monitor",
            &f.drift_monitor_coverage,
        ),
        (
            "Feature views without data-quality checks",
            &f.data_quality_coverage,
        ),
    ]
    .into_iter()
    .filter(|(_, s)| !s.missing.is_empty())
    .map(|(figure, s)| Gap {
        figure: figure.to_string(),
        names: s.missing.join(", "),
    })
    .chain((!f.waivers_expiring_30d.is_empty()).then(|| Gap {
        figure: "Waivers expiring within 30 days".to_string(),
        names: f.waivers_expiring_30d.join(", "),
    }))
    .collect()
}
