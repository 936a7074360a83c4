//! `plinth init`: a new workspace from a golden path, which checks clean as written.

use std::path::Path;
use std::process::ExitCode;

const PROFILES: [&str; 3] = ["tier1_online", "tier2_online", "batch_standard"];

fn files(profile: &str) -> Vec<(&'static str, String)> {
    let common = r#"/// The team that owns this workspace.
team my_team {
  owner: "my-team@example.com"
  oncall: "pagerduty:my-team"
  cost_center: "CC-0000"
}

environment prod {
  tier: production
  region: eu_west_1
  namespace: "ml-prod"
}

environment staging {
  tier: staging
  region: eu_west_1
  namespace: "ml-staging"
}

/// Raw events.
source events {
  kind: kafka
  topic: "events.v1"
  owner: my_team
  classification: internal
  region: eu_west_1
  retention: 30d
  column user_id { type: string }
  column value { type: float64 }
  column ts { type: timestamp  event_time: true }
}

entity user {
  key: user_id
  type: string
}

/// Per-user activity.
feature_view user_activity {
  entity: user
  source: events
  online: true
  freshness: 1h
  schedule: "0 * * * *"
  ttl: 7d
  feature events_24h { type: int64  aggregate: count(value)  window: 24h }
  feature value_sum_24h { type: float64  aggregate: sum(value)  window: 24h }
}

/// A first model.
model my_model {
  owner: my_team
  framework: xgboost
  format: onnx
  artifact: "s3://my-models/my_model/1/model.onnx"
  version: "1.0.0"
  risk: minimal
  purpose: "Describe what the model is for"
  inputs: [user_activity.events_24h, user_activity.value_sum_24h]
  output score { dtype: float32  shape: [1] }
}
"#
    .to_string();
    let deploy = match profile {
        "batch_standard" => r#"
/// Where scores are written.
source scores {
  kind: s3
  bucket: "my-scores"
  owner: my_team
  classification: internal
  region: eu_west_1
  column user_id { type: string }
  column score { type: float32 }
}

/// Nightly scoring.
batch_job my_scoring extends std.batch_standard {
  model: my_model
  schedule: "0 2 * * *"
  input: events
  output: scores
  image: "registry.example.com/my-scoring:1.0.0"
}
"#
        .to_string(),
        p => format!(
            r#"
/// Online serving.
service my_api extends std.{p} {{
  model: my_model
  resources {{ cpu: 1  memory: 2Gi }}
  slo latency {{ percentile: 99  threshold: 100ms  objective: 99% }}
  monitor drift {{ feature: user_activity.value_sum_24h  method: psi  threshold: 0.2 }}
  env staging {{ replicas: 1..2 }}
}}
"#
        ),
    };
    vec![
        (
            "plinth.toml",
            "[policy]\npacks = [\"baseline\"]\nmax_waiver_days = 180\n\n[build]\nout = \"out\"\n"
                .to_string(),
        ),
        ("platform.plinth", common + &deploy),
    ]
}

pub fn init(dir: &Path, profile: &str) -> ExitCode {
    if !PROFILES.contains(&profile) {
        eprintln!(
            "unknown profile `{profile}`; golden paths: {}",
            PROFILES.join(", ")
        );
        return ExitCode::from(2);
    }
    if dir.join("plinth.toml").exists() {
        eprintln!(
            "`{}` already holds a workspace (plinth.toml exists)",
            dir.display()
        );
        return ExitCode::from(2);
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("cannot create `{}`: {e}", dir.display());
        return ExitCode::from(2);
    }
    for (name, text) in files(profile) {
        let text = plinth_syntax::format(&text).unwrap_or(text);
        if let Err(e) = std::fs::write(dir.join(name), text) {
            eprintln!("cannot write `{name}`: {e}");
            return ExitCode::from(2);
        }
    }
    println!(
        "created {} from the `{profile}` golden path; next: plinth check {}",
        dir.display(),
        dir.display()
    );
    ExitCode::SUCCESS
}
