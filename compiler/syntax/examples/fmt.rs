//! Format a file to stdout: `cargo run -p plinth-syntax --example fmt -- FILE`.
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: fmt FILE");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    match plinth_syntax::format(&text) {
        Some(out) => print!("{out}"),
        None => {
            for d in plinth_syntax::parse(&text).diagnostics {
                let (l, c) = plinth_syntax::line_col(&text, d.span.start as usize);
                eprintln!("{path}:{l}:{c}: {}: {}", d.code, d.message);
            }
            std::process::exit(1);
        }
    }
}
