//! SLOs as Prometheus rules: SLI recording rules per window and multiwindow,
//! multi-burn-rate alerts after the SRE workbook (ch. 5, "Alerting on SLOs") and Sloth.
//!
//! ## Burn rates
//! A long window may burn a fixed share of the whole error budget before it alerts:
//! 2% in 1h and 5% in 6h page, 10% in 1d and 10% in 3d open a ticket. Burning a share `s`
//! of the budget over a long window `L` of an SLO window `W` means an error rate of
//! `s * W / L` times the budget, so the factor is computed, never hard-coded:
//! 30d gives 14.4, 6, 3, 1; 28d gives 13.44, 5.6, 2.8, 0.933333. Each long window is
//! paired with a short window of 1/12 of it (5m, 30m, 2h, 6h), which makes the alert stop
//! soon after the burn stops.
//!
//! ## Shared SLI recordings
//! The SLI ratios over the seven windows are the same rules for every service apart from
//! the series they read, so they are recorded once per namespace, `by (namespace, job)`,
//! in one PrometheusRule ([`SHARED_RULE_NAME`], [`shared_sli_groups`]), the way Pyrra's
//! generic rules and kube-prometheus's `apiserver` burn rates do it. Each service's own
//! PrometheusRule keeps what differs per service: the latency slice rule (its quantile
//! and threshold), the objective and error budget, and the alerts, which select the
//! service's recorded series by `namespace`, `job` (its metrics Service) and
//! `plinth_slo`. At 5,000 services that is 14 shared rules instead of 70,000 per-service
//! ones for Prometheus to evaluate every 30s, and 19% fewer bytes from this target
//! (each service's PrometheusRule shrinks from ~11 KB to ~6 KB). The price: an alert
//! reads SLI series recorded by another group, so it may see them one evaluation
//! interval (30s) late, which is nothing next to the shortest window (5m). The shared
//! availability rules also record a ratio for every other job in the namespace that
//! exports Triton metrics (seven series each), which nothing alerts on.
//!
//! ## SLIs (Triton metrics, per service: `namespace` and `job` of its metrics Service)
//! - availability: `nv_inference_request_failure` / (`nv_inference_request_success` +
//!   `nv_inference_request_failure`). Both are per-request counters Triton always exports
//!   (the failure counter per `reason` since 24.x; summing over it counts all reasons).
//! - latency: Triton exports no per-request latency **histogram** for ordinary
//!   (non-decoupled) models: request latency is a cumulative counter
//!   (`nv_inference_request_duration_us`, only gives a mean) plus, opt-in, a summary
//!   `nv_inference_request_summary_us` with configurable quantiles. A request-based
//!   "slower than threshold / all" ratio is therefore impossible from Triton alone, so
//!   the latency SLI is **time-sliced**: every rule evaluation (30s) records whether the
//!   spec's percentile (the summary quantile, the highest over all pods) is above the
//!   threshold, and the error ratio of a window is the share of such bad slices. The
//!   Deployment enables the summary with the spec's quantile
//!   (`--metrics-config=summary_latencies=true`, `summary_quantiles=...`). With both a
//!   percentile and an objective in the spec, this reads as written: "p99 at most 40ms
//!   in 99% of the time". A request-based SLI needs a histogram from a proxy in front
//!   of Triton (e.g. Istio's `istio_request_duration_milliseconds_bucket`).
//!
//! The canary `AnalysisTemplate` queries the same metrics for the new pods only (their
//! `rollouts-pod-template-hash` label, copied onto the series by the ServiceMonitor):
//! availability fails above the fast-burn page threshold, latency fails above the
//! threshold.

use super::api::{
    AlertAnnotations, AnalysisMetric, MetricProvider, PrometheusMetric, Rule, RuleGroup,
    RuleLabels, SeriesLabels,
};
use plinth_ir::{Decimal, Duration, Slo};
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// Rule evaluation interval; also the width of one latency time slice.
pub const RULE_INTERVAL: &str = "30s";
/// The Prometheus the AnalysisTemplates query: the `prometheus-operated` Service that the
/// Prometheus Operator creates, in the monitoring namespace.
pub const PROMETHEUS_ADDRESS: &str = "http://prometheus-operated.monitoring.svc:9090";
/// The AnalysisRun argument carrying the new ReplicaSet's pod-template hash.
pub const HASH_ARG: &str = "pod-template-hash";
/// The PrometheusRule of the shared SLI recording rules, one per namespace; also its
/// file's stem. It cannot collide with a service's objects: service names have no `-`,
/// and a service's PrometheusRule is `<name>-slo`.
pub const SHARED_RULE_NAME: &str = "plinth-sli";

