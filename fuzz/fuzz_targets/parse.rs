//! Any bytes: parse and format must not panic, and whatever formats must format to a
//! fixed point with the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parse = plinth_syntax::parse(&text);
    if let Some(out) = plinth_syntax::format(&text) {
        let again = plinth_syntax::parse(&out);
        assert_eq!(
            plinth_syntax::dump(&again.file),
            plinth_syntax::dump(&parse.file)
        );
        assert_eq!(plinth_syntax::format(&out).as_deref(), Some(out.as_str()));
    }
});
