//! Any bytes through the whole front end: parse, resolve, check, analysis and lowering
//! for every environment. Diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_check::{Db, EnvName, diagnostics, load, platform};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let db = Db::default();
    let ws = load(&db, vec![("fuzz.plinth".to_string(), text.as_str().into())]);
    for d in diagnostics(&db, ws) {
        assert!(d.file != "fuzz.plinth" || d.span.end as usize <= text.len());
    }
    for env in ["prod", "staging"] {
        let _ = platform(&db, ws, EnvName::new(&db, env.to_string()));
    }
});