/// Every SLI window recorded, shortest first.
pub const SLI_WINDOWS: [u64; 7] = [
    5 * Duration::MINUTE,
    30 * Duration::MINUTE,
    Duration::HOUR,
    2 * Duration::HOUR,
    6 * Duration::HOUR,
    Duration::DAY,
    3 * Duration::DAY,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// One multiwindow alert condition.
#[derive(Clone, Copy, Debug)]
pub struct BurnWindow {
    pub long: Duration,
    pub short: Duration,
    /// Share of the whole error budget the long window may burn, as a ratio.
    pub budget_share: Decimal,
    pub severity: Severity,
}

const fn ratio(units: i64, scale: u32) -> Decimal {
    Decimal { units, scale }
}

/// The SRE workbook's recommended windows and budget shares.
pub const BURN_WINDOWS: [BurnWindow; 4] = [
    BurnWindow {
        long: Duration(Duration::HOUR),
        short: Duration(5 * Duration::MINUTE),
        budget_share: ratio(2, 2),
        severity: Severity::Page,
    },
    BurnWindow {
        long: Duration(6 * Duration::HOUR),
        short: Duration(30 * Duration::MINUTE),
        budget_share: ratio(5, 2),
        severity: Severity::Page,
    },
    BurnWindow {
        long: Duration(Duration::DAY),
        short: Duration(2 * Duration::HOUR),
        budget_share: ratio(1, 1),
        severity: Severity::Ticket,
    },
    BurnWindow {
        long: Duration(3 * Duration::DAY),
        short: Duration(6 * Duration::HOUR),
        budget_share: ratio(1, 1),
        severity: Severity::Ticket,
    },
];

/// A non-negative exact fraction, for burn-rate factors (`28d / 3d` does not terminate
/// as a decimal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    num: u128,
    den: u128,
}

/// Digits printed after the point when a ratio's decimal expansion does not end.
const MAX_FRACTION_DIGITS: u32 = 6;

impl Ratio {
    pub fn new(num: u128, den: u128) -> Option<Ratio> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den);
        Some(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    fn from_decimal(d: Decimal) -> Option<Ratio> {
        let num = u128::try_from(d.units).ok()?;
        Ratio::new(num, 10u128.checked_pow(d.scale)?)
    }

    pub fn times(self, other: Ratio) -> Option<Ratio> {
        Ratio::new(
            self.num.checked_mul(other.num)?,
            self.den.checked_mul(other.den)?,
        )
    }

    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl fmt::Display for Ratio {
    /// Exact when the expansion ends within six fractional digits (`13.44`), otherwise
    /// rounded half up to six (`0.933333`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10u128.pow(MAX_FRACTION_DIGITS);
        // Round half up at the sixth digit; exact expansions are unaffected.
        let scaled = self
            .num
            .checked_mul(scale * 2)
            .and_then(|n| n.checked_add(self.den))
            .zip(self.den.checked_mul(2))
            .map(|(n, d)| n / d);
        let Some(scaled) = scaled else {
            return write!(f, "{}", self.to_f64());
        };
        let whole = scaled / scale;
        // The fraction's digits without trailing zeros, zero-padded on the left.
        let mut frac = scaled % scale;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let mut width = MAX_FRACTION_DIGITS as usize;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        write!(f, "{whole}.{frac:0width$}")
    }
}

/// The burn-rate factor for a long window: `budget_share * slo_window / long_window`.
pub fn burn_rate_factor(
    budget_share: Decimal,
    slo_window: Duration,
    long_window: Duration,
) -> Option<Ratio> {
    let share = Ratio::from_decimal(budget_share)?;
    share.times(Ratio::new(
        u128::from(slo_window.millis()),
        u128::from(long_window.millis()),
    )?)
}

/// The SLO's error budget as a ratio (`99.95%` gives `0.0005`), exactly.
pub fn error_budget(slo: &Slo) -> Option<Decimal> {
    slo.objective().shift(2).complement()
}

/// The quantile (`0.99`) a latency SLO's percentile (`99`) names.
pub fn quantile(percentile: Decimal) -> Decimal {
    percentile.shift(2)
}

/// Label selector of one service's Triton series, optionally only one ReplicaSet's.
#[derive(Clone, Debug)]
pub struct Selector {
    pub namespace: String,
    pub job: String,
}

impl Selector {
    fn render(&self, extra: &[(&str, String)]) -> String {
        let mut out = String::with_capacity(96);
        for (i, (key, value)) in [("namespace", &self.namespace), ("job", &self.job)]
            .into_iter()
            .chain(extra.iter().map(|(k, v)| (*k, v)))
            .enumerate()
        {
            out.push_str(if i == 0 { "{" } else { "," });
            out.push_str(key);
            out.push_str("=\"");
            out.push_str(value);
            out.push('"');
        }
        out.push('}');
        out
    }
}

/// The failed share of requests over `window`; `by` is empty (one series) or a grouping
/// with spaces around it, ` by (namespace, job) `.
fn availability_error_ratio(selector: &str, window: Duration, by: &str) -> String {
    format!(
        "sum{by}(rate(nv_inference_request_failure{selector}[{window}]))\n/\n(\n  sum{by}(rate(nv_inference_request_success{selector}[{window}]))\n  +\n  sum{by}(rate(nv_inference_request_failure{selector}[{window}]))\n)"
    )
}

/// The grouping of the shared SLI recordings: one series per metrics Service.
const BY_JOB: &str = " by (namespace, job) ";

fn latency_quantile(selector: &str) -> String {
    format!("max(nv_inference_request_summary_us{selector})")
}

/// `28d` rather than `4w`: SLO windows are spoken of in days.
fn days_or_duration(window: Duration) -> String {
    if window.millis() > 0 && window.millis().is_multiple_of(Duration::DAY) {
        format!("{}d", window.millis() / Duration::DAY)
    } else {
        window.to_string()
    }
}

fn threshold_micros(threshold: Duration) -> u64 {
    threshold.millis().saturating_mul(1000)
}

/// Series selector for the recorded SLI series of one service's SLO.
fn slo_series(selector: &Selector, kind: &str) -> String {
    format!(
        "{{namespace=\"{}\",job=\"{}\",plinth_slo=\"{kind}\"}}",
        selector.namespace, selector.job
    )
}

/// What the rules need to know about the service beyond the SLO itself.
pub struct RuleContext<'a> {
    /// The spec's service name (`fraud_api`), used in labels and alert names.
    pub service: &'a str,
    pub namespace: &'a str,
    /// The `team` label of the alerts.
    pub team: Arc<str>,
    pub oncall: Option<&'a str>,
    pub selector: Selector,
    /// Labels of every rule and alert of the service: the identity of its recorded SLI
    /// series (`namespace`, `job`) and the spec's service name.
    pub series: Arc<SeriesLabels>,
}

impl<'a> RuleContext<'a> {
    pub fn new(
        service: &'a str,
        namespace: &'a str,
        team: &str,
        oncall: Option<&'a str>,
        selector: Selector,
    ) -> RuleContext<'a> {
        let series = Arc::new(SeriesLabels {
            job: selector.job.clone(),
            namespace: selector.namespace.clone(),
            service: service.to_string(),
        });
        RuleContext {
            service,
            namespace,
            team: Arc::from(team),
            oncall,
            selector,
            series,
        }
    }
}

/// `fraud_api` + `availability` -> `FraudApiAvailabilityErrorBudgetBurn`.
fn alert_name(service: &str, kind: &str) -> String {
    let camel: String = service
        .split('_')
        .chain(kind.split('_'))
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{camel}ErrorBudgetBurn")
}

/// The shared SLI recording rules of one namespace: the error ratio of every window,
/// `by (namespace, job)`, for availability and (from each service's slice rule) latency;
/// a group only for the SLO kinds some service uses.
pub fn shared_sli_groups(namespace: &str, availability: bool, latency: bool) -> Vec<RuleGroup> {
    let selector = format!("{{namespace=\"{namespace}\"}}");
    let group = |kind: &'static str, expr: &dyn Fn(Duration) -> String| RuleGroup {
        name: format!("{SHARED_RULE_NAME}-{kind}"),
        interval: RULE_INTERVAL,
        rules: SLI_WINDOWS
            .map(Duration)
            .iter()
            .map(|window| Rule {
                record: Some(format!("slo:sli_error:ratio_rate{window}").into()),
                alert: None,
                expr: expr(*window),
                labels: RuleLabels {
                    series: None,
                    slo: kind,
                    alert: None,
                },
                annotations: None,
            })
            .collect(),
    };
    let mut groups = Vec::new();
    if availability {
        groups.push(group("availability", &|window| {
            availability_error_ratio(&selector, window, BY_JOB)
        }));
    }
    if latency {
        // Each slice series already carries its service's `namespace` and `job`.
        groups.push(group("latency", &|window| {
            format!("avg_over_time(slo:latency_slice_error:bool{selector}[{window}])")
        }));
    }
    groups
}

/// The rule group of one SLO: the latency slice recording, objective metadata, page and
/// ticket alerts over the shared SLI series ([`shared_sli_groups`]).
/// `None` when the objective gives no error budget (100%: the checker rejects it).
pub fn rule_group(ctx: &RuleContext<'_>, slo: &Slo) -> Option<RuleGroup> {
    let kind = slo.kind();
    let objective = slo.objective().shift(2);
    let budget = error_budget(slo)?;
    let labels = |alert| RuleLabels {
        series: Some(Arc::clone(&ctx.series)),
        slo: kind,
        alert,
    };
    let series = slo_series(&ctx.selector, kind);
    let mut rules = Vec::with_capacity(5);

    let record = |name: &'static str, expr: String| Rule {
        record: Some(name.into()),
        alert: None,
        expr,
        labels: labels(None),
        annotations: None,
    };

    if let Slo::Latency {
        percentile,
        threshold,
        ..
    } = slo
    {
        let selector = ctx
            .selector
            .render(&[("quantile", quantile(*percentile).to_string())]);
        rules.push(record(
            "slo:latency_slice_error:bool",
            format!(
                "{} > bool {}",
                latency_quantile(&selector),
                threshold_micros(*threshold)
            ),
        ));
    }
    rules.push(record(
        "slo:objective:ratio",
        format!("vector({objective})"),
    ));
    rules.push(record(
        "slo:error_budget:ratio",
        format!("vector({budget})"),
    ));

    // The page and ticket alerts share their name and annotations.
    let alert = alert_name(ctx.service, kind);
    let annotations = Arc::new(AlertAnnotations {
        summary: format!(
            "{service} is burning its {kind} error budget too fast",
            service = ctx.service
        ),
        description: format!(
            "The {kind} SLO of {service} ({percent}% over {window}) is burning its error budget at a rate that exhausts it before the window ends.",
            service = ctx.service,
            percent = slo.objective(),
            window = days_or_duration(slo.window()),
        ),
        oncall: ctx.oncall.map(str::to_string),
    });
    let budget = budget.to_string();
    // ` > (14.4 * 0.0005)`: a window pair's threshold, the same for its long and short
    // window, formatted once for both.
    let mut threshold = String::with_capacity(32);
    for severity in [Severity::Page, Severity::Ticket] {
        // Written in place: this is the largest text of the rules.
        let mut expr = String::with_capacity(640);
        for w in BURN_WINDOWS.iter().filter(|w| w.severity == severity) {
            let factor = burn_rate_factor(w.budget_share, slo.window(), w.long)?;
            threshold.clear();
            let _ = write!(threshold, " > ({factor} * {budget})");
            if !expr.is_empty() {
                expr.push_str("\nor\n");
            }
            for (window, opening) in [(w.long, "(\n  "), (w.short, "\n  and\n  ")] {
                expr.push_str(opening);
                let _ = write!(expr, "slo:sli_error:ratio_rate{window}");
                expr.push_str(&series);
                expr.push_str(&threshold);
            }
            expr.push_str("\n)");
        }
        rules.push(Rule {
            record: None,
            alert: Some(alert.clone()),
            expr,
            labels: labels(Some((severity.as_str(), Arc::clone(&ctx.team)))),
            annotations: Some(Arc::clone(&annotations)),
        });
    }

    Some(RuleGroup {
        name: format!(
            "{}-{}-slo",
            ctx.service.replace('_', "-"),
            kind.replace('_', "-")
        ),
        interval: RULE_INTERVAL,
        rules,
    })
}

/// The summary quantiles Triton must export: the usual ones plus each latency SLO's, as
/// `quantile:error` pairs with an error of a tenth of the tail (`0.99:0.001`).
pub fn summary_quantiles(slos: &[Slo]) -> String {
    let mut quantiles: Vec<Decimal> = ["0.5", "0.9", "0.99"]
        .iter()
        .filter_map(|q| Decimal::parse(q))
        .collect();
    for slo in slos {
        if let Slo::Latency { percentile, .. } = slo {
            quantiles.push(quantile(*percentile));
        }
    }
    quantiles.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    quantiles.dedup();
    quantiles
        .iter()
        .filter_map(|q| Some(format!("{q}:{}", q.complement()?.shift(1))))
        .collect::<Vec<_>>()
        .join(",")
}

/// The canary analysis for one SLO: the same SLI as the recording rules, restricted to the
/// new ReplicaSet's pods. No data (no traffic yet) counts as success.
pub fn analysis_metric(
    selector: &Selector,
    slo: &Slo,
    count: Option<u32>,
) -> Option<AnalysisMetric> {
    let hash = (
        "rollouts_pod_template_hash",
        format!("{{{{args.{HASH_ARG}}}}}"),
    );
    let (query, limit) = match slo {
        Slo::Availability { window, .. } => {
            let budget = Ratio::from_decimal(error_budget(slo)?)?;
            let page = BURN_WINDOWS.first()?;
            let factor = burn_rate_factor(page.budget_share, *window, page.long)?;
            let sel = selector.render(&[hash]);
            (
                availability_error_ratio(&sel, Duration(5 * Duration::MINUTE), ""),
                factor.times(budget)?.to_string(),
            )
        }
        Slo::Latency {
            percentile,
            threshold,
            ..
        } => {
            let sel = selector.render(&[("quantile", quantile(*percentile).to_string()), hash]);
            (
                latency_quantile(&sel),
                threshold_micros(*threshold).to_string(),
            )
        }
    };
    Some(AnalysisMetric {
        name: slo.kind().replace('_', "-"),
        interval: "1m",
        count,
        failure_limit: 1,
        success_condition: format!("len(result) == 0 || isNaN(result[0]) || result[0] <= {limit}"),
        provider: MetricProvider {
            prometheus: PrometheusMetric {
                address: PROMETHEUS_ADDRESS,
                query,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: u64) -> Duration {
        Duration(n * Duration::DAY)
    }

    fn factors(window: Duration) -> Vec<String> {
        BURN_WINDOWS
            .iter()
            .map(|w| {
                burn_rate_factor(w.budget_share, window, w.long)
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn burn_rate_factors_for_a_30_day_window_are_the_workbooks() {
        assert_eq!(factors(days(30)), ["14.4", "6", "3", "1"]);
    }

    #[test]
    fn burn_rate_factors_scale_with_the_slo_window() {
        assert_eq!(factors(days(28)), ["13.44", "5.6", "2.8", "0.933333"]);
        assert_eq!(factors(days(7)), ["3.36", "1.4", "0.7", "0.233333"]);
        assert_eq!(factors(days(90)), ["43.2", "18", "9", "3"]);
        let exact = burn_rate_factor(ratio(1, 1), days(28), days(3)).unwrap();
        assert_eq!(exact, Ratio::new(28, 30).unwrap());
        assert!((exact.to_f64() - 0.1 * 28.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ratios_print_exactly_or_rounded_half_up() {
        assert_eq!(Ratio::new(1, 8).unwrap().to_string(), "0.125");
        assert_eq!(Ratio::new(2, 3).unwrap().to_string(), "0.666667");
        assert_eq!(Ratio::new(0, 3).unwrap().to_string(), "0");
        assert_eq!(Ratio::new(1_000_001, 1).unwrap().to_string(), "1000001");
        assert!(Ratio::new(1, 0).is_none());
    }

    #[test]
    fn objectives_and_budgets_are_exact() {
        let slo = Slo::Availability {
            objective: Decimal::parse("99.95").unwrap(),
            window: days(28),
        };
        assert_eq!(slo.objective().shift(2).to_string(), "0.9995");
        assert_eq!(error_budget(&slo).unwrap().to_string(), "0.0005");
    }

    #[test]
    fn summary_quantiles_include_the_slo_percentile() {
        let slo = Slo::Latency {
            percentile: Decimal::parse("99.9").unwrap(),
            threshold: Duration(40),
            objective: Decimal::parse("99").unwrap(),
            window: days(28),
        };
        assert_eq!(
            summary_quantiles(&[slo]),
            "0.5:0.05,0.9:0.01,0.99:0.001,0.999:0.0001"
        );
        assert_eq!(summary_quantiles(&[]), "0.5:0.05,0.9:0.01,0.99:0.001");
    }

    #[test]
    fn alert_names_are_upper_camel_case() {
        assert_eq!(
            alert_name("fraud_api", "availability"),
            "FraudApiAvailabilityErrorBudgetBurn"
        );
    }
}
